"""Sharpe, drawdown and win rate on series whose answers are worked out by hand."""

from __future__ import annotations

import math

import pytest

from processors.analytics.performance import (
    drawdown_series,
    equity_from_returns,
    max_drawdown,
    sample_std,
    sharpe_ratio,
    win_rate,
)


def test_when_returns_alternate_around_a_mean_then_sharpe_is_mean_over_sample_std_times_sqrt_365() -> None:
    # Arrange: mean 1, deviations +-1 -> sample std = sqrt(4/3)
    returns = [2.0, 0.0, 2.0, 0.0]

    # Act
    s365 = sharpe_ratio(returns)
    s252 = sharpe_ratio(returns, 252)

    # Assert
    assert sample_std(returns) == pytest.approx(math.sqrt(4 / 3))
    assert s365 == pytest.approx(1 / math.sqrt(4 / 3) * math.sqrt(365))
    assert s252 == pytest.approx(1 / math.sqrt(4 / 3) * math.sqrt(252))


@pytest.mark.parametrize("returns", [[], [5.0], [3.0, 3.0, 3.0]])
def test_when_sharpe_is_undefined_then_it_is_none_not_infinite(returns: list[float]) -> None:
    assert sharpe_ratio(returns) is None


def test_when_equity_rises_falls_and_recovers_then_drawdown_is_measured_from_the_running_peak() -> None:
    # Arrange: peak 120, trough 90 -> 25 %; a later dip from 130 to 117 is 10 %
    equity = [100.0, 120.0, 90.0, 110.0, 130.0, 117.0]

    # Act
    dd = drawdown_series(equity)

    # Assert
    assert dd == pytest.approx([0.0, 0.0, 0.25, 10 / 120, 0.0, 0.1])
    assert max_drawdown(equity) == pytest.approx(0.25)


def test_when_equity_only_rises_then_max_drawdown_is_zero() -> None:
    assert max_drawdown([1.0, 2.0, 3.0]) == 0.0
    assert max_drawdown([]) == 0.0


def test_when_daily_returns_compound_then_the_curve_and_its_drawdown_follow() -> None:
    # Arrange: +10 %, -20 %, +5 %
    curve = equity_from_returns([0.10, -0.20, 0.05], start=100.0)

    # Assert: 100 -> 110 -> 88 -> 92.4; drawdown 22/110 = 20 %
    assert curve == pytest.approx([100.0, 110.0, 88.0, 92.4])
    assert max_drawdown(curve) == pytest.approx(0.20)


def test_when_some_days_win_then_win_rate_counts_strictly_positive_days() -> None:
    assert win_rate([1.0, -1.0, 0.0, 2.0]) == 0.5
    assert win_rate([]) is None
