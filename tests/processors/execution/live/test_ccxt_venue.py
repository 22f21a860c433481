"""Live venue over the real ccxt.bitget, the exchange faked at the HTTP layer (classic v2 and unified v3 accounts)."""

from __future__ import annotations

import pytest

from tests.processors.execution.live.fake_bitget import (
    Fault,
    FakeBitget,
    bitget_error,
    lost_response,
    rate_limited_json,
    rate_limited_plain,
    unavailable,
)
from tests.processors.execution.live.live_scripts import INSTANCE, MARKET, Sleeps, cancel, cancel_all, make_venue, place
from tests.processors.execution.paper_scripts import assert_all_valid
from processors.execution.live import CcxtVenue
from processors.execution.venue import ExecutionVenue

PLACE = {False: "/api/v2/mix/order/place-order", True: "/api/v3/trade/place-order"}
CANCEL = {False: "/api/v2/mix/order/cancel-order", True: "/api/v3/trade/cancel-order"}
CANCEL_ALL = {False: "/api/v2/mix/order/batch-cancel-orders", True: "/api/v3/trade/cancel-symbol-order"}
PENDING = {False: "/api/v2/mix/order/orders-pending", True: "/api/v3/trade/unfilled-orders"}
DETAIL = {False: "/api/v2/mix/order/detail", True: "/api/v3/trade/order-info"}
ACCOUNTS = pytest.mark.parametrize("unified", [False, True], ids=["classic", "uta"])


@ACCOUNTS
def test_when_post_only_order_placed_then_one_signed_request_carries_client_oid_and_post_only_and_an_ack_follows(unified: bool) -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, unified)

    # Act
    ev = v.on_command(place("q-1", "BUY", 25000.0, 0.001))

    # Assert: what went over the wire
    sent = fake.requests_to(PLACE[unified])
    assert len(sent) == 1
    body = sent[0].body
    assert body["clientOid"] == "q-1" and body["symbol"] == "BTCUSDT" and body["side"] == "buy" and body["price"] == "25000"
    if unified:
        assert (body["timeInForce"], body["qty"], body["category"]) == ("post_only", "0.001", "USDT-FUTURES")
    else:
        assert (body["force"], body["size"], body["productType"], body["marginMode"]) == ("post_only", "0.001", "USDT-FUTURES", "crossed")
    assert sent[0].headers["ACCESS-KEY"] == fake.api_key  # signed (the fake verified the HMAC too)
    # Assert: the record
    assert [u["status"] for u in ev.order_updates] == ["ACK"]
    ack = ev.order_updates[0]
    (order,) = fake.open_orders()
    assert (ack["client_order_id"], ack["exchange_order_id"]) == ("q-1", order.order_id)
    assert (ack["instance_id"], ack["market"], ack["side"], ack["price"], ack["size"]) == (INSTANCE, MARKET, "BUY", 25000.0, 0.001)
    assert_all_valid(ev)
    assert isinstance(v, ExecutionVenue) and v.is_paper is False


@ACCOUNTS
def test_when_same_client_order_id_placed_twice_then_it_is_sent_once(unified: bool) -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, unified)
    v.place(place("q-1"))

    # Act: the same command again while open, and again after it was cancelled
    again = v.place(place("q-1"))
    v.cancel(cancel("q-1"))
    after_close = v.place(place("q-1"))

    # Assert
    assert len(fake.requests_to(PLACE[unified])) == 1
    assert again.notes == ["duplicate_place"] and not again.order_updates
    assert after_close.notes == ["duplicate_place"] and not after_close.order_updates


@ACCOUNTS
def test_when_cancelled_by_client_id_then_request_names_client_oid_and_a_cancelled_update_follows(unified: bool) -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, unified)
    v.place(place("q-1"))

    # Act
    ev = v.on_command(cancel("q-1", reason="reprice"))

    # Assert
    (req,) = fake.requests_to(CANCEL[unified])
    assert req.body["clientOid"] == "q-1" and "orderId" not in req.body
    assert [(u["status"], u["reason"]) for u in ev.order_updates] == [("CANCELLED", "reprice")]
    assert fake.open_orders() == [] and v.open_orders() == []
    assert_all_valid(ev)


