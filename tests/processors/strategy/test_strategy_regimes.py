"""The RegimeSpec table: neutral_high_vol exactly as P1-6 gives it, and a coherent ordering."""

from __future__ import annotations

import pytest

from processors.strategy.regimes import PHASE0_SPECS, REGIME_INDEX, REGIME_NAMES, RegimeSpec, regime_from_index
from schemas import load_schema_json


def test_when_reading_neutral_high_vol_then_it_is_the_spec_row() -> None:
    assert PHASE0_SPECS["neutral_high_vol"] == RegimeSpec(
        spread_min=0.0040, spread_max=0.0080, levels_min=1, levels_max=3, refresh_s=100,
        target_base_pct=0.0, quote_size_pct_min=0.0005, quote_size_pct_max=0.0008,
        one_sided="off", fill_factor=0.35,
    )


def test_when_volatility_rises_then_spreads_widen_and_sizes_shrink() -> None:
    low, mid_vol, shock = (PHASE0_SPECS[n] for n in ("neutral_low_vol", "neutral_high_vol", "high_vol_shock"))

    assert low.spread_min < mid_vol.spread_min < shock.spread_min
    assert low.spread_max < mid_vol.spread_max < shock.spread_max
    assert low.quote_size_pct > mid_vol.quote_size_pct > shock.quote_size_pct


def test_when_trend_regimes_then_one_sided_with_the_trend() -> None:
    assert PHASE0_SPECS["up"].one_sided == "buy_only" and PHASE0_SPECS["up"].target_base_pct > 0
    assert PHASE0_SPECS["down"].one_sided == "sell_only" and PHASE0_SPECS["down"].target_base_pct < 0


def test_when_comparing_with_avro_enum_then_names_and_order_match() -> None:
    quote = load_schema_json("quote")
    regime_field = next(f for f in quote["fields"] if f["name"] == "regime")

    assert tuple(regime_field["type"]["symbols"]) == REGIME_NAMES
    assert set(PHASE0_SPECS) == set(REGIME_NAMES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "neutral_low_vol"), (1.0, "neutral_high_vol"), (2.0, "up"), (3.0, "down"), (4.0, "high_vol_shock"),
     (5.0, None), (-1.0, None), (1.5, None), (float("nan"), None)],
)
def test_when_signal_value_is_a_regime_index_then_it_maps_per_road10(value: float, expected: str | None) -> None:
    assert regime_from_index(value) == expected
    if expected is not None:
        assert REGIME_INDEX[expected] == int(value)
