"""The kill switch's own hand on a live exchange: its commands sent through the kill-switch key.

For a paper instance the kill switch publishes its CANCEL_ALL (and flatten order) on
``hb.order.v1`` for the paper venue. For a live instance it must not depend on the execution
worker or its trade key: :class:`ExchangeHand` sends the same commands through a ``CcxtVenue``
built with the kill-switch key, and publishes, instead of the commands, one ``hb.audit.v1``
record per command saying what the exchange answered. A cancel that failed on a transient error
is sent again by :meth:`ExchangeHand.retry` (the agent's poll timer). The execution worker then
sees its orders gone at its next poll and publishes their CANCELLED updates, which complete the
kill in the core.

Where ccxt exposes the exchange's own dead-man's switch (``cancelAllOrdersAfter``; Bybit, Kraken
Futures, ...; not Bitget), :meth:`ExchangeHand.heartbeat` keeps it armed while the instance is
active: if the desk's decisions and book stop, or the whole cluster does, the exchange itself
cancels every order ``deadman_after_s`` later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from processors.desk import Output
from processors.execution.venue import VenueEvents
from processors.ids import make_id
from processors.kill_switch.core import AUDIT_TOPIC, ORDER_TOPIC

if TYPE_CHECKING:  # a paper-only kill switch never loads ccxt
    from processors.execution.live.venue import CcxtVenue

_MAX_DETAIL_CHARS = 2000
log = logging.getLogger(__name__)


class ExchangeHand:
    """Executes a live instance's kill-switch commands on the exchange (see the module doc)."""

    def __init__(self, venue: "CcxtVenue", actor: str, now_us: Callable[[], int]) -> None:
        self.venue = venue
        self.actor = actor
        self._now_us = now_us
        self._armed_at_s: float | None = None

    def execute(self, outputs: list[Output]) -> list[Output]:
        """``outputs`` of the core with each order command sent to the exchange and replaced by its audit."""
        out: list[Output] = []
        for name, rec in outputs:
            if name != ORDER_TOPIC:
                out.append((name, rec))
                continue
            ev = self.venue.on_command(rec)
            out.append((AUDIT_TOPIC, self._audit(rec, ev, f"exchange_{str(rec['action']).lower()}")))
        return out

    def retry(self) -> list[Output]:
        """Send again what a transient failure left unsent; an audit of the outcome when something was sent."""
        if not self.venue.has_pending:
            return []
        ev = self.venue.send_pending()
        cmd = {"event_id": make_id("ksretry", self.venue.instance_id, self._now_us()), "action": "CANCEL_ALL"}
        return [(AUDIT_TOPIC, self._audit(cmd, ev, "exchange_cancel_all_retry"))]

    def heartbeat(self, deadman_s: float, active: bool, now_s: float) -> list[Output]:
        """Re-arm the exchange's cancel-all-after timer (every third of ``deadman_s``) while ``active``.

        Inactive (no decision and no book for ``deadman_s``): not re-armed, so the exchange cancels.
        The first arming is audited; a failed one is logged and tried at the next call.
        """
        if deadman_s <= 0 or not active or not self.venue.has_cancel_all_after:
            return []
        if self._armed_at_s is not None and now_s - self._armed_at_s < deadman_s / 3:
            return []
        error = self.venue.cancel_all_after(int(deadman_s * 1000))
        if error is not None:
            log.warning("kill switch %s: the exchange's cancel-all-after was not armed: %s", self.venue.instance_id, error)
            return []
        first = self._armed_at_s is None
        self._armed_at_s = now_s
        if not first:
            return []
        t = self._now_us()
        return [(AUDIT_TOPIC, {
            "event_id": make_id("audit", self.venue.instance_id, "cancel_all_after", t), "event_time": t, "produce_time": None,
            "instance_id": self.venue.instance_id, "market": self.venue.market, "actor": self.actor,
            "action": "exchange_cancel_all_after_armed", "severity": "INFO", "dry_run": False,
            "details": {"timeout_ms": str(int(deadman_s * 1000)), "key": "kill_switch"}})]

    def _audit(self, cmd: dict[str, Any], ev: VenueEvents, action: str) -> dict[str, Any]:
        failed = [n for n in ev.notes if "failed" in n]
        cancelled = [n.split(":", 1)[1] for n in ev.notes if n.startswith("cancelled_foreign_order:")]
        cancelled += [str(u["client_order_id"]) for u in ev.order_updates if u.get("status") == "CANCELLED"]
        t = self._now_us()  # what the exchange answered, observed now: wall clock at the venue boundary
        details = {"command_id": str(cmd["event_id"]), "ok": str(not failed).lower(), "cancelled": str(len(cancelled)),
                   "orders": ",".join(cancelled)[:_MAX_DETAIL_CHARS], "notes": "; ".join(ev.notes)[:_MAX_DETAIL_CHARS],
                   "key": "kill_switch"}
        return {"event_id": make_id("audit", self.venue.instance_id, cmd["event_id"], action), "event_time": t,
                "produce_time": None, "instance_id": self.venue.instance_id, "market": self.venue.market,
                "actor": self.actor, "action": action, "severity": "CRITICAL" if failed else "WARNING",
                "dry_run": False, "details": details}
