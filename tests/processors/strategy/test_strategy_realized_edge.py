"""Realized fill edge, the adverse-fill counter and spread widening [P1-2]."""

from __future__ import annotations

import pytest

from processors.strategy.realized_edge import FillEdgeTracker, fill_edge_bps
from tests.processors.strategy.strategy_testkit import Feed


@pytest.mark.parametrize(
    ("side", "price", "expected"),
    [("BUY", 99.9, 10.0), ("SELL", 100.1, 10.0), ("BUY", 100.1, -10.0), ("SELL", 99.9, -10.0)],
)
def test_when_fill_is_better_than_mid_then_edge_is_positive(side: str, price: float, expected: float) -> None:
    assert fill_edge_bps(side, price, 100.0) == pytest.approx(expected)


def test_when_two_fills_then_ewma_uses_alpha_005_seeded_with_the_first() -> None:
    tracker = FillEdgeTracker(count_threshold=20, kelly_window=50)

    tracker.on_fill(10.0, cost_floor_bps=3.0)
    tracker.on_fill(0.0, cost_floor_bps=3.0)

    assert tracker.ewma == pytest.approx(0.95 * 10.0)
    assert tracker.observations == 2


def test_when_ewma_between_minus_floor_and_half_floor_then_counter_holds() -> None:
    tracker = FillEdgeTracker(count_threshold=5, kelly_window=50)
    tracker.on_fill(-10.0, 3.0)
    tracker.on_fill(-10.0, 3.0)
    assert tracker.adverse_count == 2

    tracker.ewma = -2.0  # between -3 and -1.5
    tracker.on_fill(-2.0, 3.0)
    assert tracker.adverse_count == 2

    tracker.on_fill(40.0, 3.0)  # EWMA -2 -> 0.1: recovered above -1.5
    assert tracker.adverse_count == 0


def _adverse_fills(feed: Feed, count: int) -> None:
    for _ in range(count):
        feed.fill("BUY", 100.1, 0.01)  # 10 bps worse than mid: adverse against a ~3 bp floor
        assert feed.book(100.0) is not None


def test_when_20_consecutive_adverse_fills_then_spreads_widen_by_the_multiplier() -> None:
    feed = Feed()
    feed.book(100.0)

    _adverse_fills(feed, 19)
    before = feed.decisions[-1].state
    _adverse_fills(feed, 1)
    after = feed.decisions[-1].state

    assert before["spread_multiplier"] == 1.0 and before["adverse_fill_active"] is False
    assert after["spread_multiplier"] == pytest.approx(1.3) and after["adverse_fill_active"] is True
    assert after["spread_multiplier"] > 1.0
    assert after["spread_min"] == pytest.approx(0.0025 * 1.3)
    assert after["spread_max"] == pytest.approx(0.0045 * 1.3)
    assert after["fill_edge_ewma_bps"] == pytest.approx(-10.0)


def test_when_ewma_recovers_above_half_the_floor_then_widening_resets() -> None:
    feed = Feed()
    feed.book(100.0)
    _adverse_fills(feed, 20)
    floor_bps = feed.decisions[-1].detail.cost_floor_bps

    widened_until_recovery = True
    while feed.core.fill_edge.ewma <= -floor_bps * 0.5:  # type: ignore[operator]
        widened_until_recovery &= feed.decisions[-1].state["spread_multiplier"] > 1.0
        feed.fill("BUY", 99.9, 0.01)  # +10 bps: good fills
        feed.book(100.0)
    recovered = feed.decisions[-1].state

    assert widened_until_recovery
    assert recovered["spread_multiplier"] == 1.0
    assert recovered["adverse_fill_active"] is False
    assert feed.core.fill_edge.adverse_count == 0


def test_when_custom_threshold_then_it_applies() -> None:
    feed = Feed(adverse_fill_count_threshold=5, adverse_fill_spread_multiplier=2.0)
    feed.book(100.0)

    _adverse_fills(feed, 5)

    assert feed.decisions[-1].state["spread_multiplier"] == 2.0
