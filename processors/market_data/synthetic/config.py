"""Typed, frozen configuration of the synthetic market, with defaults calibrated to a BTC-USDT perp.

Every knob of the model lives here with its unit and the reason for its default. Per-regime
parameters can be overridden partially: ``SyntheticMarketConfig(regimes={"up": {"drift_per_hour":
0.01}})`` changes only that field of that regime and keeps every other default.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from processors.market_data.synthetic.calibration import max_imbalance_corr

RegimeName = Literal["neutral_low_vol", "neutral_high_vol", "up", "down", "high_vol_shock"]

REGIMES: tuple[str, ...] = ("neutral_low_vol", "neutral_high_vol", "up", "down", "high_vol_shock")
"""Regime labels, in the order of the Avro ``Regime`` enum; internal arrays index regimes this way."""

HOUR_S = 3600.0
DAY_S = 86_400.0


class RegimeParams(BaseModel):
    """What one regime does to price, activity and information."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean_duration_s: float = Field(gt=0, description="Mean time spent in the regime (exponential holding time), seconds.")
    daily_vol: float = Field(gt=0, description="Diffusive volatility as a fraction per sqrt(day) (0.02 = 2 %/day).")
    drift_per_hour: float = Field(description="Deterministic trend of the log price per hour (0.008 = +0.8 %/h).")
    jump_rate_per_hour: float = Field(ge=0, description="Poisson rate of price jumps, per hour.")
    jump_std_bps: float = Field(ge=0, description="Standard deviation of one jump of the log price, basis points.")
    jump_mean_bps: float = Field(0.0, description="Mean of one jump, basis points (a crash regime may skew jumps).")
    trade_rate: float = Field(gt=0, description="Hawkes baseline (immigrant) trade rate per second; clusters multiply it by 1/(1-branching).")
    informed_fraction: float = Field(ge=0, le=1, description="Probability that a trade cluster is informed (trades ahead of the next move).")
    exit_weights: dict[RegimeName, float] = Field(description="Relative probabilities of the next regime when this one ends.")

    @field_validator("exit_weights")
    @classmethod
    def _weights_positive(cls, v: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("exit_weights must be >= 0 with a positive sum")
        return v

    @property
    def sigma_per_sqrt_s(self) -> float:
        """Diffusive volatility per sqrt(second)."""
        return self.daily_vol / math.sqrt(DAY_S)

    @property
    def jump_var_per_s(self) -> float:
        """Variance the jumps add to the log price per second."""
        return self.jump_rate_per_hour / HOUR_S * ((self.jump_std_bps * 1e-4) ** 2 + (self.jump_mean_bps * 1e-4) ** 2)


def _default_regime(name: str) -> dict[str, Any]:
    # Durations and exits give long-run time shares of ~34 % quiet, 29 % busy, 17 % each trend, 3 % shock.
    # Vols span 1.8 %/day (quiet) to 10 %/day (shock) so the blended daily vol is ~3 %, like BTC.
    # Trends of 0.8 %/h over a 1.5 h episode are visible to an EMA detector without being absurd.
    # Informed shares rise with trend and stress: that is where makers get picked off.
    table: dict[str, dict[str, Any]] = {
        "neutral_low_vol": dict(
            mean_duration_s=2.0 * HOUR_S, daily_vol=0.018, drift_per_hour=0.0, jump_rate_per_hour=0.1,
            jump_std_bps=15.0, trade_rate=0.6, informed_fraction=0.08,
            exit_weights={"neutral_high_vol": 0.34, "up": 0.29, "down": 0.29, "high_vol_shock": 0.08},
        ),
        "neutral_high_vol": dict(
            mean_duration_s=1.5 * HOUR_S, daily_vol=0.04, drift_per_hour=0.0, jump_rate_per_hour=0.5,
            jump_std_bps=25.0, trade_rate=1.0, informed_fraction=0.15,
            exit_weights={"neutral_low_vol": 0.45, "up": 0.2, "down": 0.2, "high_vol_shock": 0.15},
        ),
        "up": dict(
            mean_duration_s=1.5 * HOUR_S, daily_vol=0.028, drift_per_hour=0.008, jump_rate_per_hour=0.3,
            jump_std_bps=20.0, jump_mean_bps=5.0, trade_rate=0.9, informed_fraction=0.3,
            exit_weights={"neutral_low_vol": 0.35, "neutral_high_vol": 0.35, "down": 0.1, "high_vol_shock": 0.2},
        ),
        "down": dict(
            mean_duration_s=1.5 * HOUR_S, daily_vol=0.032, drift_per_hour=-0.008, jump_rate_per_hour=0.4,
            jump_std_bps=20.0, jump_mean_bps=-5.0, trade_rate=0.95, informed_fraction=0.3,
            exit_weights={"neutral_low_vol": 0.3, "neutral_high_vol": 0.4, "up": 0.1, "high_vol_shock": 0.2},
        ),
        "high_vol_shock": dict(
            mean_duration_s=20.0 * 60.0, daily_vol=0.10, drift_per_hour=0.0, jump_rate_per_hour=6.0,
            jump_std_bps=40.0, trade_rate=2.2, informed_fraction=0.4,
            exit_weights={"neutral_high_vol": 0.6, "neutral_low_vol": 0.1, "up": 0.15, "down": 0.15},
        ),
    }
    return dict(table[name])


class RegimeTable(BaseModel):
    """Parameters of the five regimes. A partial dict per regime overrides only the fields it names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    neutral_low_vol: RegimeParams = Field(default_factory=lambda: RegimeParams(**_default_regime("neutral_low_vol")))
    neutral_high_vol: RegimeParams = Field(default_factory=lambda: RegimeParams(**_default_regime("neutral_high_vol")))
    up: RegimeParams = Field(default_factory=lambda: RegimeParams(**_default_regime("up")))
    down: RegimeParams = Field(default_factory=lambda: RegimeParams(**_default_regime("down")))
    high_vol_shock: RegimeParams = Field(default_factory=lambda: RegimeParams(**_default_regime("high_vol_shock")))

    @model_validator(mode="before")
    @classmethod
    def _merge_partial_overrides(cls, data: Any) -> Any:
        # Why: overriding one field of one regime should not require restating the whole table.
        if not isinstance(data, dict):
            return data
        merged: dict[str, Any] = {}
        for name, value in data.items():
            if name in REGIMES and isinstance(value, dict):
                merged[name] = {**_default_regime(name), **value}
            else:
                merged[name] = value
        return merged

    @model_validator(mode="after")
    def _no_self_exit(self) -> RegimeTable:
        for name in REGIMES:
            if name in self.get(name).exit_weights:
                raise ValueError(f"regimes.{name}.exit_weights must not name {name} itself (a switch changes regime)")
        return self

    def get(self, name: str) -> RegimeParams:
        """Parameters of regime ``name``."""
        return getattr(self, name)  # type: ignore[no-any-return]

    def ordered(self) -> tuple[RegimeParams, ...]:
        """Parameters of all regimes in ``REGIMES`` order (the index used by the simulation arrays)."""
        return tuple(self.get(n) for n in REGIMES)


class SyntheticMarketConfig(BaseModel):
    """Everything that, with the seed, determines the synthetic market bit for bit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # identity and clock
    seed: int = Field(0, ge=0, description="Seed of numpy's PCG64; the same seed and config give the same records.")
    start_us: int = Field(1_704_067_200_000_000, ge=0, description="Event time of the first simulated instant, UTC microseconds (default 2024-01-01T00:00Z).")
    market: str = Field("synthetic:BTC/USDT:USDT", min_length=3, description="Market key 'exchange:symbol' stamped on every record.")

    # instrument
    initial_price: float = Field(65_000.0, gt=0, description="Mid price at start, quote currency (BTC ~ 60k-100k USDT).")
    tick_size: float = Field(0.1, gt=0, description="Price increment (Bitget/Binance BTCUSDT perp: 0.1).")
    lot_size: float = Field(0.001, gt=0, description="Size increment in base currency (0.001 BTC).")

    # simulation grid
    book_interval_ms: int = Field(500, gt=0, description="Event time between book snapshots; 500 ms gives 172,800 snapshots a day.")
    block_seconds: int = Field(900, gt=0, description="Internal simulation block: time is simulated this many seconds at a time with numpy. Part of the model (changing it changes the random draws), not of the caller's chunking.")

    # regimes
    initial_regime: RegimeName = Field("neutral_low_vol", description="Regime at start_us.")
    regimes: RegimeTable = Field(default_factory=RegimeTable, description="Per-regime parameters (partial overrides allowed).")

    # book shape
    book_levels: int = Field(10, ge=10, le=50, description="Price levels per side (the spec asks for at least 10).")
    reference_daily_vol: float = Field(0.03, gt=0, description="Volatility at which spread and depth take their reference values.")
    spread_bps: float = Field(2.0, gt=0, description="Typical quoted spread at the reference vol, basis points.")
    spread_vol_elasticity: float = Field(0.7, ge=0, description="Spread grows as (vol/reference)^elasticity: makers widen when vol rises.")
    spread_noise: float = Field(0.2, ge=0, description="Log-std of the slow random wobble of the spread.")
    spread_noise_tau_s: float = Field(10.0, gt=0, description="Persistence (e-folding time) of that wobble, seconds.")
    level_gap_bps: float = Field(0.8, gt=0, description="Typical gap between consecutive levels at the reference vol, basis points (scales like the spread).")
    depth_top: float = Field(2.0, gt=0, description="Mean resting size at the best level at the reference vol, base currency.")
    depth_level_slope: float = Field(0.3, ge=0, description="Mean size grows by this fraction of depth_top per level away from the touch.")
    depth_noise: float = Field(0.4, ge=0, description="Log-std of the size of one level in one snapshot.")
    depth_vol_elasticity: float = Field(0.5, ge=0, description="Depth shrinks as (reference/vol)^elasticity: liquidity thins out in fast markets.")
    stress_jump_scale_bps: float = Field(20.0, gt=0, description="A jump of this size adds 100 % to the spread (and halves depth) right after it.")
    stress_decay_s: float = Field(30.0, gt=0, description="E-folding time of that post-jump stress, seconds.")

    # imbalance signal
    imbalance_levels: int = Field(5, ge=1, description="Levels per side the imbalance is measured on (bid-ask)/(bid+ask).")
    imbalance_return_corr: float = Field(0.25, ge=0, lt=1, description="Target correlation, inside each regime, between the top-N imbalance of a snapshot and the mid log-return over the next imbalance_horizon_s. 0 switches the signal off.")
    imbalance_horizon_s: float = Field(5.0, gt=0, description="Horizon of that correlation, seconds.")
    imbalance_signal_tau_s: float = Field(5.0, gt=0, description="Persistence of the latent short-term drift the imbalance reveals, seconds.")
    imbalance_signal_weight: float = Field(0.8, ge=0, le=1, description="Share of the imbalance driven by the latent drift; the rest is book noise.")
    imbalance_noise_tau_s: float = Field(3.0, gt=0, description="Persistence of that book noise, seconds.")
    imbalance_sharpness: float = Field(0.9, gt=0, description="k in imbalance = tanh(k * signal): higher pushes imbalances toward +-1.")

    # trades
    hawkes_branching: float = Field(0.6, ge=0, lt=1, description="Mean number of trades each trade triggers (self-excitation); clusters average 1/(1-b) trades.")
    hawkes_decay_s: float = Field(0.3, gt=0, description="Mean delay between a trade and the trades it triggers, seconds.")
    informed_horizon_s: float = Field(10.0, gt=0, description="An informed trade knows the sign of the mid move over this horizon, seconds.")
    informed_size_mult: float = Field(2.0, gt=0, description="Informed trades are this many times larger on average.")
    trade_size_median: float = Field(0.02, gt=0, description="Median size of the lognormal body of trade sizes, base currency.")
    trade_size_sigma: float = Field(1.2, gt=0, description="Log-std of the lognormal body.")
    trade_size_tail_prob: float = Field(0.03, ge=0, le=1, description="Share of trades drawn from the Pareto tail instead.")
    trade_size_tail_min: float = Field(0.5, gt=0, description="Pareto scale (smallest tail trade), base currency.")
    trade_size_tail_alpha: float = Field(1.6, gt=0, description="Pareto tail index (smaller = heavier).")
    trade_size_max: float = Field(25.0, gt=0, description="Cap on one trade's size, base currency.")

    # funding
    funding_settlement_hours: int = Field(8, gt=0, le=24, description="Settlements every this many hours from 00:00 UTC (8 -> 00, 08, 16 UTC).")
    funding_obs_interval_s: int = Field(60, gt=0, description="Event time between funding-rate observations, seconds.")
    funding_base_rate: float = Field(0.0001, description="Long-run funding rate per period (0.0001 = 1 bp, the usual BTC perp level).")
    funding_noise: float = Field(0.00008, ge=0, description="Standard deviation of the funding rate around its regime target.")
    funding_tau_hours: float = Field(6.0, gt=0, description="Persistence of funding deviations, hours.")
    funding_trend_coupling: float = Field(0.0125, description="Funding target moves by this times the regime drift per hour: longs pay more in up-trends.")
    funding_cap: float = Field(0.003, gt=0, description="Absolute cap on the funding rate per period.")

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticMarketConfig:
        block_ms = self.block_seconds * 1000
        if block_ms % self.book_interval_ms:
            raise ValueError(f"book_interval_ms={self.book_interval_ms} must divide block_seconds*1000={block_ms}")
        dt_s = self.book_interval_ms / 1000.0
        if not dt_s <= self.informed_horizon_s <= self.block_seconds:
            raise ValueError("informed_horizon_s must lie between book_interval_ms/1000 and block_seconds (the lookahead is one block)")
        if self.imbalance_horizon_s < dt_s:
            raise ValueError("imbalance_horizon_s must be at least one book interval")
        if self.imbalance_levels > self.book_levels:
            raise ValueError("imbalance_levels must not exceed book_levels")
        settle_s = self.funding_settlement_hours * 3600
        if 86_400 % settle_s:
            raise ValueError("funding_settlement_hours must divide 24")
        if settle_s % self.funding_obs_interval_s:
            raise ValueError(f"funding_obs_interval_s must divide the settlement interval ({settle_s} s)")
        if self.trade_size_max < self.lot_size:
            raise ValueError("trade_size_max must be at least lot_size")
        if self.imbalance_return_corr > 0:
            reach = max_imbalance_corr(self.signal_ar_coef, self.imbalance_horizon_steps, self.imbalance_sharpness, self.imbalance_signal_weight)
            if self.imbalance_return_corr >= reach:
                raise ValueError(
                    f"imbalance_return_corr={self.imbalance_return_corr} is above the reachable {reach:.3f}; "
                    "lower it, or raise imbalance_signal_tau_s / imbalance_signal_weight"
                )
        return self

    @property
    def config_id(self) -> str:
        """Short stable hash of the config's JSON (seed included): names the run in ids and records."""
        return hashlib.blake2b(self.model_dump_json().encode("utf-8"), digest_size=6).hexdigest()

    @property
    def dt_s(self) -> float:
        """Book interval in seconds."""
        return self.book_interval_ms / 1000.0

    @property
    def dt_us(self) -> int:
        """Book interval in microseconds."""
        return self.book_interval_ms * 1000

    @property
    def steps_per_block(self) -> int:
        """Book snapshots per simulation block."""
        return self.block_seconds * 1000 // self.book_interval_ms

    @property
    def imbalance_horizon_steps(self) -> int:
        """Imbalance horizon in book steps (at least 1)."""
        return max(1, round(self.imbalance_horizon_s / self.dt_s))

    @property
    def informed_horizon_steps(self) -> int:
        """Informed lookahead in book steps (at least 1)."""
        return max(1, round(self.informed_horizon_s / self.dt_s))

    @property
    def signal_ar_coef(self) -> float:
        """Per-step AR(1) coefficient of the latent drift."""
        return math.exp(-self.dt_s / self.imbalance_signal_tau_s)
