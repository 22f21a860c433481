"""Perpetual funding: rate observations on a fixed grid and settlements every few hours from 00:00 UTC.

The rate is a slow mean-reverting process around a regime target ``base + coupling * drift``: in an
up-trend longs crowd in and pay more, in a down-trend less or negative, which is what a perp's
premium does. It is capped like an exchange caps it. Observations come every
``funding_obs_interval_s`` aligned to the epoch; at settlement instants (00:00, 08:00, 16:00 UTC by
default) the record is the settlement itself (``is_settlement=True``), whose ``next_funding_time`` is
the following settlement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from processors.market_data.synthetic.config import SyntheticMarketConfig

US_PER_S = 1_000_000


@dataclass(frozen=True)
class FundingPoint:
    """One funding record's content."""

    time_us: int
    rate: float
    next_funding_time_us: int
    is_settlement: bool


def next_settlement_after(time_us: int, settle_us: int) -> int:
    """First settlement instant strictly after ``time_us`` (settlements at multiples of ``settle_us``)."""
    return (time_us // settle_us + 1) * settle_us


class FundingModel:
    """Funding rate path and schedule; owns its random stream."""

    def __init__(self, config: SyntheticMarketConfig, rng: np.random.Generator) -> None:
        self._cfg = config
        self._rng = rng
        self._obs_us = config.funding_obs_interval_s * US_PER_S
        self._settle_us = config.funding_settlement_hours * 3600 * US_PER_S
        self._a = math.exp(-config.funding_obs_interval_s / (config.funding_tau_hours * 3600.0))
        self._target = [config.funding_base_rate + config.funding_trend_coupling * p.drift_per_hour for p in config.regimes.ordered()]
        self._dev = config.funding_noise * float(rng.standard_normal())

    def points(self, start_us: int, end_us: int, regime_at: list[int]) -> list[FundingPoint]:
        """Funding records with event time in ``[start_us, end_us)``; ``regime_at[i]`` is the regime of the i-th."""
        times = self.times(start_us, end_us)
        out: list[FundingPoint] = []
        cfg = self._cfg
        shock_scale = cfg.funding_noise * math.sqrt(1.0 - self._a * self._a)
        for t, reg in zip(times, regime_at):
            self._dev = self._a * self._dev + shock_scale * float(self._rng.standard_normal())
            rate = min(cfg.funding_cap, max(-cfg.funding_cap, self._target[reg] + self._dev))
            out.append(FundingPoint(t, round(rate, 10), next_settlement_after(t, self._settle_us), t % self._settle_us == 0))
        return out

    def times(self, start_us: int, end_us: int) -> list[int]:
        """Observation instants (multiples of the observation interval) in ``[start_us, end_us)``."""
        first = -(-start_us // self._obs_us) * self._obs_us
        return list(range(first, end_us, self._obs_us))
