"""Inventory targets, skew and de-risking [P0-1, P1-3].

Inventory is the signed net base position as a fraction of equity (``base_pct``; negative = short).

- **Target**: the regime's ``target_base_pct`` unless overridden by a ``set_target_base_pct``
  intent or an ``inventory_rebalance`` signal [P0-1]; always clipped into
  ``[min_base_pct, max_base_pct]`` (and to >= 0 on spot, which cannot short), since a target outside
  the allowed band would only trigger de-risking.
- **Skew** (the desk's rule): ``clip((target - base_pct) * factor * (1 + vol_mult * vol_ratio), +-cap)``
  with factor 0.8 in trend regimes and 0.5 otherwise and ``vol_ratio = clip(band / high_vol_band, 0, 1)``.
  A positive skew shifts both quotes up (tighter bid, wider ask) to buy back toward the target.
- **De-risk**: ``base_pct > max_base_pct``, ``base_pct < min_base_pct`` or a pending EOD close put the
  strategy in derisk-only mode, which quotes only the side that reduces |position|: a short is
  bought back (BUY only), a long sold (SELL only); with ``min_base_pct <= 0 <= max_base_pct`` the
  reasons and the position sign always agree.
"""

from __future__ import annotations

from typing import Final

from processors.strategy.config import EppV24Config
from processors.strategy.regimes import DOWN, UP

BASE_PCT_ABOVE_MAX: Final = "base_pct_above_max"
BASE_PCT_BELOW_MIN: Final = "base_pct_below_min"
EOD_CLOSE_PENDING: Final = "eod_close_pending"
DERISK_REASONS: Final = frozenset({BASE_PCT_ABOVE_MAX, BASE_PCT_BELOW_MIN, EOD_CLOSE_PENDING})


def clip(value: float, low: float, high: float) -> float:
    """``value`` bounded to ``[low, high]``."""
    return low if value < low else high if value > high else value


def clip_target(target: float, config: EppV24Config) -> float:
    """A target net base pct bounded to what the instance may hold."""
    low = config.min_base_pct if config.is_perp else max(0.0, config.min_base_pct)
    return clip(target, low, config.max_base_pct)


def inventory_skew(
    target_base_pct: float, base_pct: float, regime: str, band_pct: float, config: EppV24Config
) -> float:
    """The inventory skew (fraction of mid), capped by ``inventory_skew_cap_pct``."""
    factor = 0.8 if regime in (UP, DOWN) else 0.5
    vol_ratio = clip(band_pct / config.high_vol_band_pct, 0.0, 1.0)
    scale = 1.0 + config.inventory_skew_vol_multiplier * vol_ratio
    cap = config.inventory_skew_cap_pct
    return clip((target_base_pct - base_pct) * factor * scale, -cap, cap)


def base_pct_reasons(base_pct: float, config: EppV24Config) -> list[str]:
    """Risk reasons raised by the inventory band."""
    if base_pct > config.max_base_pct:
        return [BASE_PCT_ABOVE_MAX]
    if base_pct < config.min_base_pct:
        return [BASE_PCT_BELOW_MIN]
    return []


def derisk_side(position_base: float) -> str:
    """The side that reduces |position|: SELL a long, BUY a short (the spec's fixed direction)."""
    return "SELL" if position_base > 0.0 else "BUY"


def min_base_amount(mid: float, config: EppV24Config) -> float:
    """Smallest placeable size at ``mid``: a position below it counts as flat."""
    if mid <= 0.0:
        return config.lot_size
    return max(config.lot_size, config.min_order_quote / mid)