@ACCOUNTS
def test_when_cancel_all_then_one_symbol_request_cancels_ours_and_the_foreign_one_is_only_noted(unified: bool) -> None:
    # Arrange: two of ours and one placed in the exchange UI
    fake = FakeBitget()
    v = make_venue(fake, unified)
    v.place(place("q-1", "BUY", 25000.0))
    v.place(place("q-2", "SELL", 26000.0))
    fake.add_order("web-ui-1", "buy", 24000.0, 0.002, uta=unified)

    # Act
    ev = v.on_command(cancel_all("guard_hard_stop"))

    # Assert
    (req,) = fake.requests_to(CANCEL_ALL[unified])
    assert req.body["symbol"] == "BTCUSDT"
    assert sorted((u["client_order_id"], u["status"], u["reason"]) for u in ev.order_updates) == [
        ("q-1", "CANCELLED", "guard_hard_stop"), ("q-2", "CANCELLED", "guard_hard_stop")]
    assert ev.notes == ["cancelled_foreign_order:web-ui-1"]
    assert fake.open_orders() == []
    assert_all_valid(ev)


def test_when_cancel_all_scope_is_own_then_only_this_venues_orders_are_cancelled() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, cancel_all_scope="own")
    v.place(place("q-1"))
    v.place(place("q-2", "SELL", 26000.0))
    foreign = fake.add_order("other-bot-7", "buy", 24000.0, 0.002)

    # Act
    ev = v.cancel_all(cancel_all("flatten"))

    # Assert
    assert fake.requests_to(CANCEL_ALL[False]) == []
    assert len(fake.requests_to(CANCEL[False])) == 2
    assert sorted(u["client_order_id"] for u in ev.order_updates if u["status"] == "CANCELLED") == ["q-1", "q-2"]
    assert fake.open_orders() == [foreign]


@ACCOUNTS
def test_when_open_orders_fetched_then_the_exchanges_view_is_returned(unified: bool) -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, unified)
    v.place(place("q-1", "BUY", 25000.0, 0.003))
    fake.add_order("web-ui-1", "sell", 27000.0, 0.002, uta=unified)
    fake.fill("q-1", 0.001)

    # Act
    views = v.fetch_open_orders()

    # Assert
    by_cid = {x["client_order_id"]: x for x in views}
    assert set(by_cid) == {"q-1", "web-ui-1"}
    assert (by_cid["q-1"]["side"], by_cid["q-1"]["price"], by_cid["q-1"]["size"], by_cid["q-1"]["filled_size"]) == ("BUY", 25000.0, 0.003, 0.001)
    assert by_cid["web-ui-1"]["side"] == "SELL" and by_cid["web-ui-1"]["status"] == "open"
    assert len(fake.requests_to(PENDING[unified])) == 1


@ACCOUNTS
def test_when_polled_after_partial_then_full_fill_then_fills_and_updates_follow_and_a_replay_adds_nothing(unified: bool) -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, unified)
    v.on_market_event("book", {"market": MARKET, "mid": 25005.0})
    v.place(place("q-1", "BUY", 25000.0, 0.003))
    f1 = fake.fill("q-1", 0.001)

    # Act
    first = v.poll()
    f2 = fake.fill("q-1", 0.002)
    second = v.poll()
    third = v.poll()

    # Assert: one fill record per exchange trade, with the exchange's trade id
    assert [f["trade_id"] for f in first.fills] == [f1.trade_id]
    assert [f["trade_id"] for f in second.fills] == [f2.trade_id]
    fill = first.fills[0]
    assert (fill["client_order_id"], fill["side"], fill["price"], fill["size"], fill["liquidity"]) == ("q-1", "BUY", 25000.0, 0.001, "MAKER")
    assert fill["fee_quote"] == pytest.approx(25000.0 * 0.001 * 0.0002, rel=1e-9)
    assert (fill["mid_at_fill"], fill["mid_at_order"], fill["is_paper"]) == (25005.0, 25010.0, False)
    assert fill["event_time"] == f1.ts * 1000
    assert [(u["status"], u["filled_size"]) for u in first.order_updates] == [("PARTIALLY_FILLED", 0.001)]
    assert [(u["status"], u["filled_size"], u["remaining_size"]) for u in second.order_updates] == [("FILLED", 0.003, 0.0)]
    assert not third and third.fills == [] and third.order_updates == []
    assert v.open_orders() == []
    assert_all_valid(first)
    assert_all_valid(second)


