"""Paper matching: queue position, partial fills, trade-through, one liquidity never filling twice."""

from __future__ import annotations

import pytest

from tests.processors.execution.paper_scripts import INSTANCE, MARKET, MS, T0, assert_all_valid, place, standard_book, trade
from processors.execution.paper import PaperExchange, PaperExchangeConfig

ZERO_LATENCY = PaperExchangeConfig(order_latency_ms=0.0, cancel_latency_ms=0.0)


def _exchange() -> PaperExchange:
    x = PaperExchange(ZERO_LATENCY, INSTANCE, MARKET)
    x.on_book(standard_book())
    return x


def test_when_order_joins_level_behind_3_then_trades_of_2_and_1_5_fill_0_5() -> None:
    # Arrange: our bid joins 100.0, where the book shows 3.0 ahead of us.
    x = _exchange()
    ack = x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.0, 1.0))
    # Act
    first = x.on_trade(trade(T0 + 2 * MS, "t1", 100.0, 2.0, "SELL"))
    second = x.on_trade(trade(T0 + 3 * MS, "t2", 100.0, 1.5, "SELL"))
    # Assert: 2.0 + 1.5 = 3.5 traded, 3.0 was ahead -> 0.5 for us.
    assert [u["status"] for u in ack.order_updates] == ["ACK"]
    assert first.fills == []
    assert len(second.fills) == 1
    f = second.fills[0]
    assert (f["side"], f["price"], f["size"], f["liquidity"]) == ("BUY", 100.0, 0.5, "MAKER")
    assert f["fee_quote"] == pytest.approx(100.0 * 0.5 * 0.0002, rel=1e-12)
    assert f["mid_at_fill"] == 100.05 and f["mid_at_order"] == 100.05 and f["order_time"] == T0 + 1 * MS
    assert f["is_paper"] is True
    upd = second.order_updates[0]
    assert (upd["status"], upd["filled_size"], upd["remaining_size"]) == ("PARTIALLY_FILLED", 0.5, 0.5)
    assert_all_valid(ack)
    assert_all_valid(second)


def test_when_more_trades_at_price_then_partial_order_completes_and_leftover_is_unused() -> None:
    # Arrange: 0.5 of 1.0 already filled as above.
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.0, 1.0))
    x.on_trade(trade(T0 + 2 * MS, "t1", 100.0, 3.5, "SELL"))
    # Act
    ev = x.on_trade(trade(T0 + 3 * MS, "t2", 100.0, 0.7, "SELL"))
    # Assert
    assert [f["size"] for f in ev.fills] == [0.5]
    assert [u["status"] for u in ev.order_updates] == ["FILLED"]
    assert ev.order_updates[0]["remaining_size"] == 0.0
    assert x.position_base == pytest.approx(1.0)
    assert x.open_orders() == []
    assert_all_valid(ev)


def test_when_buy_aggressor_trades_at_our_bid_price_then_no_fill() -> None:
    # Arrange
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.0, 1.0))
    # Act: a BUY aggressor lifts asks; it never fills a bid.
    ev = x.on_trade(trade(T0 + 2 * MS, "t1", 100.0, 10.0, "BUY"))
    # Assert
    assert ev.fills == []


def test_when_sell_trade_prints_below_our_bid_then_filled_at_our_price_up_to_trade_size() -> None:
    # Arrange: 3.0 ahead of us at 100.0; a trade through the level skips the queue.
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.0, 1.0))
    # Act
    first = x.on_trade(trade(T0 + 2 * MS, "t1", 99.9, 0.4, "SELL"))
    second = x.on_trade(trade(T0 + 3 * MS, "t2", 99.8, 2.0, "SELL"))
    # Assert
    assert [(f["price"], f["size"]) for f in first.fills] == [(100.0, 0.4)]
    assert [(f["price"], f["size"]) for f in second.fills] == [(100.0, pytest.approx(0.6))]
    assert [u["status"] for u in second.order_updates] == ["FILLED"]
    assert_all_valid(first)
    assert_all_valid(second)


def test_when_buy_trade_prints_above_our_ask_then_ask_filled_at_its_price() -> None:
    # Arrange
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "a1", "SELL", 100.1, 1.0))
    # Act
    ev = x.on_trade(trade(T0 + 2 * MS, "t1", 100.2, 0.3, "BUY"))
    # Assert
    assert [(f["side"], f["price"], f["size"]) for f in ev.fills] == [("SELL", 100.1, 0.3)]
    assert x.position_base == pytest.approx(-0.3)


