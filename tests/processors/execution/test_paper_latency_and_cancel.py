"""Paper exchange latency, cancels, post-only rejects, idempotent places."""

from __future__ import annotations

import pytest

from tests.processors.execution.paper_scripts import INSTANCE, MARKET, MS, T0, assert_all_valid, cancel, cancel_all, place, standard_book, trade
from processors.execution.paper import PaperExchange, PaperExchangeConfig


def _exchange(order_ms: float = 0.0, cancel_ms: float = 0.0) -> PaperExchange:
    x = PaperExchange(PaperExchangeConfig(order_latency_ms=order_ms, cancel_latency_ms=cancel_ms), INSTANCE, MARKET)
    x.on_book(standard_book())
    return x


def test_when_trade_before_order_is_active_then_no_fill_and_fill_after() -> None:
    # Arrange: 100 ms order latency; the bid at 100.05 has nobody ahead.
    x = _exchange(order_ms=100.0)
    placed = x.on_command(place(T0, "b1", "BUY", 100.05, 1.0))
    # Act
    early = x.on_trade(trade(T0 + 50 * MS, "t1", 100.05, 1.0, "SELL"))
    late = x.on_trade(trade(T0 + 150 * MS, "t2", 100.05, 0.4, "SELL"))
    # Assert
    assert placed.order_updates == [] and early.order_updates == [] and early.fills == []
    assert [(u["status"], u["event_time"]) for u in late.order_updates[:1]] == [("ACK", T0 + 100 * MS)]
    assert [f["size"] for f in late.fills] == [0.4]
    assert late.fills[0]["order_time"] == T0
    assert_all_valid(late)


def test_when_other_timers_fall_due_then_order_still_waits_for_its_own_latency() -> None:
    # Arrange: 100 ms order latency, 10 ms cancel latency; "a" rests, "b" is still travelling.
    x = _exchange(order_ms=100.0, cancel_ms=10.0)
    x.on_command(place(T0, "a", "SELL", 100.2, 1.0))
    x.on_time(T0 + 100 * MS)
    x.on_command(place(T0 + 100 * MS, "b", "BUY", 100.05, 1.0))
    x.on_command(cancel(T0 + 110 * MS, "a"))  # due at 120 ms
    # Act: at 150 ms the cancel of "a" falls due but "b" only arrives at 200 ms.
    ev = x.on_trade(trade(T0 + 150 * MS, "t1", 100.05, 1.0, "SELL"))
    # Assert
    assert [(u["client_order_id"], u["status"]) for u in ev.order_updates] == [("a", "CANCELLED")]
    assert ev.fills == []


def test_when_cancel_in_flight_then_fills_until_it_takes_effect() -> None:
    # Arrange: 100 ms cancel latency.
    x = _exchange(cancel_ms=100.0)
    x.on_command(place(T0, "b1", "BUY", 100.05, 1.0))
    x.on_command(cancel(T0 + 10 * MS, "b1"))
    # Act
    during = x.on_trade(trade(T0 + 60 * MS, "t1", 100.05, 0.3, "SELL"))
    after = x.on_trade(trade(T0 + 200 * MS, "t2", 100.05, 5.0, "SELL"))
    # Assert
    assert [f["size"] for f in during.fills] == [0.3]
    assert after.fills == []
    assert [(u["status"], u["event_time"], u["filled_size"]) for u in after.order_updates] == [("CANCELLED", T0 + 110 * MS, 0.3)]
    assert x.position_base == pytest.approx(0.3)


def test_when_cancelled_then_later_trades_do_not_fill() -> None:
    # Arrange
    x = _exchange()
    x.on_command(place(T0, "b1", "BUY", 100.05, 1.0))
    # Act
    cancelled = x.on_command(cancel(T0 + 1 * MS, "b1"))
    ev = x.on_trade(trade(T0 + 2 * MS, "t1", 99.0, 10.0, "SELL"))
    # Assert
    assert [u["status"] for u in cancelled.order_updates] == ["CANCELLED"]
    assert cancelled.order_updates[0]["reason"] == "test_cancel"
    assert ev.fills == [] and x.position_base == 0.0
    assert_all_valid(cancelled)


def test_when_cancel_reaches_venue_before_order_then_order_never_rests() -> None:
    # Arrange: order takes 100 ms, cancel 10 ms.
    x = _exchange(order_ms=100.0, cancel_ms=10.0)
    x.on_command(place(T0, "b1", "BUY", 100.05, 1.0))
    x.on_command(cancel(T0 + 1 * MS, "b1"))
    # Act
    ev = x.on_trade(trade(T0 + 200 * MS, "t1", 100.05, 1.0, "SELL"))
    # Assert
    assert [u["status"] for u in ev.order_updates] == ["CANCELLED"] and ev.fills == []


@pytest.mark.parametrize(("side", "price"), [("BUY", 100.1), ("BUY", 100.3), ("SELL", 100.0), ("SELL", 99.5)])
def test_when_post_only_would_cross_at_arrival_then_rejected(side: str, price: float) -> None:
    # Arrange
    x = _exchange()
    # Act
    ev = x.on_command(place(T0, "p1", side, price, 1.0))
    # Assert
    assert [(u["status"], u["reason"]) for u in ev.order_updates] == [("REJECTED", "post_only_would_cross")]
    assert ev.fills == [] and x.open_orders() == []
    assert_all_valid(ev)


