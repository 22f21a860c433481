"""EppV24Config: the spec's defaults, validation with clear messages, frozen, stable config_id."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from processors.strategy import EppV24Config


def test_when_defaults_then_they_are_the_specs_values() -> None:
    cfg = EppV24Config()

    assert cfg.adverse_fill_spread_multiplier == 1.3  # P1-2
    assert cfg.adverse_fill_count_threshold == 20  # P1-2
    assert cfg.close_position_at_rollover is True  # P1-3
    assert cfg.min_close_notional_quote == 5.0  # P1-3
    assert cfg.use_kelly_sizing is False and cfg.kelly_fraction == 0.25  # ROAD-4
    assert (cfg.maker_fee_bps, cfg.taker_fee_bps, cfg.slippage_bps) == (2.0, 6.0, 1.0)  # ROAD-2
    assert cfg.regime_override_hold_s == 30.0  # ROAD-10 step 7
    assert cfg.ml_regime_enabled is False  # ROAD-10 step 8
    assert cfg.candles_connector is None and cfg.use_candles is False  # P1-4: blank by default
    assert cfg.imbalance_levels == 5 and cfg.imbalance_threshold == 0.3  # ROAD-3
    assert cfg.sample_interval_s == 10  # price buffer samples every 10 s
    assert cfg.order_book_stale_after_s == 30.0  # P1-5


@pytest.mark.parametrize("value", [4, 201])
def test_when_adverse_count_threshold_out_of_5_to_200_then_rejected_naming_the_field(value: int) -> None:
    with pytest.raises(ValidationError, match="adverse_fill_count_threshold"):
        EppV24Config(adverse_fill_count_threshold=value)


def test_when_unknown_field_then_rejected() -> None:
    with pytest.raises(ValidationError, match="not_a_field"):
        EppV24Config(not_a_field=1)  # type: ignore[call-arg]


def test_when_assigning_a_field_then_frozen_model_refuses() -> None:
    cfg = EppV24Config()

    with pytest.raises(ValidationError):
        cfg.min_net_edge_bps = 5.0  # type: ignore[misc]


def test_when_min_order_above_max_order_then_message_names_both_and_the_fix() -> None:
    with pytest.raises(ValidationError, match="min_order_quote.*max_order_quote"):
        EppV24Config(min_order_quote=300.0, max_order_quote=250.0)


def test_when_min_base_pct_positive_then_rejected() -> None:
    with pytest.raises(ValidationError, match="min_base_pct"):
        EppV24Config(min_base_pct=0.15)


def test_when_candle_interval_malformed_then_rejected() -> None:
    with pytest.raises(ValidationError, match="candles_interval"):
        EppV24Config(candles_interval="one minute")


def test_when_same_values_then_same_config_id_and_a_changed_field_changes_it() -> None:
    a = EppV24Config(min_net_edge_bps=3.0)
    b = EppV24Config.model_validate({"min_net_edge_bps": 3.0})
    c = EppV24Config(min_net_edge_bps=4.0)

    assert a.config_id == b.config_id
    assert a.config_id != c.config_id
    assert a.config_id.startswith("epp-") and len(a.config_id) == len("epp-") + 12


def test_when_candles_connector_blank_then_candles_not_used() -> None:
    assert EppV24Config(candles_connector="  ").use_candles is False
    assert EppV24Config(candles_connector="bitget").use_candles is True