def test_when_two_orders_at_same_level_then_trade_fills_them_once_in_time_priority() -> None:
    # Arrange: A then B at 100.0, 3.0 of others ahead of both.
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "A", "BUY", 100.0, 1.0))
    x.on_command(place(T0 + 2 * MS, "B", "BUY", 100.0, 1.0))
    # Act: 4.5 traded: 3.0 queue, 1.0 to A, 0.5 to B.
    ev = x.on_trade(trade(T0 + 3 * MS, "t1", 100.0, 4.5, "SELL"))
    # Assert
    assert [(f["client_order_id"], f["size"]) for f in ev.fills] == [("A", 1.0), ("B", 0.5)]
    assert sum(f["size"] for f in ev.fills) == pytest.approx(4.5 - 3.0)
    assert_all_valid(ev)


def test_when_trade_goes_through_two_of_our_bids_then_total_filled_never_exceeds_trade_size() -> None:
    # Arrange: A at 100.05 (new level, nobody ahead), B at 100.0.
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "A", "BUY", 100.05, 1.0))
    x.on_command(place(T0 + 2 * MS, "B", "BUY", 100.0, 1.0))
    # Act: one SELL print of 1.5 at 99.9 goes through both prices.
    ev = x.on_trade(trade(T0 + 3 * MS, "t1", 99.9, 1.5, "SELL"))
    # Assert: price priority, A first; 1.5 of liquidity is shared, never duplicated.
    assert [(f["client_order_id"], f["price"], f["size"]) for f in ev.fills] == [("A", 100.05, 1.0), ("B", 100.0, 0.5)]
    assert x.position_base == pytest.approx(1.5)


def test_when_same_market_trade_is_delivered_twice_then_it_fills_once() -> None:
    # Arrange
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.05, 1.0))
    t = trade(T0 + 2 * MS, "t1", 100.05, 0.4, "SELL")
    # Act
    first = x.on_trade(t)
    again = x.on_trade(t)
    # Assert
    assert len(first.fills) == 1 and again.fills == []
    assert "duplicate_trade" in again.notes
    assert x.position_base == pytest.approx(0.4)


def test_when_book_shows_less_at_our_level_than_queue_ahead_then_queue_shrinks() -> None:
    # Arrange: 3.0 ahead at 100.0; then the level shows 1.0 (others cancelled 2.0).
    from tests.processors.execution.paper_scripts import book

    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.0, 1.0))
    x.on_book(book(T0 + 2 * MS, 2, [(100.0, 1.0), (99.9, 5.0)], [(100.1, 2.0)]))
    # Act
    ev = x.on_trade(trade(T0 + 3 * MS, "t1", 100.0, 1.5, "SELL"))
    # Assert: 1.0 ahead, then 0.5 for us.
    assert [f["size"] for f in ev.fills] == [0.5]


def test_when_partial_fills_accumulate_then_position_balance_fees_are_exact() -> None:
    # Arrange: SELL 2.0 at 100.1 behind 2.0 (the ask level).
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "a1", "SELL", 100.1, 2.0))
    # Act: 2.5 traded at 100.1 -> 0.5 for us; then 0.25; then 0.75 through at 100.3.
    evs = [
        x.on_trade(trade(T0 + 2 * MS, "t1", 100.1, 2.5, "BUY")),
        x.on_trade(trade(T0 + 3 * MS, "t2", 100.1, 0.25, "BUY")),
        x.on_trade(trade(T0 + 4 * MS, "t3", 100.3, 0.75, "BUY")),
    ]
    # Assert (hand-computed): 1.5 sold at 100.1 = 150.15 quote; maker fee 2 bp = 0.03003.
    sizes = [f["size"] for ev in evs for f in ev.fills]
    assert sizes == [0.5, 0.25, 0.75]
    assert x.position_base == pytest.approx(-1.5, abs=1e-12)
    assert x.fees_quote == pytest.approx(0.03003, rel=1e-12)
    assert x.balance_quote == pytest.approx(10_000.0 + 150.15 - 0.03003, rel=1e-12)
    statuses = [u["status"] for ev in evs for u in ev.order_updates]
    assert statuses == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "PARTIALLY_FILLED"]
    assert evs[-1].order_updates[-1]["filled_size"] == pytest.approx(1.5)
    assert evs[-1].order_updates[-1]["remaining_size"] == pytest.approx(0.5)
    fills = [f for ev in evs for f in ev.fills]
    assert sum(f["fee_quote"] for f in fills) == pytest.approx(x.fees_quote, rel=1e-12)
    assert len({f["trade_id"] for f in fills}) == 3
    for ev in evs:
        assert_all_valid(ev)
