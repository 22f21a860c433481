"""Vectorised first-order linear recursions (AR(1) filters) for the per-block simulation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def ar1(x: FloatArray, a: float, y_prev: float) -> FloatArray:
    """``y[k] = a * y[k-1] + x[k]`` with ``y[-1] = y_prev``, for ``0 <= a < 1``.

    A log-depth prefix scan: after the pass with shift ``s`` each ``y[k]`` holds the sum of its last
    ``2s`` inputs weighted by powers of ``a``. Unlike the closed form ``a^k * cumsum(x * a^-k)`` the
    weights only shrink, so it stays exact for any block length; it is also a handful of numpy calls
    instead of a Python loop per step.
    """
    y = np.array(x, dtype=np.float64, copy=True)
    n = y.size
    if n == 0:
        return y
    y[0] += a * y_prev
    shift, coef = 1, a
    while shift < n and coef > 1e-300:
        y[shift:] += coef * y[:-shift]
        shift *= 2
        coef *= coef
    return y


def stationary_ar1(eps: FloatArray, a: float, y_prev: float) -> FloatArray:
    """Unit-variance AR(1) driven by standard normals ``eps``: ``y[k] = a y[k-1] + sqrt(1-a^2) eps[k]``."""
    return ar1(np.sqrt(1.0 - a * a) * eps, a, y_prev)
