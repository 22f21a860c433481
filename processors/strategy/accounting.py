"""Position and PnL from our own fills: position, average cost, realized PnL, fees, equity.

One cash-and-position model serves spot and linear perps: ``cash`` starts at the allocated capital
(``total_amount_quote``), a BUY of ``q`` at ``p`` moves ``-q*p`` from cash (SELL ``+q*p``) and every
fee is paid from cash, so ``equity = cash + position * mid``; for a linear perp this equals
collateral + realized PnL - fees + unrealized PnL. Realized PnL is gross of fees (fees are reported
separately) and, like fees and turnover, counts for the current UTC day (``roll_day`` resets it).
Funding settlements are not booked here (reconciliation compares with the exchange).
"""

from __future__ import annotations

from typing import Any

_FLAT_EPS = 1e-12


class PositionBook:
    """Signed net position with average entry cost, daily realized PnL, fees and turnover."""

    __slots__ = ("position", "avg_cost", "cash", "realized_pnl_day", "fees_day", "turnover_day_quote", "fills_day")

    def __init__(self, starting_cash: float) -> None:
        self.position = 0.0
        self.avg_cost = 0.0
        self.cash = float(starting_cash)
        self.realized_pnl_day = 0.0
        self.fees_day = 0.0
        self.turnover_day_quote = 0.0
        self.fills_day = 0

    def apply_fill(self, side: str, price: float, size: float, fee_quote: float) -> float:
        """Book one fill; returns the PnL it realized (gross of fees)."""
        signed = size if side == "BUY" else -size
        pos = self.position
        realized = 0.0
        if pos == 0.0 or (pos > 0.0) == (signed > 0.0):
            new_pos = pos + signed
            self.avg_cost = (abs(pos) * self.avg_cost + size * price) / abs(new_pos)
        else:
            closed = min(size, abs(pos))
            realized = closed * (price - self.avg_cost) * (1.0 if pos > 0.0 else -1.0)
            new_pos = pos + signed
            if abs(new_pos) < _FLAT_EPS:
                new_pos = 0.0
                self.avg_cost = 0.0
            elif (new_pos > 0.0) != (pos > 0.0):
                self.avg_cost = price  # flipped: the remainder opened at this fill's price
        self.position = new_pos
        self.cash -= signed * price + fee_quote
        self.realized_pnl_day += realized
        self.fees_day += fee_quote
        self.turnover_day_quote += size * price
        self.fills_day += 1
        return realized

    def equity(self, mid: float) -> float:
        """Cash plus the position marked at ``mid``."""
        return self.cash + self.position * mid

    def unrealized(self, mid: float) -> float:
        """PnL of the open position at ``mid``."""
        return self.position * (mid - self.avg_cost) if self.position != 0.0 else 0.0

    def base_pct(self, mid: float) -> float:
        """Signed position value as a fraction of equity (0 when equity is not positive)."""
        equity = self.equity(mid)
        return self.position * mid / equity if equity > 0.0 else 0.0

    def roll_day(self) -> None:
        """Start a new UTC day: daily realized PnL, fees, turnover and fill count go back to 0."""
        self.realized_pnl_day = 0.0
        self.fees_day = 0.0
        self.turnover_day_quote = 0.0
        self.fills_day = 0

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {name: getattr(self, name) for name in self.__slots__}

    def restore(self, state: dict[str, Any]) -> None:
        """Load a state produced by ``snapshot``."""
        for name in self.__slots__:
            setattr(self, name, int(state[name]) if name == "fills_day" else float(state[name]))
