"""The kill_switch role: reads intents, order updates and fills directly (not through the sequencer,
so it keeps working when the rest of the desk does not), cancels everything on a ``kill_switch``
intent, writes the kill-switch report, and runs the dead-man's switch.

Paper instances are cancelled through the paper venue (a CANCEL_ALL command on ``hb.order.v1``
marked ``reason=kill_switch``). Live instances are cancelled on the exchange by this worker itself,
through the kill-switch key (the only key it loads; ``processors/kill_switch/exchange.py``).
Dead-man's switch: when an instance with open orders has had no decision and no book for
``HBOT_DEADMAN_AFTER_S`` seconds of wall time, it is cancelled too, the same way.

Metrics: the desk glue counts each ``cancel_all`` audit record as a kill-switch activation
(``streams/role_metrics.py``); the dead-man's cancel is published here, so it is counted here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import faust

from hbot.runtime import Runtime
from hbot.settings import ConfigError
from processors.desk import Origin, Output
from processors.ids import make_id
from processors.instance import InstanceSetup
from processors.kill_switch.core import KillSwitch
from processors.kill_switch.exchange import ExchangeHand
from streams import role_metrics
from streams.desk_agent import DeskRole, register_desk_role

log = logging.getLogger(__name__)

_ACTIVITY = ("hb.quote.v1", "hb.market.book.v1")


class _Watched(KillSwitch):
    """The kill switch plus the wall time of the instance's last decision or book (for the dead-man's switch)."""

    inputs = KillSwitch.inputs | set(_ACTIVITY)
    last_activity: float | None = None

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin | None = None) -> list[Output]:
        if topic in _ACTIVITY:
            self.last_activity = time.monotonic()  # agent-side wall clock: the dead-man's switch is about wall time
            return []
        return super().on_event(topic, record, origin)


class _LiveWatched(_Watched):
    """A live instance's kill switch: its commands go to the exchange through its own key, not to the topic."""

    blocking = True  # exchange calls: the desk glue runs them off the event loop
    hand: ExchangeHand
    deadman_s: float = 0.0

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin | None = None) -> list[Output]:
        return self.hand.execute(super().on_event(topic, record, origin))

    def poll(self) -> list[Output]:
        """Resend cancels a transient exchange failure left unsent; keep the exchange's own dead-man's switch armed."""
        now = time.monotonic()
        active = self.last_activity is not None and now - self.last_activity <= self.deadman_s
        return self.hand.retry() + self.hand.heartbeat(self.deadman_s, active, now)


def _wall_us() -> int:
    return time.time_ns() // 1000


def _builder(rt: Runtime) -> tuple[Any, float | None]:
    """The role's processor builder, and the poll interval (None without live instances)."""
    live = [s for s in rt.instances if s.instance.execution == "live"]
    hands: dict[str, Callable[[], ExchangeHand]] = {}
    if live:
        from processors.execution.keys import load_key_for_worker
        from processors.execution.live import CcxtVenue, build_exchange
        from processors.execution.live.config import live_configs

        configs = live_configs(live)
        try:
            key = load_key_for_worker("kill_switch")
        except ConfigError as exc:
            raise ConfigError(f"instances {[s.id for s in live]} trade live and the kill switch cancels them with its own key, "
                              f"but: {exc}") from None
        for s in live:
            cfg = configs[s.id].model_copy(update={"cancel_all_scope": "symbol"})
            ex = build_exchange(cfg, key)
            hands[s.id] = lambda s=s, cfg=cfg, ex=ex: ExchangeHand(CcxtVenue(ex, cfg, s.id, s.market, key=key),
                                                                   s.kill_switch.actor, _wall_us)
        log.info("kill switch: live instances %s are cancelled on the exchange with the %s key", sorted(hands), key.role)

    def build(setup: InstanceSetup, snap: Mapping[str, Any] | None) -> _Watched:
        if setup.id not in hands:
            return _Watched.restore(setup.kill_switch, setup.id, setup.market, snap)  # type: ignore[return-value]
        ks: _LiveWatched = _LiveWatched.restore(setup.kill_switch, setup.id, setup.market, snap)  # type: ignore[assignment]
        ks.hand = hands[setup.id]()
        ks.deadman_s = rt.settings.deadman_after_s
        return ks

    return build, (1.0 if live else None)


