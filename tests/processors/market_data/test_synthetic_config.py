"""The synthetic market's config: validated, frozen, partially overridable, BTC-like defaults."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from processors.market_data.synthetic import REGIMES, SyntheticMarketConfig


def test_when_one_regime_field_is_overridden_then_everything_else_keeps_its_default() -> None:
    # Arrange
    default = SyntheticMarketConfig()
    # Act
    cfg = SyntheticMarketConfig(regimes={"up": {"drift_per_hour": 0.02}})
    # Assert
    assert cfg.regimes.up.drift_per_hour == 0.02
    assert cfg.regimes.up.daily_vol == default.regimes.up.daily_vol
    assert cfg.regimes.down == default.regimes.down


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"book_levels": 5}, "book_levels"),
        ({"book_interval_ms": 700}, "book_interval_ms"),
        ({"imbalance_return_corr": 0.95}, "imbalance_return_corr"),
        ({"funding_obs_interval_s": 7}, "funding_obs_interval_s"),
        ({"regimes": {"up": {"exit_weights": {"up": 1.0}}}}, "exit_weights"),
        ({"regimes": {"down": {"daily_vol": -0.1}}}, "daily_vol"),
        ({"informed_horizon_s": 10_000}, "informed_horizon_s"),
        ({"no_such_knob": 1}, "no_such_knob"),
    ],
)
def test_when_config_is_invalid_then_error_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        SyntheticMarketConfig(**overrides)  # type: ignore[arg-type]


def test_when_config_is_built_then_it_is_frozen_and_its_id_tracks_its_content() -> None:
    cfg = SyntheticMarketConfig(seed=1)
    with pytest.raises(ValidationError):
        cfg.seed = 2  # type: ignore[misc]
    assert cfg.config_id == SyntheticMarketConfig(seed=1).config_id
    assert cfg.config_id != SyntheticMarketConfig(seed=2).config_id
    assert len(cfg.config_id) == 12


def test_when_defaults_are_used_then_they_look_like_a_btc_usdt_perp() -> None:
    cfg = SyntheticMarketConfig()
    params = cfg.regimes.ordered()
    # time share of each regime in the long run: embedded-chain stationary law times mean duration
    p = np.array([[q.exit_weights.get(n, 0.0) for n in REGIMES] for q in params])
    p /= p.sum(axis=1, keepdims=True)
    w, v = np.linalg.eig(p.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
    share = pi / pi.sum() * np.array([q.mean_duration_s for q in params])
    share /= share.sum()
    blended_daily_vol = float(np.sqrt(np.sum(share * np.array([q.daily_vol for q in params]) ** 2)))

    assert 60_000 <= cfg.initial_price <= 100_000
    assert cfg.tick_size == 0.1 and cfg.lot_size == 0.001
    assert 1.0 <= cfg.spread_bps <= 5.0
    assert 0.02 <= blended_daily_vol <= 0.05
    assert min(share) > 0.01  # every regime actually occurs
    assert cfg.funding_settlement_hours == 8
    assert 100_000 <= 86_400_000 // cfg.book_interval_ms <= 400_000
