"""Calibration of the imbalance signal: how strong the latent drift must be for a target correlation.

The book's top-N imbalance is ``tanh(k * (w*u + sqrt(1-w^2)*xi))`` where ``u`` is a unit-variance
AR(1) (the standardised latent short-term drift) and ``xi`` independent book noise. The mid's
log-return over one book step ``dt`` carries ``S * u * dt`` (``S`` the drift scale) plus
independent diffusion and jump noise of variance ``sigma_eff^2 * dt``. For that discrete model the
correlation between the imbalance at a snapshot and the return over the next ``h`` steps has a closed
form, so ``S`` is solved per regime instead of being tuned by hand; the configured correlation then
holds inside every regime whatever its volatility.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def ar1_window_sums(a: float, h: int) -> tuple[float, float]:
    """``(A, B)`` for a unit AR(1) with coefficient ``a`` over a window of ``h`` steps.

    ``A = sum_{m<h} a^m`` is ``cov(u_k, sum_{j<h} u_{k+j})`` and ``B = sum_{i,j<h} a^|i-j|`` is
    ``var(sum_{j<h} u_{k+j})``.
    """
    m = np.arange(h, dtype=np.float64)
    powers = a**m
    big_a = float(powers.sum())
    big_b = float(h + 2.0 * np.sum((h - m[1:]) * powers[1:]))
    return big_a, big_b


@lru_cache(maxsize=64)  # pure function of k; the quadrature is the slow part of building a market
def tanh_gain_corr(k: float) -> float:
    """``corr(tanh(k Z), Z)`` for standard normal ``Z`` (Gauss-Hermite quadrature, exact to ~1e-12)."""
    x, w = np.polynomial.hermite_e.hermegauss(96)
    w = w / w.sum()
    t = np.tanh(k * x)
    return float(np.sum(w * x * t) / math.sqrt(float(np.sum(w * t * t))))


def max_imbalance_corr(a: float, h: int, k: float, weight: float) -> float:
    """Highest imbalance-to-return correlation reachable (when the drift dwarfs all other noise)."""
    big_a, big_b = ar1_window_sums(a, h)
    return tanh_gain_corr(k) * weight * big_a / math.sqrt(big_b)


def drift_scale(target_corr: float, sigma_eff: float, dt_s: float, a: float, h: int, k: float, weight: float) -> float:
    """Latent drift scale ``S`` (log-return per second per unit ``u``) giving ``target_corr``.

    ``sigma_eff`` is the per-sqrt-second volatility of everything the imbalance does not reveal
    (diffusion and jumps). Raises ``ValueError`` when the target is out of reach.
    """
    if target_corr <= 0.0:
        return 0.0
    gain = tanh_gain_corr(k) * weight
    if gain <= 0.0:
        raise ValueError("imbalance_signal_weight must be > 0 for a non-zero imbalance_return_corr")
    c = target_corr / gain
    big_a, big_b = ar1_window_sums(a, h)
    denom = big_a * big_a - c * c * big_b
    if denom <= 0.0:
        raise ValueError(
            f"imbalance_return_corr={target_corr} is above the reachable {max_imbalance_corr(a, h, k, weight):.3f}; "
            "lower it, or raise imbalance_signal_tau_s / imbalance_signal_weight"
        )
    return c * sigma_eff * math.sqrt(h * dt_s) / (dt_s * math.sqrt(denom))