def register(app: faust.App, rt: Runtime) -> None:
    """Add the kill-switch agent, its report writer and the dead-man's timer."""
    reports = rt.settings.home / "reports" / "kill_switch"
    build, poll_s = _builder(rt)
    role = register_desk_role(app, rt.serde, rt.instances, "kill_switch", build, rt.settings.checkpoint_every,
                              direct_topics=("hb.execution_intent.v1", "hb.order_update.v1", "hb.fill.v1", *_ACTIVITY),
                              poll_every_s=poll_s)

    def write_report(setup: InstanceSetup, outputs: list[tuple[str, dict[str, Any]]]) -> None:
        for name, rec in outputs:
            if name == "hb.audit.v1" and rec["action"] in ("cancel_all", "kill_switch_completed"):
                ks = role.processor(setup.id)
                report = ks.report() if ks is not None else {}  # type: ignore[attr-defined]
                reports.mkdir(parents=True, exist_ok=True)
                path = reports / f"{setup.id}-{report.get('intent_id')}.json"
                path.write_text(json.dumps(report, indent=2, default=str))
                log.warning("kill switch %s for %s: report %s", rec["action"], setup.id, path)

    role.on_outputs.append(write_report)
    deadman_s = rt.settings.deadman_after_s
    fired: set[str] = set()
    orders = app.topic("hb.order.v1", value_serializer="raw", key_serializer="raw")
    audit = app.topic("hb.audit.v1", value_serializer="raw", key_serializer="raw")

    @app.timer(1.0, name="hbot.kill_switch.deadman")
    async def deadman() -> None:
        if deadman_s <= 0:
            return
        now = time.monotonic()
        for slot in list(role.slots.values()):
            ks: _Watched = slot.proc  # type: ignore[assignment]
            silent = ks.last_activity is not None and now - ks.last_activity > deadman_s
            if not silent:
                fired.discard(slot.setup.id)
                continue
            if not ks.open_orders or slot.setup.id in fired:
                continue
            fired.add(slot.setup.id)
            await _deadman_cancel(rt, role, slot.setup, ks, now - ks.last_activity, orders, audit)


async def _deadman_cancel(rt: Runtime, role: DeskRole, setup: InstanceSetup, ks: KillSwitch, silent_s: float, orders: Any,
                         audit: Any) -> None:
    now_us = time.time_ns() // 1000  # no event drives this: the silence itself is the cause
    cause = make_id("deadman", setup.id, now_us)
    cmd = {"event_id": make_id("ksorder", setup.id, cause), "event_time": now_us, "produce_time": now_us,
           "instance_id": setup.id, "market": setup.market, "action": "CANCEL_ALL", "client_order_id": None, "side": None,
           "price": None, "size": None, "post_only": False, "reduce_only": False, "decision_id": cause,
           "mid_at_decision": None, "reason": "deadman_switch"}
    rec = {"event_id": make_id("audit", setup.id, cause), "event_time": now_us, "produce_time": now_us, "instance_id": setup.id,
           "market": setup.market, "actor": "kill_switch", "action": "deadman_cancel_all", "severity": "CRITICAL",
           "dry_run": ks.config.dry_run, "details": {"silent_s": f"{silent_s:.1f}", "open_orders": str(len(ks.open_orders))}}
    published: list[tuple[str, dict[str, Any]]] = []
    if not ks.config.dry_run:
        if isinstance(ks, _LiveWatched):  # on the exchange, with the kill-switch key; its audit says what happened
            assert role.call is not None
            for name, out in await role.call(ks, ks.hand.execute, [("hb.order.v1", cmd)]):
                await audit.send(key=setup.id.encode(), value=rt.serde.encode("audit", {**out, "produce_time": now_us}, name))
                published.append((name, out))
        else:
            await orders.send(key=setup.market.encode(), value=rt.serde.encode("order", cmd, "hb.order.v1"))
            published.append(("hb.order.v1", cmd))
    await audit.send(key=setup.id.encode(), value=rt.serde.encode("audit", rec, "hb.audit.v1"))
    published.append(("hb.audit.v1", rec))
    role_metrics.record_published(setup, published, "deadman", now_us / 1e6)  # one activation, and its order
    log.warning("dead-man's switch: %s silent for %.0f s with %d open orders: cancel all", setup.id, silent_s, len(ks.open_orders))
