"""Position and cash from fills, with duplicate fills dropped: the gate's view of inventory."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from processors.risk.recent_ids import RecentIds


class PositionLedger:
    """Cash-style accounting of one market: ``equity(mid) = balance_quote + position_base * mid``.

    The same linear formula holds for spot and for linear perpetuals (cash moves by price * size
    on every fill, so ``position * mid`` adds back the unrealised PnL). Fills are keyed by
    ``trade_id`` (unique per market): a fill replayed after a restart is not counted twice.
    Plain floats: exact enough for risk limits and much faster than Decimal.
    """

    __slots__ = ("balance_quote", "position_base", "fees_quote", "funding_quote", "fill_count", "_seen")

    def __init__(
        self,
        balance_quote: float,
        position_base: float = 0.0,
        dedup_window: int = 4096,
        seen_trade_ids: Iterable[str] = (),
    ) -> None:
        self.balance_quote = float(balance_quote)
        self.position_base = float(position_base)
        self.fees_quote = 0.0
        self.funding_quote = 0.0
        self.fill_count = 0
        self._seen = RecentIds(dedup_window, seen_trade_ids)

    def apply_fill(self, fill: Mapping[str, Any]) -> bool:
        """Apply a ``schemas/fill.avsc`` record; False (and no change) when its trade_id was already applied."""
        if not self._seen.add(str(fill["trade_id"])):
            return False
        size = float(fill["size"])
        notional = float(fill["price"]) * size
        fee = float(fill["fee_quote"])
        if fill["side"] == "BUY":
            self.position_base += size
            self.balance_quote -= notional + fee
        else:
            self.position_base -= size
            self.balance_quote += notional - fee
        self.fees_quote += fee
        self.fill_count += 1
        return True

    def apply_funding(self, amount_quote: float, event_id: str) -> bool:
        """Add a funding payment (negative = paid); False when ``event_id`` was already applied."""
        if not self._seen.add(f"funding:{event_id}"):
            return False
        self.balance_quote += amount_quote
        self.funding_quote += amount_quote
        return True

    def equity(self, mid: float) -> float:
        """Account equity in quote at ``mid``."""
        return self.balance_quote + self.position_base * mid

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "balance_quote": self.balance_quote,
            "position_base": self.position_base,
            "fees_quote": self.fees_quote,
            "funding_quote": self.funding_quote,
            "fill_count": self.fill_count,
            "seen": self._seen.to_list(),
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], dedup_window: int = 4096) -> "PositionLedger":
        """A ledger in the state ``snapshot()`` returned."""
        led = cls(snap["balance_quote"], snap["position_base"], dedup_window, snap.get("seen", ()))
        led.fees_quote = float(snap.get("fees_quote", 0.0))
        led.funding_quote = float(snap.get("funding_quote", 0.0))
        led.fill_count = int(snap.get("fill_count", 0))
        return led
