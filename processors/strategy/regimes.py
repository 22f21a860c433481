"""The five market regimes of EPP v2.4 and their quoting profile (the spec's ``PHASE0_SPECS``).

A regime fixes how the strategy quotes: spread range, number of levels, refresh interval, the
inventory it aims for, the per-level order size and whether only one side is quoted. The
``neutral_high_vol`` row is exactly the one the spec gives [P1-6]. The spec does not give numbers
for the other four; the values below are the earlier desk's table (``neutral_low_vol``, ``up``,
``down``, ``high_vol_shock`` spreads, levels, refresh and sizes) adapted to a *net* inventory
target on a delta-neutral perp:

- ``neutral_low_vol`` is the tightest (0.25-0.45 % spread) and ``high_vol_shock`` the widest
  (0.80-2.00 %), with ``neutral_high_vol`` in between as P1-6 asks;
- targets are net base fractions of equity (0 = flat). The trend regimes lean with the trend
  (``up`` +10 %, ``down`` -10 %) and are one-sided (``buy_only`` / ``sell_only``); the spec's done
  item "one-sided regimes on delta-neutral perp" is honoured by the config flag
  ``one_sided_on_perp`` (off by default), so on perps both sides are quoted;
- ``fill_factor`` (expected fraction of the quoted spread actually captured) falls as volatility
  rises: 0.45, 0.35 (spec), 0.40 for the trends, 0.25 in a shock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

OneSided = Literal["off", "buy_only", "sell_only"]

NEUTRAL_LOW_VOL: Final = "neutral_low_vol"
NEUTRAL_HIGH_VOL: Final = "neutral_high_vol"
UP: Final = "up"
DOWN: Final = "down"
HIGH_VOL_SHOCK: Final = "high_vol_shock"

#: Regime names in the order of the Avro ``Regime`` enum; the index is the ``regime_override``
#: signal value of ROAD-10 (neutral_low_vol=0, neutral_high_vol=1, up=2, down=3, high_vol_shock=4).
REGIME_NAMES: Final[tuple[str, ...]] = (NEUTRAL_LOW_VOL, NEUTRAL_HIGH_VOL, UP, DOWN, HIGH_VOL_SHOCK)
REGIME_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(REGIME_NAMES)}


@dataclass(frozen=True, slots=True)
class RegimeSpec:
    """How to quote in one regime. Spreads and sizes are fractions (0.0040 = 0.40 %)."""

    spread_min: float
    """Full quoted spread (bid to ask, fraction of mid) at zero daily turnover."""
    spread_max: float
    """Full quoted spread once daily turnover reaches ``turnover_cap_x``."""
    levels_min: int
    """Levels per side once turnover reaches the cap."""
    levels_max: int
    """Levels per side at zero turnover."""
    refresh_s: int
    """Seconds of event time after which quotes are re-decided even if nothing else changed."""
    target_base_pct: float
    """Target net base inventory as a fraction of equity (negative = short)."""
    quote_size_pct_min: float
    """Lower end of the per-level order notional as a fraction of equity."""
    quote_size_pct_max: float
    """Upper end of the per-level order notional as a fraction of equity."""
    one_sided: OneSided
    """``off``, ``buy_only`` or ``sell_only``."""
    fill_factor: float
    """Expected fraction of the quoted spread captured per fill (edge model)."""

    @property
    def quote_size_pct(self) -> float:
        """Per-level order notional fraction used for sizing: the middle of the range (as the desk did)."""
        return (self.quote_size_pct_min + self.quote_size_pct_max) / 2.0


PHASE0_SPECS: Final[dict[str, RegimeSpec]] = {
    NEUTRAL_LOW_VOL: RegimeSpec(
        spread_min=0.0025, spread_max=0.0045, levels_min=2, levels_max=4, refresh_s=90,
        target_base_pct=0.0, quote_size_pct_min=0.0008, quote_size_pct_max=0.0012,
        one_sided="off", fill_factor=0.45,
    ),
    # Exactly as the spec gives it [P1-6].
    NEUTRAL_HIGH_VOL: RegimeSpec(
        spread_min=0.0040, spread_max=0.0080, levels_min=1, levels_max=3, refresh_s=100,
        target_base_pct=0.0, quote_size_pct_min=0.0005, quote_size_pct_max=0.0008,
        one_sided="off", fill_factor=0.35,
    ),
    UP: RegimeSpec(
        spread_min=0.0030, spread_max=0.0055, levels_min=2, levels_max=3, refresh_s=70,
        target_base_pct=0.10, quote_size_pct_min=0.0006, quote_size_pct_max=0.0010,
        one_sided="buy_only", fill_factor=0.40,
    ),
    DOWN: RegimeSpec(
        spread_min=0.0035, spread_max=0.0080, levels_min=2, levels_max=3, refresh_s=60,
        target_base_pct=-0.10, quote_size_pct_min=0.0005, quote_size_pct_max=0.0008,
        one_sided="sell_only", fill_factor=0.40,
    ),
    HIGH_VOL_SHOCK: RegimeSpec(
        spread_min=0.0080, spread_max=0.0200, levels_min=1, levels_max=2, refresh_s=120,
        target_base_pct=0.0, quote_size_pct_min=0.0003, quote_size_pct_max=0.0005,
        one_sided="off", fill_factor=0.25,
    ),
}


def regime_from_index(value: float) -> str | None:
    """The regime named by a ``regime_override`` signal value, or None when it names none."""
    if value != value:  # NaN never names a regime
        return None
    idx = int(round(value))
    if abs(value - idx) > 1e-9 or not 0 <= idx < len(REGIME_NAMES):
        return None
    return REGIME_NAMES[idx]
