"""The execution role's processor (paper venue): order commands and market data in, updates and fills out."""

from __future__ import annotations

from typing import Any, Mapping

from processors.desk import Origin, Output
from processors.execution.paper import PaperExchange
from processors.execution.venue import VenueEvents
from processors.instance import InstanceSetup

_MARKET_KINDS = {"hb.market.book.v1": "book", "hb.market.trade.v1": "trade", "hb.market.funding.v1": "funding"}


def venue_outputs(events: VenueEvents) -> list[Output]:
    """A venue's answer as records to publish: order updates, then fills."""
    return [("hb.order_update.v1", u) for u in events.order_updates] + [("hb.fill.v1", f) for f in events.fills]


class PaperExecutionProcessor:
    """Drives the paper exchange of one instance from its market's sequenced log."""

    inputs = frozenset({*_MARKET_KINDS, "hb.order.v1"})

    def __init__(self, setup: InstanceSetup, venue: PaperExchange | None = None) -> None:
        self.setup = setup
        self.venue = venue or PaperExchange(setup.paper, setup.id, setup.market)

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin) -> list[Output]:
        """Match market events against resting orders; apply order commands."""
        kind = _MARKET_KINDS.get(topic)
        if kind is not None:
            return venue_outputs(self.venue.on_market_event(kind, record))  # type: ignore[arg-type]
        if topic == "hb.order.v1":
            return venue_outputs(self.venue.on_command(record))
        return []

    def on_idle(self) -> list[Output]:
        """The market went quiet with cancels or order arrivals still pending: let event time run to them.

        Paper time only moves with market events, so without this a cancel sent into a silent feed
        (the dead-man's switch fires exactly then) would never complete. The agent calls it only
        after its input has been quiet for a while in wall time; a flowing market never takes
        this path, so runs and replays stay deterministic.
        """
        out: list[Output] = []
        while (due := self.venue.next_due) is not None:
            out += venue_outputs(self.venue.on_time(due))
        return out

    def snapshot(self) -> dict[str, Any]:
        """The paper exchange's snapshot."""
        return self.venue.snapshot()

    @classmethod
    def restore(cls, setup: InstanceSetup, snap: Mapping[str, Any] | None) -> "PaperExecutionProcessor":
        """A processor continuing from ``snap`` (a fresh account when None)."""
        if snap is None:
            return cls(setup)
        return cls(setup, PaperExchange.restore(snap, setup.paper, setup.id, setup.market))
