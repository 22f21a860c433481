"""1-minute OHLCV candles built from the generated trades.

A candle covers ``[open_time, open_time + 1 min)`` with ``open_time`` aligned to the UTC minute and is
emitted at the minute's close (event time = ``open_time + 1 min``), after every trade of that minute.
A minute without trades gives a flat candle at the last trade price with zero volume, as exchanges
do, so the series has no holes. The first candle may cover a partial minute when the run does not
start on a minute boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

US_PER_MIN = 60_000_000


@dataclass(frozen=True)
class ClosedCandle:
    """One finished candle."""

    open_time_us: int
    close_time_us: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_count: int


class CandleBuilder:
    """Accumulates trades across blocks and closes candles at minute boundaries."""

    def __init__(self, start_us: int, initial_price: float, interval_us: int = US_PER_MIN, volume_decimals: int = 8) -> None:
        self._interval = interval_us
        self._open_time = start_us - start_us % interval_us
        self._last_price = initial_price
        self._vol_dp = volume_decimals
        self._reset()

    def _reset(self) -> None:
        self._o: float | None = None
        self._h = -np.inf
        self._l = np.inf
        self._c = self._last_price
        self._v = 0.0
        self._n = 0

    def _add(self, prices: npt.NDArray[np.float64], sizes: npt.NDArray[np.float64]) -> None:
        if prices.size == 0:
            return
        if self._o is None:
            self._o = float(prices[0])
        self._h = max(self._h, float(prices.max()))
        self._l = min(self._l, float(prices.min()))
        self._c = float(prices[-1])
        self._v += float(sizes.sum())
        self._n += int(prices.size)
        self._last_price = self._c

    def _close(self) -> ClosedCandle:
        if self._o is None:
            p = self._last_price
            candle = ClosedCandle(self._open_time, self._open_time + self._interval, p, p, p, p, 0.0, 0)
        else:
            candle = ClosedCandle(
                self._open_time, self._open_time + self._interval, self._o, self._h, self._l, self._c,
                round(self._v, self._vol_dp), self._n,
            )
        self._open_time += self._interval
        self._reset()
        return candle

    def update(
        self, times_us: npt.NDArray[np.int64], prices: npt.NDArray[np.float64], sizes: npt.NDArray[np.float64], block_end_us: int
    ) -> list[ClosedCandle]:
        """Add one block's trades (sorted, all before ``block_end_us``); return candles closing before it."""
        closed: list[ClosedCandle] = []
        pos = 0
        while self._open_time + self._interval < block_end_us:
            boundary = self._open_time + self._interval
            cut = int(np.searchsorted(times_us, boundary, side="left"))
            self._add(prices[pos:cut], sizes[pos:cut])
            pos = cut
            closed.append(self._close())
        self._add(prices[pos:], sizes[pos:])
        return closed
