"""The gate's own book of the orders it sent: in flight, resting, being cancelled, and recently closed.

An order counts against the inventory cap from the moment the gate emits its PLACE until the venue
says it is closed *and* every fill it reported has reached the ledger. Exposure of an order:

* not closed: ``size - filled_by_fills`` (pending new, open, and pending cancel alike: a cancel in
  flight can still be beaten by a fill);
* closed (CANCELLED / FILLED / REJECTED / EXPIRED): ``filled_reported - filled_by_fills``, the part
  of the order the venue says filled but whose fills have not arrived yet.

Position comes only from fills (the ledger); ``filled_size`` of order updates only feeds the
closed-order exposure above, so an update and its fill are never both counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping

from processors.risk.recent_ids import RecentIds

PENDING_NEW = "PENDING_NEW"
OPEN = "OPEN"
PENDING_CANCEL = "PENDING_CANCEL"
CLOSED = "CLOSED"

_TERMINAL = frozenset({"CANCELLED", "FILLED", "REJECTED", "EXPIRED"})
# Relative tolerance for "nothing left" on float sizes.
_SIZE_EPS = 1e-9


@dataclass(slots=True)
class TrackedOrder:
    """One order the gate placed."""

    client_order_id: str
    side: str
    price: float
    size: float
    level: int
    decision_id: str
    placed_time: int
    status: str = PENDING_NEW
    filled_by_fills: float = 0.0
    filled_reported: float = 0.0

    @property
    def live(self) -> bool:
        """Resting or about to rest, and not being cancelled: may be reused for a quote."""
        return self.status in (PENDING_NEW, OPEN)

    @property
    def remaining(self) -> float:
        """Size still able to fill according to the fills received."""
        return max(0.0, self.size - max(self.filled_by_fills, self.filled_reported))

    @property
    def exposure(self) -> float:
        """Base size this order can still add to the position (see module doc)."""
        if self.status == CLOSED:
            return max(0.0, self.filled_reported - self.filled_by_fills)
        return max(0.0, self.size - self.filled_by_fills)


class OrderTracker:
    """Orders by client order id, plus a bounded memory of closed ids so none is ever placed twice."""

    def __init__(self, done_window: int = 4096) -> None:
        self._orders: dict[str, TrackedOrder] = {}
        self._done = RecentIds(done_window)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def __iter__(self) -> Iterator[TrackedOrder]:
        return iter(list(self._orders.values()))

    def __len__(self) -> int:
        return len(self._orders)

    def get(self, client_order_id: str) -> TrackedOrder | None:
        """The tracked order or None."""
        return self._orders.get(client_order_id)

    def known(self, client_order_id: str) -> bool:
        """True if this id is tracked now or was closed recently (placing it again would duplicate)."""
        return client_order_id in self._orders or client_order_id in self._done

    def add(self, order: TrackedOrder) -> None:
        """Track a newly placed order."""
        self._orders[order.client_order_id] = order

    def live(self, side: str) -> list[TrackedOrder]:
        """Live orders of ``side`` (pending new or open)."""
        return [o for o in self._orders.values() if o.side == side and o.live]

    def exposure(self, side: str) -> float:
        """Sum of the exposures of all tracked orders of ``side``."""
        return sum(o.exposure for o in self._orders.values() if o.side == side)

    def mark_pending_cancel(self, client_order_id: str) -> None:
        """A cancel for this order was sent."""
        o = self._orders.get(client_order_id)
        if o is not None and o.status != CLOSED:
            o.status = PENDING_CANCEL

    def on_update(self, update: Mapping[str, Any]) -> bool:
        """Apply a ``schemas/order_update.avsc`` record; False when the order is not tracked."""
        o = self._orders.get(str(update["client_order_id"]))
        if o is None:
            return False
        status = update["status"]
        reported = float(update.get("filled_size") or 0.0)
        if reported > o.filled_reported:
            o.filled_reported = reported
        if status in _TERMINAL:
            o.status = CLOSED
        elif status == "ACK" and o.status == PENDING_NEW:
            o.status = OPEN
        elif status == "PARTIALLY_FILLED" and o.status == PENDING_NEW:
            o.status = OPEN
        self._drop_if_done(o)
        return True

    def on_fill_size(self, client_order_id: str, size: float) -> bool:
        """A new (not duplicate) fill of ``size`` for this order reached the ledger; False if untracked."""
        o = self._orders.get(client_order_id)
        if o is None:
            return False
        o.filled_by_fills += size
        if o.filled_by_fills >= o.size * (1.0 - _SIZE_EPS):
            # Fully filled by fills: nothing can fill any more, whatever updates are still in flight.
            o.status = CLOSED
            o.filled_reported = max(o.filled_reported, o.filled_by_fills)
        self._drop_if_done(o)
        return True

    def _drop_if_done(self, o: TrackedOrder) -> None:
        if o.status == CLOSED and o.exposure <= o.size * _SIZE_EPS:
            del self._orders[o.client_order_id]
            self._done.add(o.client_order_id)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"orders": [asdict(o) for o in self._orders.values()], "done": self._done.to_list()}

    @classmethod
    def restore(cls, snap: Mapping[str, Any], done_window: int = 4096) -> "OrderTracker":
        """A tracker in the state ``snapshot()`` returned."""
        t = cls(done_window)
        for d in snap.get("orders", ()):
            t.add(TrackedOrder(**d))
        t._done = RecentIds(done_window, snap.get("done", ()))
        return t
