"""Per-market trading rules (tick, lot, minimums) and the rounding the gate applies with them."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, PrivateAttr

from processors.config import FrozenConfig
from processors.decimals import step_decimals

# Guards floor/ceil against binary noise: 0.3 / 0.1 == 2.9999999999999996 must count as 3 ticks.
_RATIO_EPS = 1e-9


class MarketRules(FrozenConfig):
    """Exchange rules of one market. All sizes in base currency, prices and notionals in quote."""

    id_kind: ClassVar[str] = "rules"

    tick_size: float = Field(gt=0, description="Price increment.")
    lot_size: float = Field(gt=0, description="Size increment.")
    min_size: float = Field(default=0.0, ge=0, description="Smallest order size accepted.")
    min_notional: float = Field(default=0.0, ge=0, description="Smallest price * size accepted.")

    _price_decimals: int = PrivateAttr(default=0)
    _size_decimals: int = PrivateAttr(default=0)

    def model_post_init(self, __context: object) -> None:
        # Rounding n * step to the step's decimals removes float residue (65000.100000000006).
        self._price_decimals = step_decimals(self.tick_size) + 2
        self._size_decimals = step_decimals(self.lot_size) + 2

    def round_price(self, price: float, side: str) -> float:
        """Round to the tick away from the other side: a BUY rounds down, a SELL up (never more aggressive)."""
        ratio = price / self.tick_size
        n = math.floor(ratio + _RATIO_EPS) if side == "BUY" else math.ceil(ratio - _RATIO_EPS)
        return round(n * self.tick_size, self._price_decimals)

    def round_size(self, size: float) -> float:
        """Round a size down to the lot (never more than asked)."""
        if size <= 0.0:
            return 0.0
        n = math.floor(size / self.lot_size + _RATIO_EPS)
        return round(n * self.lot_size, self._size_decimals)

    def rejection(self, price: float, size: float) -> str | None:
        """Why an order of ``size`` at ``price`` cannot be sent (``below_min_size`` / ``below_min_notional``), or None."""
        if size <= 0.0 or size < self.min_size * (1.0 - _RATIO_EPS):
            return "below_min_size"
        if price * size < self.min_notional * (1.0 - _RATIO_EPS):
            return "below_min_notional"
        return None
