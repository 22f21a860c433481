"""``CandleSeries``: the last 1 m candles of hb.market.candle.v1, for regime EMA and band [P1-4].

EMA over candle closes; band = mean of (high - low) / close over the last ``band_period`` candles,
as the spec prescribes. A candle re-sent for the same ``open_time`` (an update of the running
candle) replaces the earlier one. Invalid candles (non-positive or non-finite prices, high < low)
are ignored, so an empty or broken feed simply leaves the series short and the detector falls back
to the price buffer.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from processors.strategy.indicators import ema_last

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def interval_seconds(interval: str) -> int:
    """Seconds in a candle interval such as ``"1m"``, ``"15m"`` or ``"1h"``."""
    text = interval.strip()
    if len(text) < 2 or text[-1] not in _UNIT_S or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError(f"candle interval {interval!r} is not like '1m', '15m', '1h' or '1d'")
    return int(text[:-1]) * _UNIT_S[text[-1]]


class CandleSeries:
    """Candles of one interval, ordered by open time, bounded to ``max_candles``."""

    __slots__ = ("interval_us", "max_candles", "_open", "_high", "_low", "_close", "version", "_cache")

    def __init__(self, interval_us: int, max_candles: int) -> None:
        self.interval_us = int(interval_us)
        self.max_candles = int(max_candles)
        self._open: deque[int] = deque(maxlen=self.max_candles)
        self._high: deque[float] = deque(maxlen=self.max_candles)
        self._low: deque[float] = deque(maxlen=self.max_candles)
        self._close: deque[float] = deque(maxlen=self.max_candles)
        self.version = 0
        self._cache: dict[tuple[str, int], tuple[int, float | None]] = {}

    def add(self, open_time_us: int, high: float, low: float, close: float) -> bool:
        """Add or replace the candle opening at ``open_time_us``; False when it was ignored."""
        if not (math.isfinite(high) and math.isfinite(low) and math.isfinite(close)):
            return False
        if low <= 0.0 or close <= 0.0 or high < low:
            return False
        opens = self._open
        if opens and open_time_us <= opens[-1]:
            # An update of a candle we hold (usually the running one); older unknown candles are
            # dropped rather than inserted, the series only moves forward.
            for i in range(len(opens) - 1, -1, -1):
                if opens[i] == open_time_us:
                    self._high[i] = high
                    self._low[i] = low
                    self._close[i] = close
                    self.version += 1
                    return True
                if opens[i] < open_time_us:
                    break
            return False
        opens.append(open_time_us)
        self._high.append(high)
        self._low.append(low)
        self._close.append(close)
        self.version += 1
        return True

    def __len__(self) -> int:
        return len(self._open)

    def last_close_time_us(self) -> int | None:
        """End of the newest candle's interval, or None when empty."""
        return self._open[-1] + self.interval_us if self._open else None

    def ema(self, period: int) -> float | None:
        """EMA of the closes, or None with fewer than ``period`` candles."""
        key = ("ema", period)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = ema_last(list(self._close), period)
        self._cache[key] = (self.version, value)
        return value

    def band_pct(self, period: int) -> float | None:
        """Mean of (high - low) / close over the last ``period`` candles, or None with fewer."""
        key = ("band", period)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        n = len(self._close)
        value: float | None = None
        if period > 0 and n >= period:
            total = 0.0
            for i in range(n - period, n):
                total += (self._high[i] - self._low[i]) / self._close[i]
            value = total / period
        self._cache[key] = (self.version, value)
        return value

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "open": list(self._open),
            "high": list(self._high),
            "low": list(self._low),
            "close": list(self._close),
            "version": self.version,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a state produced by ``snapshot``."""
        self._open.clear()
        self._open.extend(int(x) for x in state["open"])
        for dq, name in ((self._high, "high"), (self._low, "low"), (self._close, "close")):
            dq.clear()
            dq.extend(float(x) for x in state[name])
        self.version = int(state["version"])
        self._cache.clear()