def test_when_restarted_from_snapshot_then_fills_already_reported_are_not_reported_again() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake)
    v.place(place("q-1", "BUY", 25000.0, 0.003))
    before_poll = v.snapshot()
    fake.fill("q-1", 0.001)
    first = v.poll()
    after_poll = v.snapshot()

    # Act: a restart from the later snapshot, and one from the earlier (its fills replayed)
    resumed = CcxtVenue.restore(after_poll, v.exchange, v.config, INSTANCE, MARKET, now_us=lambda: fake.now_ms * 1000)
    replayed = CcxtVenue.restore(before_poll, v.exchange, v.config, INSTANCE, MARKET, now_us=lambda: fake.now_ms * 1000)
    resumed_ev = resumed.poll()
    replayed_ev = replayed.poll()

    # Assert: nothing new after the later snapshot; the replay carries the very same event ids
    assert resumed_ev.fills == [] and resumed_ev.order_updates == []
    assert [f["event_id"] for f in replayed_ev.fills] == [f["event_id"] for f in first.fills]
    assert [u["event_id"] for u in replayed_ev.order_updates] == [u["event_id"] for u in first.order_updates]
    assert resumed.place(place("q-1")).notes == ["duplicate_place"]


@pytest.mark.parametrize(
    ("code", "msg", "exc_name"),
    [("40762", "The order amount exceeds the balance", "InsufficientFunds"),
     ("45110", "less than the minimum order quantity", "InvalidOrder")],
)
def test_when_exchange_rejects_the_order_then_a_rejected_update_carries_its_message_and_nothing_is_retried(code: str, msg: str, exc_name: str) -> None:
    # Arrange
    fake = FakeBitget()
    sleeps = Sleeps()
    v = make_venue(fake, sleeps=sleeps)
    fake.fail_next("POST", PLACE[False], Fault(400, bitget_error(code, msg)))

    # Act
    ev = v.place(place("q-1"))

    # Assert
    assert len(fake.requests_to(PLACE[False])) == 1 and sleeps.delays == []
    (upd,) = ev.order_updates
    assert upd["status"] == "REJECTED"
    assert upd["reason"].startswith(f"{exc_name}: bitget ") and msg in upd["reason"] and code in upd["reason"]
    assert fake.orders == {} and v.open_orders() == []
    assert_all_valid(ev)


@pytest.mark.parametrize("fault", [rate_limited_json, rate_limited_plain, unavailable], ids=["429-json", "429-plain", "503"])
def test_when_first_attempt_is_throttled_or_unavailable_then_it_is_retried_and_exactly_one_order_exists(fault) -> None:
    # Arrange
    fake = FakeBitget()
    sleeps = Sleeps()
    v = make_venue(fake, sleeps=sleeps)
    fake.fail_next("POST", PLACE[False], fault())

    # Act
    ev = v.place(place("q-1"))

    # Assert
    assert [r.status for r in fake.requests_to(PLACE[False])] == [fault().status, 200]
    assert sleeps.delays == [0.25]
    assert len(fake.orders) == 1
    assert [u["status"] for u in ev.order_updates] == ["ACK"]
    assert v.stats["retries"] == 1


