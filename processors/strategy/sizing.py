"""Order size per quote level, with optional fractional-Kelly sizing [ROAD-4].

Configured size (the desk's runtime sizing): ``equity * quote_size_pct`` of the regime, clipped to
``[min_order_quote, max_order_quote]``.

Kelly size, when ``use_kelly_sizing`` is on and at least ``kelly_min_observations`` (20) fills were
seen: ``(fill_edge_ewma_bps / variance_bps) * kelly_fraction * equity`` clipped to
``[min_order_quote, max_order_quote]``, where ``variance_bps`` is, as the spec defines it, the
rolling standard deviation of ``fill_edge_ewma_bps`` over the last ``kelly_window`` (50) fills. A
non-positive edge clips to the minimum. Below 20 observations, or while that deviation is still 0,
the configured size applies. ROAD-4 writes the result to the desk's ``total_amount_quote`` variable,
which there was the per-tick order budget the runtime recomputed; here that quantity is the
per-level order notional and ``total_amount_quote`` is the allocated capital (see the config).
"""

from __future__ import annotations

import math

from processors.strategy.config import EppV24Config
from processors.strategy.realized_edge import FillEdgeTracker


def configured_order_quote(equity_quote: float, quote_size_pct: float, config: EppV24Config) -> float:
    """The regime's per-level notional, clipped to the order limits."""
    return _clip_order(equity_quote * quote_size_pct, config)


def kelly_order_quote(ewma_bps: float, std_bps: float, equity_quote: float, config: EppV24Config) -> float:
    """Fractional-Kelly per-level notional, clipped to the order limits."""
    return _clip_order(ewma_bps / std_bps * config.kelly_fraction * equity_quote, config)


def order_quote(
    equity_quote: float, quote_size_pct: float, tracker: FillEdgeTracker, config: EppV24Config
) -> tuple[float, bool]:
    """Per-level order notional and whether Kelly sizing produced it."""
    if config.use_kelly_sizing and tracker.observations >= config.kelly_min_observations and tracker.ewma is not None:
        std = tracker.ewma_std()
        if std is not None and std > 1e-12:
            return kelly_order_quote(tracker.ewma, std, equity_quote, config), True
    return configured_order_quote(equity_quote, quote_size_pct, config), False


def _clip_order(notional: float, config: EppV24Config) -> float:
    if math.isnan(notional):
        return config.min_order_quote
    return max(config.min_order_quote, min(notional, config.max_order_quote))
