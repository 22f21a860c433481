"""When the core decides, what each decision records as its inputs, and which inputs it ignores."""

from __future__ import annotations

import pytest

from processors.clock import US_PER_S
from tests.processors.strategy.strategy_testkit import INSTANCE, MARKET, Feed, book_record


def test_when_first_book_then_decision_and_small_moves_do_not_redecide() -> None:
    feed = Feed()

    assert feed.book(100.0) is not None
    assert feed.book(100.01) is None  # 1 bp < requote_mid_move_bps (5)
    assert feed.book(99.99) is None


def test_when_mid_moves_by_the_requote_threshold_then_decision() -> None:
    feed = Feed()
    feed.book(100.0)

    assert feed.book(100.04) is None
    assert feed.book(100.06) is not None  # beyond 5 bps from the last decision's mid


def test_when_refresh_interval_elapses_then_decision() -> None:
    feed = Feed()
    feed.book(100.0)

    for _ in range(89):
        assert feed.book(100.0, dt=1.0) is None
    assert feed.book(100.0, dt=1.0) is not None  # neutral_low_vol refresh_s = 90


def test_when_a_fill_arrives_then_the_next_book_decides() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.fill("BUY", 99.9, 0.1)

    d = feed.book(100.0)

    assert d is not None and d.state["position_base"] == pytest.approx(0.1)


def test_when_inputs_arrive_between_decisions_then_the_next_decision_lists_them_all() -> None:
    feed = Feed()
    first = feed.book(100.0)
    feed.book(100.01)
    feed.trade(100.0)
    feed.fill("BUY", 99.9, 0.1, event_id="fill-x")

    d = feed.book(100.0)

    assert first is not None and d is not None
    assert first.quote["input_event_ids"] == ["book-1"]
    assert d.quote["input_event_ids"] == ["book-2", "mtrade-1", "fill-x", "book-3"]
    assert d.quote["decision_seq"] == first.quote["decision_seq"] + 1


def test_when_origin_is_given_then_offsets_are_recorded() -> None:
    feed = Feed()
    core = feed.core

    d = core.on_book(book_record(1, feed.t, 100.0), origin=("hb.market.book.v1", 3, 42))

    assert d is not None
    assert d.quote["input_offsets"] == [{"topic": "hb.market.book.v1", "partition": 3, "offset": 42}]


def test_when_book_goes_stale_then_one_cancel_all_decision_and_recovery_on_next_book() -> None:
    feed = Feed()
    feed.book(100.0)
    assert feed.trade(100.0, dt=30.0) is None  # exactly 30 s: not yet stale

    stale = feed.trade(100.0, dt=1.0)
    again = feed.trade(100.0, dt=1.0)
    back = feed.book(100.0)

    assert stale is not None and again is None
    assert stale.quote["quotes"] == []
    assert stale.state["order_book_stale"] is True and "order_book_stale" in stale.state["risk_reasons"]
    assert back is not None and back.state["order_book_stale"] is False and back.quote["quotes"]


def test_when_records_are_for_another_market_or_instance_then_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    other_book = book_record(99, feed.t + US_PER_S, 50.0, market="other:ETH")
    other_fill = {
        "event_id": "f", "event_time": feed.t, "instance_id": "other", "market": MARKET, "side": "BUY",
        "price": 100.0, "size": 1.0, "fee_quote": 0.0, "mid_at_fill": 100.0,
    }

    assert feed.core.on_book(other_book) is None
    assert feed.core.on_fill(other_fill) is None
    assert feed.core.position_base == 0.0
    assert feed.book(100.0) is None  # nothing changed


def test_when_a_fill_is_delivered_twice_then_it_counts_once() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.fill("BUY", 100.0, 0.5, event_id="dup")
    feed.fill("BUY", 100.0, 0.5, event_id="dup")

    d = feed.book(100.0)

    assert d is not None and d.state["position_base"] == pytest.approx(0.5)


def test_when_a_book_is_older_than_the_last_one_then_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    late = book_record(0, feed.t + 1, 120.0)  # sequence 0 < 1

    assert feed.core.on_book(late) is None
    assert feed.core.ignored_inputs == 1


def test_when_guard_state_changes_then_reported_but_quotes_unchanged() -> None:
    running = Feed()
    stopped = Feed()
    for feed in (running, stopped):
        feed.book(100.0)
    stopped.guard("HARD_STOP")
    running.funding(0.0)  # the same kind of nudge, so both decide on the next book

    a = running.book(100.0)
    b = stopped.book(100.0)

    assert a is not None and b is not None
    assert b.state["guard_state"] == "HARD_STOP" and a.state["guard_state"] == "RUNNING"
    assert a.quote["quotes"] == b.quote["quotes"]


def test_when_instance_id_mismatch_on_guard_then_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    rec = {"event_id": "g", "event_time": feed.t, "instance_id": INSTANCE + "x", "market": MARKET,
           "previous_state": "RUNNING", "state": "HARD_STOP", "reasons": []}

    assert feed.core.on_guard(rec) is None
    assert feed.book(100.0) is None