def test_when_throttled_every_time_then_backoff_is_bounded_and_exponential_and_the_order_is_rejected() -> None:
    # Arrange: 429 proves the request was not executed, so giving up is a clean reject
    fake = FakeBitget()
    sleeps = Sleeps()
    v = make_venue(fake, sleeps=sleeps)
    fake.fail_next("POST", PLACE[False], *[rate_limited_plain() for _ in range(10)])

    # Act
    ev = v.place(place("q-1"))

    # Assert
    assert len(fake.requests_to(PLACE[False])) == 5  # 1 + max_retries
    assert sleeps.delays == [0.25, 0.5, 1.0, 2.0]
    (upd,) = ev.order_updates
    assert upd["status"] == "REJECTED" and upd["reason"].startswith("retries_exhausted: RateLimitExceeded")
    assert fake.orders == {}


def test_when_the_answer_is_lost_after_the_order_landed_then_the_retry_finds_it_and_acks_one_order() -> None:
    # Arrange: attempt 1 reaches the exchange but times out; attempt 2 hits "Duplicate clientOid"
    fake = FakeBitget()
    v = make_venue(fake)
    fake.fail_next("POST", PLACE[False], lost_response())

    # Act
    ev = v.place(place("q-1"))

    # Assert
    assert [r.status for r in fake.requests_to(PLACE[False])] == [-1, 400]
    assert len(fake.requests_to(DETAIL[False])) == 1  # looked up by client id
    (order,) = fake.orders.values()
    assert [(u["status"], u["exchange_order_id"]) for u in ev.order_updates] == [("ACK", order.order_id)]
    assert v.open_orders()[0]["state"] == "OPEN"


@pytest.mark.parametrize("landed", [False, True], ids=["never-landed", "landed"])
def test_when_place_outcome_stays_unknown_then_the_next_poll_settles_it_from_the_exchange(landed: bool) -> None:
    # Arrange: five 503s; with landed=True the first one was executed before the gateway failed
    fake = FakeBitget()
    v = make_venue(fake)
    first = Fault(503, "<html>502 Bad Gateway</html>", reach=landed)
    fake.fail_next("POST", PLACE[False], first, *[unavailable() for _ in range(4)])

    # Act
    placed = v.place(place("q-1"))
    polled = v.poll()

    # Assert
    assert placed.order_updates == [] and placed.notes == ["place_outcome_unknown:q-1"]
    if landed:
        assert [u["status"] for u in polled.order_updates] == ["ACK"]
        assert len(fake.orders) == 1
    else:
        (upd,) = polled.order_updates
        assert upd["status"] == "REJECTED" and upd["reason"].startswith("not_placed: ExchangeNotAvailable")
        assert fake.orders == {}
    assert v.place(place("q-1")).notes == ["duplicate_place"]  # never sent a sixth time


def test_when_exchange_cancels_an_order_then_the_poll_reports_it_cancelled_by_the_exchange() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake)
    v.place(place("q-1"))
    (order,) = fake.open_orders()
    order.state = "canceled"

    # Act
    ev = v.poll()

    # Assert
    assert [(u["status"], u["reason"]) for u in ev.order_updates] == [("CANCELLED", "cancelled_by_exchange")]


def test_when_cancelling_an_order_that_just_filled_then_the_update_is_filled_not_cancelled() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake)
    v.place(place("q-1", size=0.002))
    fake.fill("q-1", 0.002)

    # Act
    ev = v.cancel(cancel("q-1"))
    later = v.poll()

    # Assert: cancel answered "does not exist", the order was looked up: filled
    assert [(u["status"], u["filled_size"]) for u in ev.order_updates] == [("FILLED", 0.002)]
    assert [f["size"] for f in later.fills] == [0.002] and later.order_updates == []


def test_when_command_is_for_another_instance_then_nothing_is_sent() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake)
    cmd = {**place("q-1"), "instance_id": "someone-else"}

    # Act
    ev = v.on_command(cmd)

    # Assert
    assert ev.notes == ["command_for_other_instance"] and fake.requests_to(PLACE[False]) == []


def test_when_order_is_invalid_then_it_is_rejected_without_a_request() -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake)

    # Act
    ev = v.place(place("q-1", price=None, post_only=True))

    # Assert
    assert [(u["status"], u["reason"]) for u in ev.order_updates] == [("REJECTED", "invalid_order")]
    assert fake.requests_to(PLACE[False]) == []


