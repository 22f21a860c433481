"""The closed-form calibration of the imbalance signal, and the vectorised AR(1) filter it relies on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from processors.market_data.synthetic.calibration import drift_scale, max_imbalance_corr, tanh_gain_corr
from processors.market_data.synthetic.recursions import ar1


@pytest.mark.parametrize("a", [0.0, 0.3, 0.9, 0.999])
def test_when_ar1_filter_runs_then_it_equals_the_step_by_step_recursion(a: float) -> None:
    # Arrange
    x = np.random.Generator(np.random.PCG64(1)).standard_normal(1000)
    expected, y = [], 2.5
    for v in x:
        y = a * y + v
        expected.append(y)
    # Act
    got = ar1(x, a, 2.5)
    # Assert
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_when_tanh_gain_is_computed_then_it_matches_monte_carlo() -> None:
    z = np.random.Generator(np.random.PCG64(2)).standard_normal(400_000)
    for k in (0.3, 0.9, 2.0):
        assert tanh_gain_corr(k) == pytest.approx(np.corrcoef(np.tanh(k * z), z)[0, 1], abs=0.004)


def test_when_drift_scale_is_used_in_the_discrete_model_then_the_target_correlation_appears() -> None:
    # Arrange: the model of latent.py stripped to its bones, simulated directly
    rng = np.random.Generator(np.random.PCG64(3))
    n, dt, h, k, w, target, sigma = 400_000, 0.5, 10, 0.9, 0.8, 0.3, 2e-4
    a, a_noise = math.exp(-dt / 5.0), math.exp(-dt / 3.0)
    s = drift_scale(target, sigma, dt, a, h, k, w)
    u = ar1(math.sqrt(1 - a * a) * rng.standard_normal(n), a, 0.0)
    xi = ar1(math.sqrt(1 - a_noise**2) * rng.standard_normal(n), a_noise, 0.0)
    ret = s * u * dt + sigma * math.sqrt(dt) * rng.standard_normal(n)
    # Act
    imbalance = np.tanh(k * (w * u + math.sqrt(1 - w * w) * xi))
    csum = np.concatenate([[0.0], np.cumsum(ret)])
    forward = csum[h:] - csum[:-h]
    corr = np.corrcoef(imbalance[: forward.size], forward)[0, 1]
    # Assert
    assert corr == pytest.approx(target, abs=0.015)


def test_when_target_is_zero_or_unreachable_then_scale_is_zero_or_an_error() -> None:
    assert drift_scale(0.0, 1e-4, 0.5, 0.9, 10, 0.9, 0.8) == 0.0
    reach = max_imbalance_corr(0.9, 10, 0.9, 0.8)
    with pytest.raises(ValueError, match="reachable"):
        drift_scale(reach + 0.01, 1e-4, 0.5, 0.9, 10, 0.9, 0.8)
