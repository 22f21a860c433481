"""Plain indicator maths shared by the price buffer and the candle series (floats, no state)."""

from __future__ import annotations

from collections.abc import Sequence


def ema_last(closes: Sequence[float], period: int) -> float | None:
    """Last value of the EMA (alpha = 2 / (period + 1)) over ``closes``, seeded with the first close.

    None when there are fewer than ``period`` closes: an EMA over less history than its period
    would mostly be its seed.
    """
    n = len(closes)
    if period <= 0 or n < period:
        return None
    alpha = 2.0 / (period + 1.0)
    keep = 1.0 - alpha
    value = closes[0]
    for i in range(1, n):
        value = alpha * closes[i] + keep * value
    return value


def atr_last(highs: Sequence[float], lows: Sequence[float], closes: Sequence[float], period: int) -> float | None:
    """Simple mean of the last ``period`` true ranges (needs ``period + 1`` bars), or None."""
    n = len(closes)
    if period <= 0 or n < period + 1:
        return None
    total = 0.0
    for i in range(n - period, n):
        prev_close = closes[i - 1]
        hi = highs[i]
        lo = lows[i]
        total += max(hi - lo, abs(hi - prev_close), abs(lo - prev_close))
    return total / period
