"""Live execution through ccxt: the venue (``venue.py``), its config, and the exchange builder."""

from processors.execution.live.config import (
    LiveVenueConfig,
    RetryPolicy,
    live_venue_config,
)
from processors.execution.live.exchange import build_exchange
from processors.execution.live.venue import CcxtVenue, OrphanReport, VenueError

__all__ = ["CcxtVenue", "LiveVenueConfig", "OrphanReport", "RetryPolicy", "VenueError", "build_exchange", "live_venue_config"]
