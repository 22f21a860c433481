"""Which regime is in force: EMA/ATR detection [P1-4, P1-6] and the 30 s override [ROAD-10 step 7].

Detection (the desk's rule plus P1-6), with ``band`` the ATR-like volatility and ``drift`` the 30 s
mid drift:

1. ``band >= high_vol_band_pct`` or ``drift >= shock_drift_30s_pct`` -> ``high_vol_shock``;
2. mid above EMA by more than ``trend_eps_pct`` -> ``up``; below -> ``down``; else neutral
   (no EMA yet -> neutral);
3. a neutral reading with ``band >= high_vol_band_pct * 0.5`` -> ``neutral_high_vol``, otherwise
   ``neutral_low_vol``.

EMA and band come from 1 m candles when a candles source is configured and the candles are
sufficient and fresh (``regime_source = "ohlcv"``), otherwise from the price buffer
(``"price_buffer"``). An override holds for ``regime_override_hold_s`` of event time; its source is
``"override"`` for a ``set_regime_override`` intent and ``"ml"`` for a ``regime_override`` signal
(ROAD-10's acceptance: ``regime_source: ml`` when the classifier is active).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.strategy.candles import CandleSeries
from processors.strategy.config import EppV24Config
from processors.strategy.price_buffer import PriceBuffer
from processors.strategy.regimes import DOWN, HIGH_VOL_SHOCK, NEUTRAL_HIGH_VOL, NEUTRAL_LOW_VOL, UP

SOURCE_OHLCV = "ohlcv"
SOURCE_PRICE_BUFFER = "price_buffer"
SOURCE_OVERRIDE = "override"
SOURCE_ML = "ml"


@dataclass(frozen=True, slots=True)
class Indicators:
    """EMA and band used for one detection, and where they came from."""

    source: str
    ema: float | None
    band_pct: float | None


def classify_regime(
    mid: float,
    ema: float | None,
    band_pct: float | None,
    drift_30s: float,
    *,
    high_vol_band_pct: float,
    shock_drift_30s_pct: float,
    trend_eps_pct: float,
) -> str:
    """The regime name for these readings (see the module docstring for the rule)."""
    band = band_pct if band_pct is not None else 0.0
    if band >= high_vol_band_pct or drift_30s >= shock_drift_30s_pct:
        return HIGH_VOL_SHOCK
    if ema is not None and ema > 0.0:
        if mid > ema * (1.0 + trend_eps_pct):
            return UP
        if mid < ema * (1.0 - trend_eps_pct):
            return DOWN
    if band >= high_vol_band_pct * 0.5:
        return NEUTRAL_HIGH_VOL
    return NEUTRAL_LOW_VOL


def select_indicators(config: EppV24Config, candles: CandleSeries, buffer: PriceBuffer, now_us: int) -> Indicators:
    """EMA/band from candles when configured, sufficient and fresh, else from the price buffer [P1-4]."""
    if config.use_candles:
        last_close = candles.last_close_time_us()
        fresh = last_close is not None and now_us - last_close <= config.candles_max_age_s * 1_000_000
        if fresh:
            ema = candles.ema(config.ema_period)
            band = candles.band_pct(config.band_period)
            if ema is not None and band is not None:
                return Indicators(SOURCE_OHLCV, ema, band)
    return Indicators(SOURCE_PRICE_BUFFER, buffer.ema(config.ema_period), buffer.band_pct(config.band_period))


class RegimeOverride:
    """An externally imposed regime that holds until ``until_us`` (event time, exclusive)."""

    __slots__ = ("regime", "source", "until_us")

    def __init__(self) -> None:
        self.regime: str | None = None
        self.source: str = SOURCE_OVERRIDE
        self.until_us: int = 0

    def set(self, regime: str, source: str, now_us: int, hold_us: int) -> None:
        """Impose ``regime`` from ``now_us`` for ``hold_us``; a newer override replaces an older one."""
        self.regime = regime
        self.source = source
        self.until_us = now_us + hold_us

    def active(self, now_us: int) -> bool:
        """True while the override holds."""
        return self.regime is not None and now_us < self.until_us

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"regime": self.regime, "source": self.source, "until_us": self.until_us}

    def restore(self, state: dict[str, Any]) -> None:
        """Load a state produced by ``snapshot``."""
        self.regime = state["regime"]
        self.source = str(state["source"])
        self.until_us = int(state["until_us"])
