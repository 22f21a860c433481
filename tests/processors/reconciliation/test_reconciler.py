"""The reconciliation core: fills booked once, drift graded against the exchange, state that survives a restart."""

from __future__ import annotations

import json

import pytest

from processors.reconciliation.core import ReconciliationConfig, Reconciler
from tests.processors.risk.risk_scripts import INSTANCE, MARKET, S, T0, assert_valid, fill

CFG = ReconciliationConfig(warning_pct=0.002, critical_pct=0.01)


def _booked(*fills: dict) -> Reconciler:
    r = Reconciler(CFG, INSTANCE, MARKET)
    for f in fills:
        assert r.on_event("hb.fill.v1", f) == []
    return r


def test_when_fills_arrive_then_position_and_quote_flow_follow_them_and_a_replay_counts_once() -> None:
    buy = fill(T0, "c1", "t1", "BUY", 100.0, 2.0, fee=0.04)
    sell = fill(T0 + S, "c2", "t2", "SELL", 101.0, 0.5, fee=0.01)

    r = _booked(buy, sell, buy)  # the buy again: an at-least-once replay

    assert r.position_base == pytest.approx(1.5) and r.fills == 2
    assert r.quote_flow == pytest.approx(-200.0 - 0.04 + 50.5 - 0.01)
    assert r.on_event("hb.order_update.v1", {"event_id": "u1"}) == []  # not an input


@pytest.mark.parametrize(("exchange", "status"), [
    (1.5, "ok"),           # agrees
    (1.501, "ok"),         # 0.07 % off
    (1.505, "warning"),    # 0.33 %
    (1.6, "critical"),     # 6.25 %: a fill the desk never saw
    (0.0, "critical"),     # the exchange is flat: positions closed outside the desk
])
def test_when_compared_with_the_exchange_then_the_drift_is_graded(exchange: float, status: str) -> None:
    r = _booked(fill(T0, "c1", "t1", "BUY", 100.0, 1.5))

    rec = r.compare(T0 + 60 * S, exchange, exchange_balance_quote=9_850.0, initial_balance_quote=10_000.0, source="test")

    assert rec["status"] == status
    assert rec["drift_base"] == pytest.approx(exchange - 1.5)
    assert rec["drift_pct"] == pytest.approx((exchange - 1.5) / max(abs(exchange), 1.5))
    assert rec["internal_balance_quote"] == pytest.approx(10_000.0 - 150.0)
    assert_valid("reconciliation", rec)


def test_when_both_sides_are_flat_or_tiny_then_the_reference_is_the_floor_not_zero() -> None:
    r = _booked()

    rec = r.compare(T0, 0.0005)

    assert rec["drift_pct"] == pytest.approx(0.0005 / CFG.min_reference_base) and rec["status"] == "critical"
    assert r.compare(T0, 0.0)["status"] == "ok" and r.compare(T0, 0.0)["internal_balance_quote"] is None


def test_when_restored_from_its_snapshot_then_it_continues_and_still_ignores_known_fills() -> None:
    first = fill(T0, "c1", "t1", "BUY", 100.0, 1.0)
    r = _booked(first, fill(T0 + S, "c2", "t2", "SELL", 100.5, 0.25))

    again = Reconciler.restore(CFG, INSTANCE, MARKET, json.loads(json.dumps(r.snapshot())))
    again.on_event("hb.fill.v1", first)
    again.on_event("hb.fill.v1", fill(T0 + 2 * S, "c3", "t3", "BUY", 100.2, 0.5))

    assert again.position_base == pytest.approx(1.25) and again.fills == 3


def test_when_thresholds_are_inverted_then_the_config_is_refused() -> None:
    with pytest.raises(ValueError, match="warning_pct"):
        ReconciliationConfig(warning_pct=0.05, critical_pct=0.01)
