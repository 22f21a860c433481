"""One reconciliation round: the desk's fills ledger against the (faked) Bitget account, through the real ccxt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hbot.settings import InstanceConfig
from processors.instance import instance_setup
from processors.reconciliation.agent import reconcile_once
from processors.reconciliation.core import Reconciler
from tests.processors.execution.live.fake_bitget import FakeBitget, make_exchange, unavailable
from tests.processors.risk.risk_scripts import T0, assert_valid

SETUP = instance_setup(InstanceConfig(id="bot1", exchange="bitget", symbol="BTC/USDT:USDT", execution="live",
                                      risk={"gate": {"max_base_pct": 0.5}, "guard": {"max_daily_loss_pct_hard": 0.03}}))


def _fill(event_id: str, side: str, size: float, price: float) -> dict[str, Any]:
    return {"event_id": event_id, "event_time": T0, "side": side, "size": size, "price": price, "fee_quote": 0.0}


def _round(fake: FakeBitget, ledger: Reconciler | None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(rec: dict[str, Any]) -> None:
        sent.append(rec)

    out = asyncio.run(reconcile_once(lambda iid: ledger, [SETUP], {"bot1": make_exchange(fake)}, send, T0))
    assert out == sent
    return sent


@pytest.fixture
def account() -> tuple[FakeBitget, Reconciler]:
    """An account that bought 0.004 and sold 0.001 BTC, and the desk's ledger of those fills."""
    fake = FakeBitget()
    ledger = Reconciler(SETUP.reconciliation, SETUP.id, SETUP.market)
    fake.add_order("b1", "buy", 50_000.0, 0.01)
    fake.fill("b1", 0.004)
    fake.add_order("s1", "sell", 50_100.0, 0.01)
    fake.fill("s1", 0.001)
    ledger.on_event("hb.fill.v1", _fill("f1", "BUY", 0.004, 50_000.0))
    ledger.on_event("hb.fill.v1", _fill("f2", "SELL", 0.001, 50_100.0))
    return fake, ledger


def test_when_the_ledger_matches_the_exchange_then_the_record_says_ok(account: tuple[FakeBitget, Reconciler]) -> None:
    fake, ledger = account

    [rec] = _round(fake, ledger)

    assert rec["status"] == "ok" and rec["drift_base"] == pytest.approx(0.0, abs=1e-12)
    assert rec["exchange_position_base"] == pytest.approx(0.003) and rec["source"] == "live"
    assert rec["exchange_balance_quote"] == pytest.approx(fake.usdt_balance())
    assert_valid("reconciliation", rec)


def test_when_the_exchange_holds_a_position_the_desk_never_filled_then_it_is_critical(account: tuple[FakeBitget, Reconciler]) -> None:
    fake, ledger = account
    fake.outside_position["BTCUSDT"] = 0.01  # e.g. an order placed by hand in the exchange's web UI

    [rec] = _round(fake, ledger)

    assert rec["status"] == "critical" and rec["drift_base"] == pytest.approx(0.01)


def test_when_the_exchange_fails_then_nothing_is_published_and_the_next_round_works(account: tuple[FakeBitget, Reconciler]) -> None:
    fake, ledger = account
    fake.fail_next("GET", "/api/v2/mix/account/accounts", unavailable())

    assert _round(fake, ledger) == []
    assert [r["status"] for r in _round(fake, ledger)] == ["ok"]


def test_when_this_worker_does_not_hold_the_ledger_yet_then_the_instance_is_not_compared() -> None:
    fake = FakeBitget()
    fake.outside_position["BTCUSDT"] = 1.0

    assert _round(fake, None) == []
    assert fake.requests_to("/api/v2/mix/position/all-position") == []


def test_when_a_round_publishes_then_hbot_events_out_counts_each_record(account: tuple[FakeBitget, Reconciler]) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from streams.metrics import DeskMetrics, use_metrics

    reader = InMemoryMetricReader()
    previous = use_metrics(DeskMetrics(MeterProvider(metric_readers=[reader])))
    try:
        _round(*account)
        _round(*account)
    finally:
        use_metrics(previous)
    data = reader.get_metrics_data()
    counted = [p.value for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == "hbot.events"
               for p in m.data.data_points if dict(p.attributes or {}) == {"topic": "hb.reconciliation.v1", "direction": "out"}]
    assert counted == [2]
