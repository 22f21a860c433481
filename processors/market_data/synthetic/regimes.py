"""The regime Markov chain, run in event time.

A continuous-time Markov chain: each regime lasts an exponential time with its configured mean,
then the next regime is drawn from its ``exit_weights``. Switches are rare (hours apart), so a plain
loop over switches inside a block costs nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from processors.market_data.synthetic.config import REGIMES, SyntheticMarketConfig

US_PER_S = 1_000_000


class RegimeChain:
    """Regime at any event time, advancing monotonically; owns its own random stream."""

    def __init__(self, config: SyntheticMarketConfig, rng: np.random.Generator) -> None:
        self._rng = rng
        params = config.regimes.ordered()
        self._mean_us = [p.mean_duration_s * US_PER_S for p in params]
        self._exit_p: list[npt.NDArray[np.float64]] = []
        for p in params:
            w = np.array([p.exit_weights.get(name, 0.0) for name in REGIMES], dtype=np.float64)
            self._exit_p.append(w / w.sum())
        self._current = REGIMES.index(config.initial_regime)
        self._next_switch_us = config.start_us + self._holding_us(self._current)

    def _holding_us(self, regime: int) -> int:
        # At least 1 µs so that time always advances.
        return max(1, int(self._rng.exponential(self._mean_us[regime])))

    def regimes_at(self, times_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """Regime index (into ``REGIMES``) at each of the increasing ``times_us``; advances the chain."""
        out = np.empty(times_us.size, dtype=np.int8)
        pos = 0
        last = int(times_us[-1]) if times_us.size else 0
        while self._next_switch_us <= last:
            cut = int(np.searchsorted(times_us, self._next_switch_us, side="left"))
            out[pos:cut] = self._current
            pos = max(pos, cut)
            self._current = int(self._rng.choice(len(REGIMES), p=self._exit_p[self._current]))
            self._next_switch_us += self._holding_us(self._current)
        out[pos:] = self._current
        return out
