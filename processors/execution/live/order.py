"""What the live venue remembers about one of its orders (persisted in ``CcxtVenue.snapshot``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

# NEW: sent, no answer yet (or the answer was lost); OPEN: acknowledged by the exchange;
# UNKNOWN: the place request failed in a way that does not tell whether the exchange has it.
LiveState = Literal["NEW", "OPEN", "UNKNOWN"]


@dataclass(slots=True)
class LiveOrder:
    """One order of this venue that is not closed yet."""

    client_order_id: str
    side: str
    price: float | None
    size: float
    post_only: bool
    reduce_only: bool
    order_time: int
    mid_at_order: float | None
    exchange_order_id: str | None = None
    state: LiveState = "NEW"
    filled: float = 0.0  # best known cumulative fill: max of the exchange's order view and our fills
    filled_by_fills: float = 0.0  # sum of the fill records emitted for this order
    cancel_reason: str | None = None  # set when we asked for a cancel
    cancel_unsent: bool = False  # the cancel request itself failed; the next poll sends it again
    last_error: str = ""

    @property
    def remaining(self) -> float:
        """Size not filled yet."""
        return max(0.0, self.size - self.filled)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LiveOrder":
        """Inverse of ``to_dict``."""
        return cls(**d)
