"""Public trades: a self-exciting (Hawkes) arrival process with informed and uninformed clusters.

Arrivals use the cluster (immigrant-offspring) representation of a Hawkes process with exponential
kernel, which is exact and fully vectorised: immigrants arrive as a Poisson process whose rate
follows the regime; each trade begets ``Poisson(branching)`` children after ``Exp(decay)`` delays,
generation after generation. Children inherit their parent's type, so order splitting and herding
show up as bursts of same-side trades. Descendants that fall beyond the block are carried into the
next one.

A cluster is informed with the regime's ``informed_fraction``. An informed trade takes the side of
the efficient price's move over the next ``informed_horizon_s`` (the generator looks ahead one
block); uninformed trades keep their cluster's random side. So a passive quote filled by an informed
trade sees the mid move against it afterwards: adverse selection, stronger in regimes with more
informed flow and larger moves. Every trade hits the best bid or lifts the best ask of the prevailing
snapshot, so a paper order resting at the touch is filled by trades at its price. Sizes are a
lognormal body with a Pareto tail (a few very large prints), informed clusters trading larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processors.decimals import step_decimals
from processors.market_data.synthetic.book import BookBlock
from processors.market_data.synthetic.config import SyntheticMarketConfig
from processors.market_data.synthetic.latent import LatentBlock

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_MAX_GENERATIONS = 256  # branching < 1 ends clusters after a few generations; this only bounds a pathological draw


@dataclass(frozen=True)
class TradeBlock:
    """Trades of one block, in event-time order."""

    times_us: IntArray
    step: IntArray  # index of the prevailing snapshot in the block
    buy: BoolArray  # aggressor side: True = BUY (lifted the ask)
    price: FloatArray
    size: FloatArray
    informed: BoolArray


class TradeFlow:
    """Generates the trades of consecutive blocks; owns its random stream and the spill-over carry."""

    def __init__(self, config: SyntheticMarketConfig, rng: np.random.Generator) -> None:
        self._cfg = config
        self._rng = rng
        params = config.regimes.ordered()
        self._rate_dt = np.array([p.trade_rate * config.dt_s for p in params])
        self._informed_p = np.array([p.informed_fraction for p in params])
        self._sz_dp = step_decimals(config.lot_size)
        self._carry_t: IntArray = np.empty(0, dtype=np.int64)
        self._carry_informed: BoolArray = np.empty(0, dtype=np.bool_)
        self._carry_buy: BoolArray = np.empty(0, dtype=np.bool_)

    def simulate(self, block: LatentBlock, book: BookBlock, next_block: LatentBlock) -> TradeBlock:
        """Trades in ``[block start, block end)``; ``next_block`` supplies the informed lookahead."""
        cfg, rng = self._cfg, self._rng
        n, dt_us = block.times_us.size, cfg.dt_us
        end_us = block.start_us + n * dt_us

        counts = rng.poisson(self._rate_dt[block.regime])
        step = np.repeat(np.arange(n), counts)
        m = step.size
        times = block.times_us[step] + (rng.random(m) * dt_us).astype(np.int64)
        informed = rng.random(m) < self._informed_p[block.regime[step]]
        buy = rng.random(m) < 0.5
        all_t, all_inf, all_buy = [self._carry_t, times], [self._carry_informed, informed], [self._carry_buy, buy]

        parents_t, parents_inf, parents_buy = times, informed, buy
        decay_us = cfg.hawkes_decay_s * 1e6
        for _ in range(_MAX_GENERATIONS):
            if parents_t.size == 0:
                break
            kids = rng.poisson(cfg.hawkes_branching, parents_t.size)
            total = int(kids.sum())
            if total == 0:
                break
            parents_t = np.repeat(parents_t, kids) + rng.exponential(decay_us, total).astype(np.int64)
            parents_inf = np.repeat(parents_inf, kids)
            parents_buy = np.repeat(parents_buy, kids)
            all_t.append(parents_t)
            all_inf.append(parents_inf)
            all_buy.append(parents_buy)

        t_all = np.concatenate(all_t)
        inf_all = np.concatenate(all_inf)
        buy_all = np.concatenate(all_buy)
        now = t_all < end_us
        later = ~now
        self._carry_t, self._carry_informed, self._carry_buy = t_all[later], inf_all[later], buy_all[later]
        order = np.argsort(t_all[now], kind="stable")
        t = t_all[now][order]
        inf = inf_all[now][order]
        buy = buy_all[now][order]

        k = (t - block.start_us) // dt_us
        path = np.concatenate([block.log_price, next_block.log_price])
        future_move = path[k + cfg.informed_horizon_steps] - path[k]
        buy = np.where(inf, future_move >= 0.0, buy)

        price = np.where(buy, book.ask_px[k, 0], book.bid_px[k, 0])
        size = self._sizes(inf)
        return TradeBlock(t, k, buy, price, size, inf)

    def _sizes(self, informed: BoolArray) -> FloatArray:
        cfg, rng = self._cfg, self._rng
        m = informed.size
        body = cfg.trade_size_median * np.exp(cfg.trade_size_sigma * rng.standard_normal(m))
        tail = cfg.trade_size_tail_min * (1.0 - rng.random(m)) ** (-1.0 / cfg.trade_size_tail_alpha)
        size = np.where(rng.random(m) < cfg.trade_size_tail_prob, tail, body)
        size = np.where(informed, size * cfg.informed_size_mult, size)
        lots = np.clip(np.rint(size / cfg.lot_size), 1.0, np.floor(cfg.trade_size_max / cfg.lot_size))
        return np.round(lots * cfg.lot_size, self._sz_dp)
