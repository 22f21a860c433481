"""Market rules: tick / lot rounding and minimums."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from processors.risk import MarketRules


@pytest.mark.parametrize(
    ("tick", "price", "side", "expected"),
    [
        (0.1, 99.97, "BUY", 99.9),
        (0.1, 99.97, "SELL", 100.0),
        (0.1, 0.3, "BUY", 0.3),  # 0.3 / 0.1 == 2.9999999999999996 must stay 3 ticks
        (0.1, 0.3, "SELL", 0.3),
        (0.5, 65000.26, "BUY", 65000.0),
        (0.5, 65000.26, "SELL", 65000.5),
        (0.01, 1.005, "SELL", 1.01),
        (5.0, 12.0, "BUY", 10.0),
    ],
)
def test_when_price_rounded_then_buy_goes_down_and_sell_up_to_the_tick(tick: float, price: float, side: str, expected: float) -> None:
    rules = MarketRules(tick_size=tick, lot_size=0.001)
    assert rules.round_price(price, side) == expected


@pytest.mark.parametrize(("lot", "size", "expected"), [(0.001, 0.12345, 0.123), (0.001, 0.3, 0.3), (0.01, 0.0099, 0.0), (1.0, 2.9, 2.0), (0.001, -1.0, 0.0)])
def test_when_size_rounded_then_floored_to_the_lot(lot: float, size: float, expected: float) -> None:
    rules = MarketRules(tick_size=0.1, lot_size=lot)
    assert rules.round_size(size) == expected


def test_when_below_minimums_then_rejection_names_the_rule() -> None:
    rules = MarketRules(tick_size=0.1, lot_size=0.001, min_size=0.01, min_notional=5.0)
    assert rules.rejection(100.0, 0.005) == "below_min_size"
    assert rules.rejection(100.0, 0.04) == "below_min_notional"
    assert rules.rejection(100.0, 0.05) is None


def test_when_tick_not_positive_then_config_rejected() -> None:
    with pytest.raises(ValidationError, match="tick_size"):
        MarketRules(tick_size=0.0, lot_size=0.001)
