"""The kill switch of one instance: pure, idempotent, and able to say what it did and how long it took.

Inputs are ``kill_switch`` / ``resume`` intents, order updates and fills of the instance. On the
first ``kill_switch`` intent it emits one CANCEL_ALL command (and, when configured, one reduce-only
order that flattens the position), plus an audit record. It then watches order updates until no
order of the instance is open, and emits a completion audit with the count and the event-time
duration. A repeated intent (same id, or any kill while one is armed) emits nothing new; an
operator ``resume`` re-arms it. In dry-run mode it only records what it would have done.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field

from processors.clock import to_micros
from processors.desk import Origin, Output
from processors.ids import make_id
from processors.risk.recent_ids import RecentIds

ORDER_TOPIC = "hb.order.v1"
AUDIT_TOPIC = "hb.audit.v1"
_CLOSED = {"REJECTED", "CANCELLED", "EXPIRED", "FILLED"}


class KillSwitchConfig(BaseModel):
    """How the kill switch acts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dry_run: bool = Field(default=False, description="Only record what would be cancelled/flattened (audit with dry_run=true).")
    flatten: bool = Field(default=False, description="Also close the position with one reduce-only taker order.")
    flatten_slippage_bps: float = Field(default=50.0, ge=0, description="Limit of the flatten order this far through the last fill price.")
    actor: str = Field(default="kill_switch", min_length=1, description="Actor written to the audit records.")
    operator_producer: str = Field(default="operator", min_length=1, description="Producer of an operator's resume intent.")