def test_when_cancel_all_cannot_reach_the_exchange_then_the_next_poll_sends_it_again() -> None:
    # Arrange: the kill switch's cancel-all meets five 503s
    fake = FakeBitget()
    v = make_venue(fake)
    v.place(place("q-1"))
    v.place(place("q-2", "SELL", 26000.0))
    fake.fail_next("POST", CANCEL_ALL[False], *[unavailable() for _ in range(5)])

    # Act
    failed = v.cancel_all(cancel_all("kill_switch"))
    polled = v.poll()

    # Assert
    assert failed.order_updates == [] and failed.notes[0].startswith("cancel_all_failed: ExchangeNotAvailable")
    assert sorted((u["client_order_id"], u["status"], u["reason"]) for u in polled.order_updates) == [
        ("q-1", "CANCELLED", "kill_switch"), ("q-2", "CANCELLED", "kill_switch")]
    assert len(fake.requests_to(CANCEL_ALL[False])) == 6 and fake.open_orders() == []


def test_when_markets_cannot_be_loaded_at_the_first_command_then_the_place_is_rejected_unsent_and_later_works() -> None:
    # Arrange: a venue never started; the exchange is down for the first load
    from tests.processors.execution.live.fake_bitget import make_exchange
    from tests.processors.execution.live.live_scripts import live_config, trade_key

    fake = FakeBitget()
    ex = make_exchange(fake)
    ex.markets = None  # as a fresh process would have it
    v = CcxtVenue(ex, live_config(retry={"max_retries": 0}), INSTANCE, MARKET, key=trade_key(fake), sleep=Sleeps())
    fake.fail_next("GET", "/api/v2/spot/public/coins", unavailable())

    # Act
    first = v.place(place("q-1"))
    second = v.place(place("q-2"))

    # Assert
    (upd,) = first.order_updates
    assert upd["status"] == "REJECTED" and upd["reason"].startswith("venue_not_ready")
    assert [u["status"] for u in second.order_updates] == ["ACK"]
    assert [o.client_oid for o in fake.orders.values()] == ["q-2"]


def test_when_symbol_is_not_an_exchange_market_then_start_fails_with_a_config_error() -> None:
    # Arrange
    from hbot.settings import ConfigError
    from tests.processors.execution.live.fake_bitget import make_exchange
    from tests.processors.execution.live.live_scripts import live_config, trade_key

    fake = FakeBitget()
    v = CcxtVenue(make_exchange(fake), live_config(symbol="DOGE/USDT:USDT"), INSTANCE, "bitget:DOGE/USDT:USDT", key=trade_key(fake))

    # Act / Assert
    with pytest.raises(ConfigError, match="'DOGE/USDT:USDT' is not a bitget market"):
        v.start()


def test_when_more_fills_than_a_page_arrive_between_polls_then_older_pages_are_read_and_each_fill_is_reported_once() -> None:
    # Arrange: pages of 2 trades, the exchange answering newest first; 5 fills on two orders
    fake = FakeBitget()
    v = make_venue(fake, fills_page_limit=2)
    v.place(place("q-1", "BUY", 25000.0, 0.003))
    v.place(place("q-2", "SELL", 26000.0, 0.002))
    made = [fake.fill("q-1", 0.001), fake.fill("q-2", 0.001), fake.fill("q-1", 0.001), fake.fill("q-2", 0.001), fake.fill("q-1", 0.001)]

    # Act
    ev = v.poll()
    again = v.poll()

    # Assert: all five, oldest first, each once; both orders filled
    assert [f["trade_id"] for f in ev.fills] == [m.trade_id for m in made]
    assert sorted((u["client_order_id"], u["status"]) for u in ev.order_updates if u["status"] == "FILLED") == [("q-1", "FILLED"), ("q-2", "FILLED")]
    assert again.fills == []
    assert len(fake.requests_to("/api/v2/mix/order/fills")) >= 3