def test_when_post_only_crosses_only_after_latency_then_rejected_on_arrival_book() -> None:
    # Arrange: at placement 100.05 is inside the spread; before arrival the ask drops to 100.05.
    from tests.processors.execution.paper_scripts import book

    x = _exchange(order_ms=100.0)
    x.on_command(place(T0, "p1", "BUY", 100.05, 1.0))
    x.on_book(book(T0 + 50 * MS, 2, [(100.0, 3.0)], [(100.05, 1.0)]))
    # Act
    ev = x.on_time(T0 + 100 * MS)
    # Assert
    assert [(u["status"], u["reason"]) for u in ev.order_updates] == [("REJECTED", "post_only_would_cross")]


def test_when_cancel_all_then_every_order_is_cancelled() -> None:
    # Arrange
    x = _exchange()
    for i, (side, price) in enumerate([("BUY", 100.0), ("BUY", 99.9), ("SELL", 100.1), ("SELL", 100.2)]):
        x.on_command(place(T0 + i, f"o{i}", side, price, 0.5))
    # Act
    ev = x.on_command(cancel_all(T0 + 10 * MS))
    # Assert
    assert sorted(u["client_order_id"] for u in ev.order_updates) == ["o0", "o1", "o2", "o3"]
    assert {u["status"] for u in ev.order_updates} == {"CANCELLED"}
    assert x.open_orders() == []
    assert_all_valid(ev)


def test_when_same_place_arrives_twice_then_one_order() -> None:
    # Arrange
    x = _exchange()
    cmd = place(T0, "b1", "BUY", 100.0, 1.0)
    # Act
    first = x.on_command(cmd)
    again = x.on_command(cmd)
    # Assert
    assert [u["status"] for u in first.order_updates] == ["ACK"]
    assert again.order_updates == [] and "duplicate_place" in again.notes
    assert len(x.open_orders()) == 1


def test_when_place_replayed_after_order_closed_then_ignored() -> None:
    # Arrange
    x = _exchange()
    cmd = place(T0, "b1", "BUY", 100.0, 1.0)
    x.on_command(cmd)
    x.on_command(cancel(T0 + 1, "b1"))
    # Act
    again = x.on_command(cmd)
    # Assert
    assert again.order_updates == [] and x.open_orders() == []


def test_when_command_is_for_another_instance_then_ignored() -> None:
    # Arrange
    x = _exchange()
    cmd = {**place(T0, "b1", "BUY", 100.0, 1.0), "instance_id": "other"}
    # Act
    ev = x.on_command(cmd)
    # Assert
    assert not ev and x.open_orders() == []


def test_when_reduce_only_order_would_increase_position_then_rejected() -> None:
    # Arrange: flat account.
    x = _exchange()
    # Act
    ev = x.on_command(place(T0, "r1", "SELL", 100.2, 1.0, reduce_only=True))
    # Assert
    assert [(u["status"], u["reason"]) for u in ev.order_updates] == [("REJECTED", "reduce_only_would_increase")]


def test_when_market_order_then_takes_book_and_cancels_unfilled_rest() -> None:
    # Arrange: asks total 6.0.
    x = _exchange()
    # Act
    ev = x.on_command(place(T0, "m1", "BUY", None, 7.0, post_only=False))
    # Assert
    assert sum(f["size"] for f in ev.fills) == pytest.approx(6.0)
    assert ev.order_updates[-1]["status"] == "CANCELLED"
    assert ev.order_updates[-1]["reason"] == "market_order_unfilled_remainder"
    assert_all_valid(ev)


def test_when_the_feed_goes_quiet_after_a_cancel_all_then_on_idle_completes_the_cancels_at_their_due_time() -> None:
    # Arrange: the processor the execution role runs; 50 ms cancel latency, 100 ms order latency.
    from processors.execution.processor import PaperExecutionProcessor
    from processors.instance import instance_setup
    from hbot.settings import InstanceConfig

    setup = instance_setup(InstanceConfig(id=INSTANCE, exchange=MARKET.split(":", 1)[0], symbol=MARKET.split(":", 1)[1]))
    proc = PaperExecutionProcessor(setup, _exchange(order_ms=100.0, cancel_ms=50.0))
    origin = ("hb.sequenced.v1", 0, 0)
    proc.on_event("hb.order.v1", place(T0, "b1", "BUY", 100.05, 1.0), origin)
    proc.on_event("hb.market.book.v1", standard_book(T0 + 200 * MS, seq=2), origin)  # b1 is resting now
    proc.on_event("hb.order.v1", place(T0 + 300 * MS, "b2", "BUY", 100.0, 1.0), origin)  # still travelling
    proc.on_event("hb.order.v1", cancel_all(T0 + 310 * MS), origin)
    # Act: no market event follows (the dead-man's switch fires exactly when the feed stops).
    stuck = proc.venue.open_orders()
    out = proc.on_idle()
    # Assert: the cancels take effect at their own due time (b2's cancel lands before b2 would have arrived).
    assert {o["client_order_id"] for o in stuck} == {"b1", "b2"}
    assert [(r["client_order_id"], r["status"], r["event_time"]) for t, r in out if t == "hb.order_update.v1"] == [
        ("b1", "CANCELLED", T0 + 360 * MS), ("b2", "CANCELLED", T0 + 360 * MS)]
    assert proc.venue.open_orders() == [] and proc.venue.next_due is None
    assert proc.on_idle() == []
