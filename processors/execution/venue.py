"""The one interface paper and live execution implement; config picks one per instance.

A venue takes ``schemas/order.avsc`` commands and market events and answers with what happened:
``schemas/order_update.avsc`` and ``schemas/fill.avsc`` records (without ``produce_time``) plus
ledger entries (funding payments). Records carry deterministic ``event_id`` s so that a replay
after a restart can be deduplicated downstream.

The paper exchange answers synchronously from its matching model. A live adapter answers with
what the exchange returned for the request (an ACK or REJECTED), and later updates/fills through
the same ``VenueEvents`` when it polls or streams; ``on_market_event`` is a no-op for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol, runtime_checkable

MarketEventKind = Literal["book", "trade", "funding"]


@dataclass(slots=True)
class VenueEvents:
    """Records produced by one venue call, in the order they happened."""

    order_updates: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: "VenueEvents") -> None:
        """Append ``other``'s records after these."""
        self.order_updates.extend(other.order_updates)
        self.fills.extend(other.fills)
        self.ledger.extend(other.ledger)
        self.notes.extend(other.notes)

    def __bool__(self) -> bool:
        return bool(self.order_updates or self.fills or self.ledger)


@runtime_checkable
class ExecutionVenue(Protocol):
    """Where orders of one instance on one market go (paper or live)."""

    instance_id: str
    market: str
    is_paper: bool

    def on_command(self, command: Mapping[str, Any]) -> VenueEvents:
        """Dispatch an order command (PLACE / CANCEL / CANCEL_ALL) to the methods below."""
        ...

    def place(self, command: Mapping[str, Any]) -> VenueEvents:
        """Place the order of a PLACE command; idempotent on ``client_order_id``."""
        ...

    def cancel(self, command: Mapping[str, Any]) -> VenueEvents:
        """Cancel the order named by a CANCEL command."""
        ...

    def cancel_all(self, command: Mapping[str, Any]) -> VenueEvents:
        """Cancel every open order of this instance on this market."""
        ...

    def on_market_event(self, kind: MarketEventKind, record: Mapping[str, Any]) -> VenueEvents:
        """A market book / trade / funding record (drives paper matching; live ignores it)."""
        ...

    def open_orders(self) -> list[dict[str, Any]]:
        """Open orders as ``{"client_order_id", "side", "price", "size", "filled_size", ...}`` dicts."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state to persist (a restart continues from it)."""
        ...


def dispatch_command(venue: ExecutionVenue, command: Mapping[str, Any]) -> VenueEvents:
    """Route a ``schemas/order.avsc`` command to the venue's place/cancel/cancel_all (paper and live share this)."""
    if command.get("instance_id") != venue.instance_id or command.get("market") != venue.market:
        return VenueEvents(notes=["command_for_other_instance"])
    action = command.get("action")
    if action == "PLACE":
        return venue.place(command)
    if action == "CANCEL":
        return venue.cancel(command)
    if action == "CANCEL_ALL":
        return venue.cancel_all(command)
    return VenueEvents(notes=[f"unknown_action:{action}"])
