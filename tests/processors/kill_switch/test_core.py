"""The kill switch core: one cancel-all per activation, completion report, dry run, re-arm by an operator."""

from __future__ import annotations

from typing import Any

from processors.kill_switch import KillSwitch, KillSwitchConfig

INST, MARKET, T0 = "bot1", "x:BTC/USDT:USDT", 1_704_067_200_000_000


def intent(i: int, action: str = "kill_switch", producer: str = "risk_guard") -> dict[str, Any]:
    return {"event_id": f"i{i}", "event_time": T0 + i * 1000, "instance_id": INST, "market": MARKET, "producer": producer,
            "action": action, "target_base_pct": None, "regime": None, "reason": "hard_stop_transition", "metadata": {}}


def update(cid: str, status: str, t: int) -> dict[str, Any]:
    return {"event_id": f"u{cid}{status}", "event_time": T0 + t, "instance_id": INST, "market": MARKET, "client_order_id": cid,
            "exchange_order_id": None, "status": status, "side": "BUY", "price": 1.0, "size": 1.0, "filled_size": 0.0,
            "remaining_size": 1.0, "reason": ""}


def test_when_a_kill_switch_intent_arrives_then_one_cancel_all_and_a_completion_when_orders_are_gone() -> None:
    ks = KillSwitch(KillSwitchConfig(), INST, MARKET)
    ks.on_event("hb.order_update.v1", update("a", "ACK", 0))
    ks.on_event("hb.order_update.v1", update("b", "ACK", 0))
    out = ks.on_event("hb.execution_intent.v1", intent(1))
    assert [(t, r["action"]) for t, r in out] == [("hb.order.v1", "CANCEL_ALL"), ("hb.audit.v1", "cancel_all")]
    assert ks.on_event("hb.order_update.v1", update("a", "CANCELLED", 51_000)) == []
    done = ks.on_event("hb.order_update.v1", update("b", "CANCELLED", 52_000))
    assert [r["action"] for _, r in done] == ["kill_switch_completed"]
    rep = ks.report()
    assert rep["cancelled_orders"] == ["a", "b"] and rep["duration_ms"] == 51.0


def test_when_the_intent_repeats_or_the_switch_restarts_then_nothing_new_happens() -> None:
    ks = KillSwitch(KillSwitchConfig(), INST, MARKET)
    assert ks.on_event("hb.execution_intent.v1", intent(1))
    assert ks.on_event("hb.execution_intent.v1", intent(1)) == []
    assert ks.on_event("hb.execution_intent.v1", intent(2)) == []  # a new kill while one is armed: nothing new
    restored = KillSwitch.restore(KillSwitchConfig(), INST, MARKET, ks.snapshot())
    assert restored.on_event("hb.execution_intent.v1", intent(3)) == []
    # Only an operator's resume re-arms it.
    assert restored.on_event("hb.execution_intent.v1", intent(4, "resume", producer="strategy")) == []
    assert restored.on_event("hb.execution_intent.v1", intent(5)) == []
    restored.on_event("hb.execution_intent.v1", intent(6, "resume", producer="operator"))
    assert [r["action"] for _, r in restored.on_event("hb.execution_intent.v1", intent(7))][0] == "CANCEL_ALL"


def test_when_dry_run_then_only_an_audit_says_what_would_happen() -> None:
    ks = KillSwitch(KillSwitchConfig(dry_run=True, flatten=True), INST, MARKET)
    ks.on_event("hb.order_update.v1", update("a", "ACK", 0))
    out = ks.on_event("hb.execution_intent.v1", intent(1))
    assert {t for t, _ in out} == {"hb.audit.v1"} and all(r["dry_run"] for _, r in out)


def test_when_flatten_is_configured_then_a_reduce_only_order_closes_the_position() -> None:
    ks = KillSwitch(KillSwitchConfig(flatten=True), INST, MARKET)
    ks.on_event("hb.fill.v1", {"event_id": "f1", "event_time": T0, "instance_id": INST, "market": MARKET, "trade_id": "t1",
                               "side": "BUY", "price": 100.0, "size": 0.5})
    orders = [r for t, r in ks.on_event("hb.execution_intent.v1", intent(1)) if t == "hb.order.v1"]
    flat = orders[1]
    assert flat["side"] == "SELL" and flat["size"] == 0.5 and flat["reduce_only"] and flat["price"] < 100.0
