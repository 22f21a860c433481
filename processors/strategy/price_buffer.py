"""``PriceBuffer``: mid prices sampled every 10 s of event time, grouped into bars for EMA and ATR.

The regime detector's fallback source when no candles are configured or they are missing [P1-4],
and always the source of the sub-minute 30 s drift: raw (``adverse_drift_30s``, for shock
detection) and smoothed (``adverse_drift_smooth``, the spec's ``smooth_drift`` of the cost floor
[P1-1]): an EWMA of the raw drift taken at every sample, so it depends on event time only, not on
how often books arrive.

Sampling is by event time: the first mid seen at or after each ``sample_interval_s`` boundary is a
sample. Samples are grouped into bars of ``bar_interval_s`` (open/high/low/close of the samples in
the bar); a bar is complete when the first sample of a later bar arrives. Bars never seen (a gap in
the feed) are simply absent, not filled in. EMA and ATR are computed over the completed bars kept
(``max_bars``) and cached until the next bar completes, so asking for them at every decision is cheap.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from processors.clock import US_PER_S
from processors.strategy.indicators import atr_last, ema_last

DRIFT_WINDOW_S = 30
"""The look-back of ``adverse_drift_30s``."""


class PriceBuffer:
    """Sampled mids and the bars built from them. Pure: time comes in with each observation."""

    __slots__ = (
        "_sample_us", "_bar_us", "max_bars", "last_mid", "next_sample_us",
        "_sample_t", "_sample_mid", "_bar_key", "_bar_high", "_bar_low", "_bar_close",
        "_highs", "_lows", "_closes", "bar_count", "_cache", "drift_alpha", "drift_ewma",
    )

    def __init__(
        self, sample_interval_s: int = 10, bar_interval_s: int = 60, max_bars: int = 100, drift_alpha: float = 0.2
    ) -> None:
        self._sample_us = int(sample_interval_s) * US_PER_S
        self._bar_us = int(bar_interval_s) * US_PER_S
        self.max_bars = int(max_bars)
        self.last_mid: float = 0.0
        self.next_sample_us: int = -1  # the first observation is always a sample
        keep = DRIFT_WINDOW_S // max(1, int(sample_interval_s)) + 3
        self._sample_t: deque[int] = deque(maxlen=keep)
        self._sample_mid: deque[float] = deque(maxlen=keep)
        self._bar_key: int | None = None
        self._bar_high = 0.0
        self._bar_low = 0.0
        self._bar_close = 0.0
        self._highs: deque[float] = deque(maxlen=self.max_bars)
        self._lows: deque[float] = deque(maxlen=self.max_bars)
        self._closes: deque[float] = deque(maxlen=self.max_bars)
        self.bar_count = 0
        self._cache: dict[tuple[str, int], tuple[int, float | None]] = {}
        self.drift_alpha = float(drift_alpha)
        self.drift_ewma: float | None = None

    # -- input ------------------------------------------------------------------------------------
    def observe(self, t_us: int, mid: float) -> None:
        """Record the latest mid at event time ``t_us``; takes a sample when a boundary was crossed."""
        self.last_mid = mid
        if t_us >= self.next_sample_us:
            self.add_sample(t_us, mid)

    def add_sample(self, t_us: int, mid: float) -> None:
        """Append one sample and fold it into the current bar."""
        self._sample_t.append(t_us)
        self._sample_mid.append(mid)
        self.last_mid = mid
        raw = self.adverse_drift_30s(t_us)
        ewma = self.drift_ewma
        self.drift_ewma = raw if ewma is None else self.drift_alpha * raw + (1.0 - self.drift_alpha) * ewma
        self.next_sample_us = (t_us // self._sample_us + 1) * self._sample_us
        key = t_us // self._bar_us
        if key != self._bar_key:
            if self._bar_key is not None:
                self._highs.append(self._bar_high)
                self._lows.append(self._bar_low)
                self._closes.append(self._bar_close)
                self.bar_count += 1
            self._bar_key = key
            self._bar_high = self._bar_low = self._bar_close = mid
        else:
            if mid > self._bar_high:
                self._bar_high = mid
            elif mid < self._bar_low:
                self._bar_low = mid
            self._bar_close = mid

    # -- indicators -------------------------------------------------------------------------------
    def ema(self, period: int) -> float | None:
        """EMA of completed bar closes, or None with fewer than ``period`` bars."""
        key = ("ema", period)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.bar_count:
            return hit[1]
        value = ema_last(list(self._closes), period)
        self._cache[key] = (self.bar_count, value)
        return value

    def band_pct(self, period: int) -> float | None:
        """ATR(period) of completed bars divided by the last close (ATR-like band), or None."""
        key = ("band", period)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.bar_count:
            return hit[1]
        atr = atr_last(list(self._highs), list(self._lows), list(self._closes), period)
        value = None if atr is None or not self._closes or self._closes[-1] <= 0 else atr / self._closes[-1]
        self._cache[key] = (self.bar_count, value)
        return value

    def adverse_drift_30s(self, now_us: int) -> float:
        """|last mid - mid sampled at or before now - 30 s| / that older mid; 0 without such a sample."""
        threshold = now_us - DRIFT_WINDOW_S * US_PER_S
        older = 0.0
        ts = self._sample_t
        for i in range(len(ts) - 1, -1, -1):
            if ts[i] <= threshold:
                older = self._sample_mid[i]
                break
        if older <= 0.0:
            return 0.0
        return abs(self.last_mid - older) / older

    def adverse_drift_smooth(self) -> float:
        """EWMA (per sample) of the raw 30 s drift; 0 before the first sample."""
        return self.drift_ewma if self.drift_ewma is not None else 0.0

    @property
    def completed_bars(self) -> int:
        """Number of completed bars currently held."""
        return len(self._closes)

    # -- persistence ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-able state (restore with ``restore``)."""
        return {
            "last_mid": self.last_mid,
            "next_sample_us": self.next_sample_us,
            "sample_t": list(self._sample_t),
            "sample_mid": list(self._sample_mid),
            "bar_key": self._bar_key,
            "bar": [self._bar_high, self._bar_low, self._bar_close],
            "highs": list(self._highs),
            "lows": list(self._lows),
            "closes": list(self._closes),
            "bar_count": self.bar_count,
            "drift_ewma": self.drift_ewma,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a state produced by ``snapshot`` (the buffer lengths of this instance's config apply)."""
        self.last_mid = float(state["last_mid"])
        self.next_sample_us = int(state["next_sample_us"])
        self._sample_t.clear()
        self._sample_t.extend(int(x) for x in state["sample_t"])
        self._sample_mid.clear()
        self._sample_mid.extend(float(x) for x in state["sample_mid"])
        self._bar_key = None if state["bar_key"] is None else int(state["bar_key"])
        self._bar_high, self._bar_low, self._bar_close = (float(x) for x in state["bar"])
        for dq, name in ((self._highs, "highs"), (self._lows, "lows"), (self._closes, "closes")):
            dq.clear()
            dq.extend(float(x) for x in state[name])
        self.bar_count = int(state["bar_count"])
        self.drift_ewma = None if state["drift_ewma"] is None else float(state["drift_ewma"])
        self._cache.clear()