class KillSwitch:
    """Kill switch of one instance on one market."""

    inputs = frozenset({"hb.execution_intent.v1", "hb.order_update.v1", "hb.fill.v1"})

    def __init__(self, config: KillSwitchConfig, instance_id: str, market: str) -> None:
        self.config = config
        self.instance_id = instance_id
        self.market = market
        self.open_orders: dict[str, float] = {}
        self.position_base = 0.0
        self.last_price: float | None = None
        self.armed = True
        self.active: dict[str, Any] | None = None
        self.activations = 0
        self._seen = RecentIds(1024)

    # ------------------------------------------------------------------ inputs
    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin | None = None) -> list[Output]:
        """Dispatch one input of this instance (others are ignored)."""
        if record.get("instance_id") != self.instance_id:
            return []
        if topic == "hb.execution_intent.v1":
            return self.on_intent(record)
        if topic == "hb.order_update.v1":
            return self.on_order_update(record)
        if topic == "hb.fill.v1":
            self.on_fill(record)
        return []

    def on_intent(self, intent: Mapping[str, Any]) -> list[Output]:
        """``kill_switch`` fires once while armed; an operator ``resume`` re-arms."""
        if not self._seen.add(str(intent["event_id"])):
            return []
        action = intent.get("action")
        if action == "resume" and self._is_operator(intent):
            self.armed, self.active = True, None
            return []
        if action != "kill_switch" or not self.armed:
            return []
        self.armed = False
        self.activations += 1
        t = to_micros(intent["event_time"])
        cause = str(intent["event_id"])
        self.active = {"intent_id": cause, "started_us": t, "open_at_start": sorted(self.open_orders),
                       "reason": str(intent.get("reason", "")), "completed_us": None}
        out: list[Output] = []
        details = {"intent_id": cause, "reason": self.active["reason"], "open_orders": str(len(self.open_orders)),
                   "position_base": f"{self.position_base:.8g}"}
        if not self.config.dry_run:
            out.append((ORDER_TOPIC, self._command(t, cause, "CANCEL_ALL", None, None, None, reduce_only=False)))
            flatten = self._flatten(t, cause)
            if flatten is not None:
                out.append((ORDER_TOPIC, flatten))
                details["flatten_size"] = f"{flatten['size']:.8g}"
        out.append((AUDIT_TOPIC, self._audit(t, cause, "cancel_all", "CRITICAL", details)))
        if not self.open_orders or self.config.dry_run:
            out.extend(self._complete(t, cause))
        return out

    def on_order_update(self, update: Mapping[str, Any]) -> list[Output]:
        """Track open orders; completes an active kill when none is left."""
        cid = str(update["client_order_id"])
        if update["status"] in _CLOSED:
            self.open_orders.pop(cid, None)
        else:
            self.open_orders[cid] = float(update.get("remaining_size") or 0.0)
        if self.active is not None and self.active["completed_us"] is None and not self.open_orders:
            return self._complete(to_micros(update["event_time"]), str(update["event_id"]))
        return []

    def on_fill(self, fill: Mapping[str, Any]) -> None:
        """Position for flattening (duplicate fills by trade id are ignored)."""
        if not self._seen.add(f"fill:{fill['trade_id']}"):
            return
        size = float(fill["size"])
        self.position_base += size if fill["side"] == "BUY" else -size
        self.last_price = float(fill["price"])

    # ------------------------------------------------------------------ views
    def report(self) -> dict[str, Any]:
        """What the last activation did: when, what was open, how long until everything was cancelled."""
        a = self.active or {}
        done = a.get("completed_us")
        return {
            "instance_id": self.instance_id, "market": self.market, "activations": self.activations,
            "dry_run": self.config.dry_run, "intent_id": a.get("intent_id"), "reason": a.get("reason"),
            "started_us": a.get("started_us"), "completed_us": done,
            "duration_ms": None if done is None else (done - a["started_us"]) / 1000.0,
            "cancelled_orders": a.get("open_at_start", []), "open_orders_now": sorted(self.open_orders),
        }

    # ------------------------------------------------------------------ helpers
    def _complete(self, t: int, cause: str) -> list[Output]:
        assert self.active is not None
        self.active["completed_us"] = t
        rep = self.report()
        details = {"intent_id": str(rep["intent_id"]), "cancelled": str(len(rep["cancelled_orders"])),
                   "duration_ms": f"{rep['duration_ms']:.3f}"}
        return [(AUDIT_TOPIC, self._audit(t, cause, "kill_switch_completed", "CRITICAL", details))]

    def _flatten(self, t: int, cause: str) -> dict[str, Any] | None:
        if not self.config.flatten or abs(self.position_base) < 1e-12 or self.last_price is None:
            return None
        side = "SELL" if self.position_base > 0 else "BUY"
        slip = self.config.flatten_slippage_bps / 10_000.0
        price = self.last_price * (1 - slip if side == "SELL" else 1 + slip)
        return self._command(t, cause, "PLACE", side, price, abs(self.position_base), reduce_only=True)

    def _command(self, t: int, cause: str, action: str, side: str | None, price: float | None, size: float | None,
                 reduce_only: bool) -> dict[str, Any]:
        cid = None if action == "CANCEL_ALL" else make_id("ksflat", self.instance_id, cause)
        return {"event_id": make_id("ksorder", self.instance_id, cause, action), "event_time": t, "produce_time": None,
                "instance_id": self.instance_id, "market": self.market, "action": action, "client_order_id": cid,
                "side": side, "price": price, "size": size, "post_only": False, "reduce_only": reduce_only,
                "decision_id": cause, "mid_at_decision": None, "reason": "kill_switch"}

    def _audit(self, t: int, cause: str, action: str, severity: str, details: dict[str, str]) -> dict[str, Any]:
        return {"event_id": make_id("audit", self.instance_id, cause, action), "event_time": t, "produce_time": None,
                "instance_id": self.instance_id, "market": self.market, "actor": self.config.actor, "action": action,
                "severity": severity, "dry_run": self.config.dry_run, "details": details}

    def _is_operator(self, intent: Mapping[str, Any]) -> bool:
        meta = intent.get("metadata") or {}
        return intent.get("producer") == self.config.operator_producer or bool(meta.get("operator"))

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"open_orders": self.open_orders, "position_base": self.position_base, "last_price": self.last_price,
                "armed": self.armed, "active": self.active, "activations": self.activations, "seen": self._seen.to_list()}

    @classmethod
    def restore(cls, config: KillSwitchConfig, instance_id: str, market: str, snap: Mapping[str, Any] | None) -> "KillSwitch":
        """A kill switch continuing from ``snap`` (a restored, fired switch does not fire again)."""
        ks = cls(config, instance_id, market)
        if snap:
            ks.open_orders = dict(snap["open_orders"])
            ks.position_base = float(snap["position_base"])
            ks.last_price = snap.get("last_price")
            ks.armed = bool(snap["armed"])
            ks.active = snap.get("active")
            ks.activations = int(snap.get("activations", 0))
            ks._seen = RecentIds(1024, snap.get("seen", ()))
        return ks
