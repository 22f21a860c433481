"""Tick and lot inferred from printed prices and sizes (pure)."""

from __future__ import annotations

import pytest

from processors.market_data.history.increments import increment


@pytest.mark.parametrize(("values", "step"), [
    ([61800.2, 61800.3, 61801.0, 61799.9], 0.1),      # BTCUSDT prices: 0.1 tick
    ([2650.12, 2650.15, 2651.0], 0.01),               # ETHUSDT prices: 0.01 tick
    ([0.001, 0.014, 1.211, 12.111], 0.001),           # sizes: 0.001 lot
    ([100.5, 101.0, 99.5], 0.5),                      # a coarse tick is found as such
    ([3.0, 6.0, 9.0], 3.0),                           # whole numbers
    ([1e-05, 3e-05], 1e-05),                          # scientific spelling of small values
])
def test_when_values_are_multiples_of_a_step_then_the_step_is_found(values: list[float], step: float) -> None:
    assert increment(values) == step


def test_when_there_are_no_positive_finite_values_then_none() -> None:
    assert increment([]) is None
    assert increment([0.0, -1.0, float("nan"), float("inf")]) is None


def test_when_a_float_sum_carries_noise_then_digits_beyond_twelve_decimals_are_ignored() -> None:
    assert increment([0.1 + 0.2, 0.6]) == 0.3  # 0.30000000000000004 counts as 0.3, not as a 1e-17 step
