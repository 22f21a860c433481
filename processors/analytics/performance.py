"""Performance statistics over daily series: Sharpe ratio, drawdown, win rate.

Conventions (the reports print them next to the figures):
- returns are per period (one UTC day) and may be in any unit (fraction or bps): Sharpe is
  scale-free;
- the standard deviation is the sample one (``ddof=1``): with 20 days the population one would
  overstate Sharpe by ~2.5 %;
- crypto trades every day, so the annualised Sharpe uses ``sqrt(365)``; the ROAD-1 pass criterion
  is written with ``sqrt(252)`` and is evaluated with that factor (see :mod:`processors.analytics.pnl`);
- drawdowns are fractions of the running peak (0.02 = 2 %), reported as positive numbers.
"""

from __future__ import annotations

import math
from typing import Sequence

CRYPTO_PERIODS_PER_YEAR = 365
EQUITY_PERIODS_PER_YEAR = 252


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; ``None`` for an empty series."""
    return sum(values) / len(values) if values else None


def sample_std(values: Sequence[float]) -> float | None:
    """Sample standard deviation (``ddof=1``); ``None`` with fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def sharpe_ratio(returns: Sequence[float], periods_per_year: float = CRYPTO_PERIODS_PER_YEAR) -> float | None:
    """Annualised Sharpe ratio ``mean / std * sqrt(periods_per_year)`` (risk-free rate 0).

    ``None`` when it is undefined: fewer than two returns, or no variation at all.
    """
    m = mean(returns)
    s = sample_std(returns)
    if m is None or s is None or s == 0.0:
        return None
    return m / s * math.sqrt(periods_per_year)


def drawdown_series(equity: Sequence[float]) -> list[float]:
    """Drawdown at each point as a fraction of the running peak (0 at a new high).

    A non-positive peak has no meaningful percentage drawdown; those points read 0.
    """
    out: list[float] = []
    peak = -math.inf
    for e in equity:
        if e > peak:
            peak = e
        out.append((peak - e) / peak if peak > 0 else 0.0)
    return out


def max_drawdown(equity: Sequence[float]) -> float:
    """Largest peak-to-trough fall of an equity curve, as a fraction of the peak (0 if none)."""
    dd = drawdown_series(equity)
    return max(dd) if dd else 0.0


def equity_from_returns(returns: Sequence[float], start: float = 1.0) -> list[float]:
    """Compounded equity curve from per-period fractional returns, starting with ``start``."""
    curve = [start]
    for r in returns:
        curve.append(curve[-1] * (1.0 + r))
    return curve


def win_rate(values: Sequence[float]) -> float | None:
    """Fraction of periods with a strictly positive value; ``None`` for an empty series."""
    return sum(1 for v in values if v > 0) / len(values) if values else None
