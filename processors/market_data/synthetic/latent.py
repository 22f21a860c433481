"""The latent state of the synthetic market on the book-snapshot grid, one block at a time.

Per grid step ``k`` (time ``t_k``) it holds: the regime, the efficient log price, the target top-N
imbalance, the quoted spread (bps) and a depth factor. The log return from ``t_k`` to ``t_{k+1}`` is

    r_k = (mu - sigma^2/2) dt + S * u_k * dt + sigma sqrt(dt) z_k + J_k

with regime drift ``mu``, diffusion ``sigma``, compound-Poisson jumps ``J`` and a latent short-term
drift ``S * u_k`` (``u`` a unit AR(1)). The imbalance shown at ``t_k`` is a noisy squashed view of
``u_k``, which is what gives it predictive power over the next seconds; ``S`` comes from
:mod:`calibration` so that the configured correlation holds in every regime. Spread and depth react
to the regime's vol and to a post-jump stress that only starts *after* a jump (no look-ahead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processors.market_data.synthetic.calibration import drift_scale
from processors.market_data.synthetic.config import SyntheticMarketConfig
from processors.market_data.synthetic.recursions import ar1, stationary_ar1
from processors.market_data.synthetic.regimes import RegimeChain

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LatentBlock:
    """Latent state at the grid steps of one block (all arrays have one entry per step)."""

    start_us: int
    times_us: npt.NDArray[np.int64]
    regime: npt.NDArray[np.int8]
    log_price: FloatArray
    imbalance: FloatArray
    spread_bps: FloatArray
    depth_factor: FloatArray


class LatentPath:
    """Simulates consecutive latent blocks; carries the AR states and the price across blocks."""

    def __init__(self, config: SyntheticMarketConfig, chain: RegimeChain, rng: np.random.Generator) -> None:
        self._cfg = config
        self._chain = chain
        self._rng = rng
        dt = config.dt_s
        params = config.regimes.ordered()
        self._sigma = np.array([p.sigma_per_sqrt_s for p in params])
        self._mu = np.array([p.drift_per_hour / 3600.0 for p in params])
        self._jump_p = np.array([p.jump_rate_per_hour / 3600.0 * dt for p in params])
        self._jump_std = np.array([p.jump_std_bps * 1e-4 for p in params])
        self._jump_mean = np.array([p.jump_mean_bps * 1e-4 for p in params])
        sigma_eff = [math.sqrt(p.sigma_per_sqrt_s**2 + p.jump_var_per_s) for p in params]
        self._signal_scale = np.array(
            [
                drift_scale(
                    config.imbalance_return_corr, s, dt, config.signal_ar_coef, config.imbalance_horizon_steps,
                    config.imbalance_sharpness, config.imbalance_signal_weight,
                )
                for s in sigma_eff
            ]
        )
        vol_ratio = np.array([p.daily_vol for p in params]) / config.reference_daily_vol
        self._spread_mult = config.spread_bps * vol_ratio**config.spread_vol_elasticity
        self._depth_mult = vol_ratio ** (-config.depth_vol_elasticity)
        self._a_signal = config.signal_ar_coef
        self._a_noise = math.exp(-dt / config.imbalance_noise_tau_s)
        self._a_spread = math.exp(-dt / config.spread_noise_tau_s)
        self._a_stress = math.exp(-dt / config.stress_decay_s)
        self._w = config.imbalance_signal_weight
        # carried state
        self._step = 0
        self._log_price = math.log(config.initial_price)
        self._u = float(rng.standard_normal())
        self._xi = float(rng.standard_normal())
        self._spread_noise = 0.0
        self._stress = 0.0
        self._last_abs_jump = 0.0

    @property
    def signal_scale(self) -> FloatArray:
        """Calibrated latent-drift scale ``S`` per regime (log return per second per unit signal)."""
        return self._signal_scale.copy()

    def next_block(self) -> LatentBlock:
        """Simulate the next block of ``steps_per_block`` grid steps."""
        cfg, rng = self._cfg, self._rng
        n, dt = cfg.steps_per_block, cfg.dt_s
        start_us = cfg.start_us + self._step * cfg.dt_us
        times = start_us + np.arange(n, dtype=np.int64) * cfg.dt_us
        reg = self._chain.regimes_at(times)

        z = rng.standard_normal(n)
        u = stationary_ar1(rng.standard_normal(n), self._a_signal, self._u)
        xi = stationary_ar1(rng.standard_normal(n), self._a_noise, self._xi)
        spread_noise = ar1(cfg.spread_noise * math.sqrt(1 - self._a_spread**2) * rng.standard_normal(n), self._a_spread, self._spread_noise)
        n_jumps = rng.poisson(self._jump_p[reg])
        jump_z = rng.standard_normal(n)

        sigma = self._sigma[reg]
        jumps = n_jumps * self._jump_mean[reg] + np.sqrt(n_jumps) * self._jump_std[reg] * jump_z
        ret = (self._mu[reg] - 0.5 * sigma * sigma) * dt + self._signal_scale[reg] * u * dt + sigma * math.sqrt(dt) * z + jumps
        cum = np.cumsum(ret)
        log_price = np.empty(n)
        log_price[0] = self._log_price
        log_price[1:] = self._log_price + cum[:-1]

        signal = self._w * u + math.sqrt(1.0 - self._w * self._w) * xi
        imbalance = np.tanh(cfg.imbalance_sharpness * signal)

        # A jump during step k shows up in the price at t_{k+1}; stress must follow it, not lead it.
        abs_jump = np.abs(jumps)
        stress_in = np.empty(n)
        stress_in[0] = self._last_abs_jump
        stress_in[1:] = abs_jump[:-1]
        stress = ar1(stress_in / (cfg.stress_jump_scale_bps * 1e-4), self._a_stress, self._stress)
        spread_bps = self._spread_mult[reg] * (1.0 + stress) * np.exp(spread_noise - 0.5 * cfg.spread_noise**2)
        depth_factor = self._depth_mult[reg] / (1.0 + stress)

        self._step += n
        self._log_price = float(self._log_price + cum[-1])
        self._u, self._xi = float(u[-1]), float(xi[-1])
        self._spread_noise, self._stress = float(spread_noise[-1]), float(stress[-1])
        self._last_abs_jump = float(abs_jump[-1])
        return LatentBlock(start_us, times, reg, log_price, imbalance, spread_bps, depth_factor)
