"""Start-up orphan scan (go-live checklist item 4): foreign open orders are cancelled, the desk's are kept."""

from __future__ import annotations

import pytest

from tests.processors.execution.live.fake_bitget import FakeBitget, make_exchange, unavailable
from tests.processors.execution.live.live_scripts import INSTANCE, MARKET, Sleeps, cancel, live_config, make_venue, place, trade_key
from processors.execution.live import CcxtVenue

ACCOUNTS = pytest.mark.parametrize("unified", [False, True], ids=["classic", "uta"])
CANCEL = {False: "/api/v2/mix/order/cancel-order", True: "/api/v3/trade/cancel-order"}


@ACCOUNTS
def test_when_restarted_with_a_ui_order_open_then_only_the_foreign_order_is_cancelled(unified: bool) -> None:
    # Arrange: the desk's run placed q-1 and q-2, then someone placed an order in the web UI;
    # the worker restarts with an empty venue, its state (q-1, q-2) coming from its tables.
    fake = FakeBitget()
    before = make_venue(fake, unified)
    before.place(place("q-1", "BUY", 25000.0, 0.002))
    before.place(place("q-2", "SELL", 26000.0, 0.002))
    ui = fake.add_order("web-ui-order", "buy", 24000.0, 0.005, uta=unified)
    other_symbol = fake.add_order("ltc-manual", "buy", 70.0, 1.0, symbol="LTCUSDT", uta=unified)
    restarted = CcxtVenue(make_exchange(fake, unified), before.config, INSTANCE, MARKET, key=trade_key(fake),
                          sleep=Sleeps(), now_us=lambda: fake.now_ms * 1000)

    # Act
    report = restarted.scan_orphans(known_client_ids={"q-1", "q-2"})

    # Assert: cancelled by exchange order id, only the UI order on our symbol
    assert [c["client_order_id"] for c in report.cancelled] == ["web-ui-order"]
    assert report.cancelled[0]["exchange_order_id"] == ui.order_id
    (req,) = fake.requests_to(CANCEL[unified])
    assert req.body["orderId"] == ui.order_id and "clientOid" not in req.body
    assert sorted(report.kept) == ["q-1", "q-2"] and report.checked == 3 and report.ok
    assert sorted(o.client_oid for o in fake.open_orders()) == ["ltc-manual", "q-1", "q-2"]
    assert other_symbol.is_open
    # The kept orders were adopted: the restarted venue can cancel them and report their fills.
    assert sorted(o["client_order_id"] for o in restarted.open_orders()) == ["q-1", "q-2"]
    fake.fill("q-1", 0.002)
    assert [f["client_order_id"] for f in restarted.poll().fills] == ["q-1"]
    assert [u["status"] for u in restarted.cancel(cancel("q-2")).order_updates] == ["CANCELLED"]


def test_when_nothing_foreign_is_open_then_the_scan_cancels_nothing() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake)
    v.place(place("q-1"))

    # Act: the venue's own tracked orders count as known even if the caller's set is empty
    report = v.scan_orphans(known_client_ids=set())

    # Assert
    assert report.cancelled == [] and report.kept == ["q-1"] and report.ok
    assert fake.requests_to(CANCEL[False]) == []


def test_when_open_orders_cannot_be_read_then_the_scan_reports_the_error_and_cancels_nothing() -> None:
    # Arrange
    fake = FakeBitget()
    sleeps = Sleeps()
    v = make_venue(fake, sleeps=sleeps)
    fake.add_order("web-ui-order", "buy", 24000.0, 0.005)
    fake.fail_next("GET", "/api/v2/mix/order/orders-pending", *[unavailable() for _ in range(5)])

    # Act
    report = v.scan_orphans(known_client_ids=set())

    # Assert
    assert not report.ok and report.error is not None and report.error.startswith("ExchangeNotAvailable")
    assert report.cancelled == [] and len(fake.open_orders()) == 1
    assert sleeps.delays == [0.25, 0.5, 1.0, 2.0]


def test_when_a_foreign_cancel_fails_then_the_report_names_it_and_is_not_ok() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, retry=live_config().retry.model_copy(update={"max_retries": 0}))
    ui = fake.add_order("web-ui-order", "buy", 24000.0, 0.005)
    fake.fail_next("POST", CANCEL[False], unavailable())

    # Act
    report = v.scan_orphans(known_client_ids=set())

    # Assert
    assert not report.ok and [f["exchange_order_id"] for f in report.failed] == [ui.order_id]
    assert report.failed[0]["reason"].startswith("ExchangeNotAvailable")
