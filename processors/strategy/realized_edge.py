"""Realized fill edge: EWMA, adverse-fill counter and spread widening [P1-2].

``fill_edge_bps = (fill_price - mid_ref) * side_sign / mid_ref * 10_000`` with ``side_sign = -1`` for a
BUY and ``+1`` for a SELL, so buying below mid or selling above it is a positive edge. The EWMA
(alpha 0.05, a ~20-fill window) starts at the first fill's edge.

After each fill: if the EWMA is below ``-cost_floor_bps`` the adverse counter grows by one; if it is
above ``-cost_floor_bps * 0.5`` the counter resets to 0; in between it holds (hysteresis). Widening
(``adverse_fill_spread_multiplier`` on spread_min and spread_max) is active while the counter is at
or above ``adverse_fill_count_threshold``. The reset test is also applied at each decision, since
the cost floor moves between fills. The cost floor used is the one of the latest decision.

The tracker also keeps the last ``kelly_window`` EWMA values: their rolling standard deviation is
the ``variance_bps`` of ROAD-4's Kelly formula.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

FILL_EDGE_EWMA_ALPHA = 0.05
"""The spec's EWMA alpha (slow: ~20-fill window)."""


def fill_edge_bps(side: str, fill_price: float, mid_ref: float) -> float:
    """Edge of one fill against ``mid_ref`` in bps, positive when the fill was better than mid."""
    side_sign = -1.0 if side == "BUY" else 1.0
    return (fill_price - mid_ref) * side_sign / mid_ref * 10_000.0


class FillEdgeTracker:
    """EWMA of fill edges, the adverse-fill counter and the rolling EWMA window for Kelly sizing."""

    __slots__ = ("count_threshold", "ewma", "observations", "adverse_count", "_window")

    def __init__(self, count_threshold: int, kelly_window: int) -> None:
        self.count_threshold = int(count_threshold)
        self.ewma: float | None = None
        self.observations = 0
        self.adverse_count = 0
        self._window: deque[float] = deque(maxlen=int(kelly_window))

    def on_fill(self, edge_bps: float, cost_floor_bps: float) -> None:
        """Fold one fill's edge into the EWMA and update the adverse counter."""
        if self.ewma is None:
            self.ewma = edge_bps
        else:
            self.ewma = FILL_EDGE_EWMA_ALPHA * edge_bps + (1.0 - FILL_EDGE_EWMA_ALPHA) * self.ewma
        self.observations += 1
        self._window.append(self.ewma)
        if self.ewma < -cost_floor_bps:
            self.adverse_count += 1
        elif self.ewma > -cost_floor_bps * 0.5:
            self.adverse_count = 0

    def refresh(self, cost_floor_bps: float) -> None:
        """Reset the counter when the EWMA has recovered above half the (current) cost floor."""
        if self.ewma is not None and self.ewma > -cost_floor_bps * 0.5:
            self.adverse_count = 0

    @property
    def adverse_active(self) -> bool:
        """True while spreads are widened for adverse fills."""
        return self.adverse_count >= self.count_threshold

    def ewma_std(self) -> float | None:
        """Population standard deviation of the recent EWMA values, or None with fewer than 2."""
        n = len(self._window)
        if n < 2:
            return None
        mean = math.fsum(self._window) / n
        var = math.fsum((x - mean) * (x - mean) for x in self._window) / n
        return math.sqrt(var)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "ewma": self.ewma,
            "observations": self.observations,
            "adverse_count": self.adverse_count,
            "window": list(self._window),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a state produced by ``snapshot``."""
        self.ewma = None if state["ewma"] is None else float(state["ewma"])
        self.observations = int(state["observations"])
        self.adverse_count = int(state["adverse_count"])
        self._window.clear()
        self._window.extend(float(x) for x in state["window"])
