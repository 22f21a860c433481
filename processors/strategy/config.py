"""``EppV24Config``: the typed, validated, frozen config of one EPP v2.4 strategy instance.

Fields the spec names keep the spec's names and defaults (P1-1..P1-6, ROAD-2..4, ROAD-10). Where the
spec is silent the default is the earlier desk's value or, failing that, an invented one; each such
field says so in its description ("invented"). Money and rates are plain floats: the strategy core
runs on every market event and Decimal would cost it most of its throughput; all prices it emits
are rounded to ``tick_size`` and sizes to ``lot_size`` at the end, so float noise never reaches an
order.
"""

from __future__ import annotations

import json
from hashlib import blake2b

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EppV24Config(BaseModel):
    """Config of one EPP v2.4 market-making instance (one market)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- cost model [P1-1, ROAD-2] -------------------------------------------------------------
    maker_fee_bps: float = Field(default=2.0, ge=-10.0, le=100.0, description="Maker fee in bps (ROAD-2: 0.02 %).")
    taker_fee_bps: float = Field(
        default=6.0, ge=0.0, le=100.0,
        description="Taker fee in bps (ROAD-2: 0.06 %). Not used by the quoting maths (the strategy only "
        "quotes passively); kept here so one config carries the fee model for paper execution and TCA.",
    )
    slippage_bps: float = Field(default=1.0, ge=0.0, le=100.0, description="Slippage per fill in bps (ROAD-2: 1 bp).")
    min_net_edge_bps: float = Field(
        default=2.0, ge=0.0, le=100.0,
        description="Net edge a side must clear on top of the cost floor, in bps (the desk's first default).",
    )
    turnover_cap_x: float = Field(
        default=3.0, gt=0.0,
        description="Daily turnover (traded notional / equity) at which spreads reach spread_max and levels "
        "levels_min; beyond it a turnover penalty joins the cost floor (desk default).",
    )
    turnover_penalty_step: float = Field(
        default=0.0010, ge=0.0,
        description="Cost added per 1x of turnover beyond turnover_cap_x, as a fraction of mid (desk default).",
    )

    # --- regime detection [P1-4, P1-6] ----------------------------------------------------------
    ema_period: int = Field(default=50, ge=2, le=1000, description="EMA period in bars (1 m) for the trend test.")
    band_period: int = Field(default=14, ge=1, le=1000, description="ATR (band) period in bars (1 m).")
    high_vol_band_pct: float = Field(
        default=0.0080, gt=0.0,
        description="ATR/price at or above which the regime is high_vol_shock; half of it starts neutral_high_vol.",
    )
    shock_drift_30s_pct: float = Field(
        default=0.0100, gt=0.0, description="30 s absolute mid drift that also means high_vol_shock (desk default)."
    )
    trend_eps_pct: float = Field(
        default=0.0010, ge=0.0, description="Mid above/below EMA by more than this fraction means up/down."
    )
    drift_smoothing_alpha: float = Field(
        default=0.2, gt=0.0, le=1.0,
        description="EWMA alpha, per 10 s sample, of the 30 s drift that enters the cost floor (the spec's "
        "smooth_drift; invented default, ~50 s memory; 1 = raw drift). Shock detection uses the raw drift.",
    )
    sample_interval_s: int = Field(default=10, ge=1, le=60, description="Price buffer sampling interval (10 s).")
    bar_interval_s: int = Field(
        default=60, ge=10, le=3600,
        description="The price buffer groups its samples into bars of this length so the EMA/ATR periods mean "
        "the same thing from the buffer as from 1 m candles (invented default: 60).",
    )
    candles_connector: str | None = Field(
        default=None,
        description="When set (non-empty), regime EMA/ATR come from 1 m candles of hb.market.candle.v1; "
        "falls back to the price buffer when candles are missing, too few or stale [P1-4].",
    )
    candles_interval: str = Field(
        default="1m", pattern=r"^[1-9][0-9]*[smhd]$", description="Only candles with this interval are used."
    )
    candles_max_age_s: float = Field(
        default=180.0, gt=0.0,
        description="Candles whose close is older than this (event time) count as missing (invented: 3 bars).",
    )
    regime_override_hold_s: float = Field(
        default=30.0, gt=0.0, description="How long a regime override holds before detection resumes [ROAD-10]."
    )
    ml_regime_enabled: bool = Field(
        default=False, description="Apply regime_override *signals* (ML classifier) [ROAD-10 step 8]; "
        "set_regime_override intents always apply."
    )

    # --- inventory [P0-1] -------------------------------------------------------------------------
    min_base_pct: float = Field(
        default=-0.60, ge=-1.0, le=0.0,
        description="Net base pct (signed) below which only the reducing side (BUY) is quoted. Must be <= 0 so "
        "de-risking always reduces |position| (invented: mirror of max_base_pct).",
    )
    max_base_pct: float = Field(
        default=0.60, ge=0.0, le=1.0,
        description="Net base pct above which only the reducing side (SELL) is quoted (desk: 0.90 -> 0.60).",
    )
    inventory_skew_cap_pct: float = Field(
        default=0.0030, ge=0.0005, le=0.05,
        description="Cap on the quote skew (inventory + order-book imbalance), fraction of mid (desk default).",
    )
    inventory_skew_vol_multiplier: float = Field(
        default=1.0, ge=0.0, le=10.0, description="Skew grows by this x (band / high_vol_band) (desk default)."
    )
    derisk_spread_pct: float = Field(
        default=0.0003, ge=0.0, le=0.05,
        description="Distance from mid of de-risk-only quotes (3 bps); 0 uses the regime half spread.",
    )
    is_perp: bool = Field(
        default=True,
        description="Perpetual swap: funding enters the cost floor and the position may go short. False = spot: "
        "no funding, targets clipped to >= 0 and SELL quotes never exceed the position held.",
    )
    one_sided_on_perp: bool = Field(
        default=False,
        description="Honour the regimes' one-sided modes on perps (the spec's done item: one-sided regimes "
        "accumulated runaway exposure on a delta-neutral perp, so off by default).",
    )

    # --- funding [P1-1] ---------------------------------------------------------------------------
    funding_max_age_s: float = Field(
        default=43_200.0, gt=0.0,
        description="A funding observation older than this (event time) is treated as unknown (rate 0) "
        "(invented: 1.5 funding periods of 8 h).",
    )

    # --- realized edge [P1-2] ---------------------------------------------------------------------
    adverse_fill_spread_multiplier: float = Field(
        default=1.3, ge=1.0, le=5.0,
        description="Spread multiplier when realized fill edge EWMA is persistently negative.",
    )
    adverse_fill_count_threshold: int = Field(default=20, ge=5, le=200)

    # --- EOD close [P1-3] -------------------------------------------------------------------------
    close_position_at_rollover: bool = Field(default=True)
    min_close_notional_quote: float = Field(default=5.0, ge=0.0)

    # --- order-book imbalance [ROAD-3] ------------------------------------------------------------
    imbalance_levels: int = Field(default=5, ge=1, le=50, description="Book levels per side in the imbalance.")
    imbalance_threshold: float = Field(
        default=0.3, ge=0.0, lt=1.0, description="|imbalance| above which the skew reacts (ROAD-3: 0.3)."
    )
    imbalance_skew_pct: float = Field(
        default=0.0010, ge=0.0, le=0.05,
        description="Skew per unit of imbalance beyond the threshold, fraction of mid (invented: 10 bps at "
        "full imbalance); added to the inventory skew, the sum capped by inventory_skew_cap_pct.",
    )

    # --- sizing [ROAD-4] --------------------------------------------------------------------------
    total_amount_quote: float = Field(
        default=10_000.0, gt=0.0,
        description="Capital allocated to the instance in quote currency: the starting equity that base_pct "
        "and the regime sizes (quote_size_pct x equity) are measured against (invented default).",
    )
    min_order_quote: float = Field(default=5.0, gt=0.0, description="Smallest order notional (exchange minimum).")
    max_order_quote: float = Field(default=250.0, gt=0.0, description="Largest order notional (desk: 250).")
    use_kelly_sizing: bool = Field(default=False)
    kelly_fraction: float = Field(default=0.25, gt=0.0, le=1.0)
    kelly_min_observations: int = Field(default=20, ge=1, description="Fills needed before Kelly sizing applies.")
    kelly_window: int = Field(default=50, ge=2, description="Fills in the rolling std of the fill-edge EWMA.")

    # --- quoting mechanics ------------------------------------------------------------------------
    tick_size: float = Field(default=0.01, gt=0.0, description="Price increment; quotes are rounded to it.")
    lot_size: float = Field(default=0.000001, gt=0.0, description="Size increment in base currency.")
    min_side_spread_bps: float = Field(
        default=1.0, ge=0.0, description="No quote closer to mid than this, nor than half the market spread."
    )
    requote_mid_move_bps: float = Field(
        default=5.0, gt=0.0,
        description="Re-decide as soon as mid moved this far from the last decision's mid (invented).",
    )
    order_book_stale_after_s: float = Field(default=30.0, gt=0.0, description="Staleness gate of the book [P1-5].")

    @model_validator(mode="after")
    def _check_consistency(self) -> EppV24Config:
        if self.min_order_quote > self.max_order_quote:
            raise ValueError(
                f"min_order_quote ({self.min_order_quote}) must be <= max_order_quote ({self.max_order_quote}); "
                "raise max_order_quote or lower min_order_quote"
            )
        return self

    @property
    def use_candles(self) -> bool:
        """True when a candles source is configured [P1-4]."""
        return bool(self.candles_connector and self.candles_connector.strip())

    @property
    def config_id(self) -> str:
        """Short stable hash of the config's JSON; goes into every decision record."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "epp-" + blake2b(payload.encode("utf-8"), digest_size=6).hexdigest()
