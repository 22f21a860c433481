"""Order-book imbalance (top 5 levels) and the skew it adds [ROAD-3]."""

from __future__ import annotations

import pytest

from processors.strategy.imbalance import book_imbalance, combine_skew, imbalance_skew
from tests.processors.strategy.strategy_testkit import Feed


def _levels(*sizes: float) -> list[dict[str, float]]:
    return [{"price": 100.0 - i, "size": s} for i, s in enumerate(sizes)]


def test_when_depths_differ_then_imbalance_is_normalised_difference() -> None:
    assert book_imbalance(_levels(4, 4, 4, 4, 4), _levels(1, 1, 1, 1, 1), 5) == pytest.approx((20 - 5) / 25)
    assert book_imbalance(_levels(1, 1), _levels(3, 3), 5) == pytest.approx(-0.5)


def test_when_book_has_more_than_five_levels_then_only_the_top_five_count() -> None:
    assert book_imbalance(_levels(1, 1, 1, 1, 1, 1000), _levels(1, 1, 1, 1, 1, 1), 5) == 0.0


def test_when_book_is_empty_then_imbalance_is_zero() -> None:
    assert book_imbalance([], [], 5) == 0.0


def test_when_imbalance_within_threshold_then_no_skew() -> None:
    assert imbalance_skew(0.3, 0.3, 0.001) == 0.0
    assert imbalance_skew(-0.29, 0.3, 0.001) == 0.0
    assert imbalance_skew(0.6, 0.3, 0.001) == pytest.approx(0.0006)


def _decide(bid_sizes: tuple[float, ...], ask_sizes: tuple[float, ...], **config: object):
    feed = Feed(**config)
    d = feed.book(100.0, bid_sizes=bid_sizes, ask_sizes=ask_sizes)
    assert d is not None
    return d


def test_when_bids_dominate_then_the_ask_widens() -> None:
    balanced = _decide((1.0,) * 5, (1.0,) * 5)
    strong_bid = _decide((4.0,) * 5, (1.0,) * 5)

    assert strong_bid.state["ob_imbalance"] == pytest.approx(0.6)
    assert strong_bid.detail.sell_distances[0] == pytest.approx(balanced.detail.sell_distances[0] + 0.0006)
    assert strong_bid.detail.sell_distances[0] > strong_bid.detail.buy_distances[0]


def test_when_asks_dominate_then_the_bid_widens() -> None:
    balanced = _decide((1.0,) * 5, (1.0,) * 5)
    strong_ask = _decide((1.0,) * 5, (4.0,) * 5)

    assert strong_ask.state["ob_imbalance"] == pytest.approx(-0.6)
    assert strong_ask.detail.buy_distances[0] == pytest.approx(balanced.detail.buy_distances[0] + 0.0006)
    assert strong_ask.detail.buy_distances[0] > strong_ask.detail.sell_distances[0]


def test_when_added_to_inventory_skew_then_the_sum_is_capped() -> None:
    cap = 0.003
    assert combine_skew(-cap, -0.0006, cap) == pytest.approx(-cap)  # same direction: capped
    assert combine_skew(-cap, 0.0006, cap) == pytest.approx(-cap + 0.0006)  # opposite: additive
    assert combine_skew(0.001, 0.0006, cap) == pytest.approx(0.0016)


def test_when_core_is_long_and_asks_dominate_then_total_skew_stays_at_the_cap() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.fill("BUY", 100.0, 50.0)  # base_pct 0.5: inventory skew at -cap already

    d = feed.book(100.0, bid_sizes=(1.0,) * 5, ask_sizes=(4.0,) * 5)

    assert d is not None
    assert d.detail.inventory_skew == pytest.approx(-0.003)
    assert d.detail.imbalance_skew == pytest.approx(-0.0006)
    assert d.detail.skew == pytest.approx(-0.003)
