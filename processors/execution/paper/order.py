"""One order resting (or about to rest) on the paper exchange."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(slots=True)
class PaperOrder:
    """State of a paper order. Times are event-time microseconds."""

    client_order_id: str
    exchange_order_id: str
    side: str
    price: float | None  # None: market order
    size: float
    post_only: bool
    reduce_only: bool
    order_time: int  # event time of the PLACE command (fill.order_time)
    active_time: int  # when it reaches the book (order_time/receive + latency)
    seq: int  # arrival sequence: time priority among our own orders
    mid_at_order: float | None
    filled: float = 0.0
    active: bool = False
    queue_ahead: float = 0.0  # others' size ahead of us at our price level
    cancel_time: int | None = None
    cancel_reason: str = ""
    updates: int = 0  # order_update records emitted (for deterministic ids)
    fills: int = 0  # fills so far (for deterministic taker fill ids)

    @property
    def remaining(self) -> float:
        """Size not filled yet."""
        return self.size - self.filled

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PaperOrder":
        """Inverse of ``to_dict``."""
        return cls(**d)
