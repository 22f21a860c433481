"""The L2 ladder shown at each snapshot, built around the latent efficient price.

Best bid and ask straddle the efficient price by half the latent spread, rounded outward to ticks
(so bid < ask always). Deeper levels sit at random gaps that scale with the spread. Level sizes grow
away from the touch, shrink with volatility and post-jump stress, and carry per-snapshot noise; the
top-N sizes are then rescaled so that the book's top-N imbalance equals the latent target (that is
how the latent short-term drift leaks into the observable book).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processors.decimals import step_decimals
from processors.market_data.synthetic.config import SyntheticMarketConfig
from processors.market_data.synthetic.latent import LatentBlock

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BookBlock:
    """Ladders of one block, one row per snapshot, plus mid and spread.

    ``levels_px`` and ``levels_sz`` are ``(snapshots, 2 * levels)``: the bids best-first, then the asks
    best-first (the layout the record builder slices).
    """

    levels_px: FloatArray
    levels_sz: FloatArray
    mid: FloatArray
    spread_bps: FloatArray

    @property
    def levels(self) -> int:
        """Levels per side."""
        return self.levels_px.shape[1] // 2

    @property
    def bid_px(self) -> FloatArray:
        """Bid prices, ``(snapshots, levels)``, best first."""
        return self.levels_px[:, : self.levels]

    @property
    def ask_px(self) -> FloatArray:
        """Ask prices, ``(snapshots, levels)``, best first."""
        return self.levels_px[:, self.levels :]


class BookLadder:
    """Builds ladders from latent blocks; owns the random stream of level gaps and size noise."""

    def __init__(self, config: SyntheticMarketConfig, rng: np.random.Generator) -> None:
        self._cfg = config
        self._rng = rng
        levels = np.arange(config.book_levels, dtype=np.float64)
        mean = config.depth_top * (1.0 + config.depth_level_slope * levels)
        self._level_mean = np.concatenate([mean, mean])
        # Prices and sizes are integers of ticks and lots; dividing by the inverse step gives the
        # correctly rounded decimal (65000.1, 0.123) in one pass, when the inverse is an integer.
        self._px_scale = _inverse_step(config.tick_size)
        self._sz_scale = _inverse_step(config.lot_size)

    def build(self, block: LatentBlock) -> BookBlock:
        """Ladders for every grid step of ``block``."""
        cfg, rng = self._cfg, self._rng
        n, levels = block.log_price.size, cfg.book_levels
        inv_tick = 1.0 / cfg.tick_size
        price = np.exp(block.log_price)
        half = price * block.spread_bps * 0.5e-4
        ticks = np.empty((n, 2 * levels))
        ticks[:, 0] = np.floor((price - half) * inv_tick)
        ticks[:, levels] = np.ceil((price + half) * inv_tick)

        gap_ticks = price * (cfg.level_gap_bps * 1e-4 * inv_tick / cfg.spread_bps) * block.spread_bps
        gaps = np.maximum(1.0, np.rint(gap_ticks[:, None] * (rng.random((n, 2 * (levels - 1))) + 0.5)))
        depth = np.cumsum(gaps.reshape(n, 2, levels - 1), axis=2)
        ticks[:, 1:levels] = ticks[:, :1] - depth[:, 0]
        ticks[:, levels + 1 :] = ticks[:, levels : levels + 1] + depth[:, 1]

        sigma = cfg.depth_noise
        sizes = rng.lognormal(-0.5 * sigma * sigma, sigma, (n, 2 * levels)) if sigma > 0 else np.ones((n, 2 * levels))
        sizes *= self._level_mean
        sizes *= block.depth_factor[:, None]
        m = cfg.imbalance_levels
        top_bid = sizes[:, :m].sum(axis=1)
        top_ask = sizes[:, levels : levels + m].sum(axis=1)
        half_total = (top_bid + top_ask) * 0.5
        sizes[:, :m] *= (half_total * (1.0 + block.imbalance) / top_bid)[:, None]
        sizes[:, levels : levels + m] *= (half_total * (1.0 - block.imbalance) / top_ask)[:, None]
        lots = np.maximum(np.rint(sizes * (1.0 / cfg.lot_size)), 1.0)

        px = _scale(ticks, self._px_scale, cfg.tick_size)
        sz = _scale(lots, self._sz_scale, cfg.lot_size)
        mid = _scale((ticks[:, 0] + ticks[:, levels]) * 0.5, self._px_scale, cfg.tick_size, extra_decimals=1)
        spread_bps = np.round((px[:, levels] - px[:, 0]) / mid * 1e4, 6)
        return BookBlock(px, sz, mid, spread_bps)


def _inverse_step(step: float) -> float | None:
    inverse = round(1.0 / step)
    return float(inverse) if abs(inverse * step - 1.0) < 1e-12 else None


def _scale(units: FloatArray, inverse: float | None, step: float, extra_decimals: int = 0) -> FloatArray:
    """``units * step`` as clean decimals (exact division when ``1/step`` is an integer)."""
    if inverse is not None:
        return units / inverse
    return np.round(units * step, step_decimals(step) + extra_decimals)
