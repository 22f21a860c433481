"""Position and PnL accounting from fills."""

from __future__ import annotations

import pytest

from processors.strategy.accounting import PositionBook


def test_when_buying_twice_then_average_cost_is_size_weighted() -> None:
    book = PositionBook(1000.0)

    book.apply_fill("BUY", 100.0, 1.0, 0.0)
    book.apply_fill("BUY", 110.0, 3.0, 0.0)

    assert book.position == 4.0
    assert book.avg_cost == pytest.approx((100.0 + 330.0) / 4.0)


def test_when_reducing_then_realized_pnl_is_against_average_cost_and_fees_are_separate() -> None:
    book = PositionBook(1000.0)
    book.apply_fill("BUY", 100.0, 2.0, 0.04)

    realized = book.apply_fill("SELL", 105.0, 1.5, 0.03)

    assert realized == pytest.approx(1.5 * 5.0)
    assert book.realized_pnl_day == pytest.approx(7.5)
    assert book.fees_day == pytest.approx(0.07)
    assert book.position == pytest.approx(0.5)
    assert book.avg_cost == 100.0


def test_when_a_fill_flips_the_position_then_the_remainder_opens_at_the_fill_price() -> None:
    book = PositionBook(1000.0)
    book.apply_fill("SELL", 100.0, 1.0, 0.0)  # short 1 @ 100

    realized = book.apply_fill("BUY", 90.0, 3.0, 0.0)  # cover 1 (+10), open long 2 @ 90

    assert realized == pytest.approx(10.0)
    assert book.position == pytest.approx(2.0)
    assert book.avg_cost == 90.0


def test_when_closed_exactly_then_flat_with_zero_cost() -> None:
    book = PositionBook(1000.0)
    book.apply_fill("BUY", 100.0, 0.3, 0.0)
    book.apply_fill("SELL", 101.0, 0.1, 0.0)
    book.apply_fill("SELL", 101.0, 0.2, 0.0)

    assert book.position == 0.0 and book.avg_cost == 0.0
    assert book.unrealized(150.0) == 0.0


def test_when_marked_to_mid_then_equity_is_cash_plus_position_and_matches_pnl() -> None:
    book = PositionBook(1000.0)
    book.apply_fill("BUY", 100.0, 2.0, 0.1)
    book.apply_fill("SELL", 104.0, 1.0, 0.1)

    mid = 102.0
    assert book.unrealized(mid) == pytest.approx(1.0 * (102.0 - 100.0))
    assert book.equity(mid) == pytest.approx(1000.0 + book.realized_pnl_day + book.unrealized(mid) - book.fees_day)
    assert book.base_pct(mid) == pytest.approx(102.0 / book.equity(mid))


def test_when_day_rolls_then_daily_figures_reset_but_position_and_cash_stay() -> None:
    book = PositionBook(1000.0)
    book.apply_fill("BUY", 100.0, 2.0, 0.1)
    book.apply_fill("SELL", 104.0, 1.0, 0.1)
    cash = book.cash

    book.roll_day()

    assert (book.realized_pnl_day, book.fees_day, book.turnover_day_quote, book.fills_day) == (0.0, 0.0, 0.0, 0)
    assert book.position == 1.0 and book.cash == cash
