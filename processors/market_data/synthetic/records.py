"""Turning simulated arrays into the Avro record dicts of the ``hb.market.*`` topics.

This is the per-event Python work, so it is written for speed: numpy arrays are converted with one
``tolist()`` each, records are dict literals built in comprehensions, and event ids hash their
constant prefix once (same ids as :func:`processors.ids.make_id`, which is checked at start-up).
``produce_time`` is left out: the producer stamps it.
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b

import numpy as np
import numpy.typing as npt

from processors.ids import make_id
from processors.market_data.synthetic.candles import ClosedCandle
from processors.market_data.synthetic.config import REGIMES
from processors.market_data.synthetic.funding import FundingPoint
from processors.market_data.synthetic.trades import TradeBlock
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, TRADE_TOPIC, MarketEvent

SOURCE = "synthetic"
_REGIME_NAMES = np.array(REGIMES, dtype=object)  # lookup: regime index -> Avro enum symbol
_REGIME_NAMES.flags.writeable = False


def id_maker(kind: str, *prefix: object) -> Callable[[object], str]:
    """A function ``last -> make_id(kind, *prefix, last)`` that hashes the constant prefix only once.

    Falls back to calling ``make_id`` itself if its hashing scheme ever stops matching this shortcut,
    so ids always equal ``make_id``'s.
    """
    base = blake2b(("\x1f".join(str(p) for p in prefix) + "\x1f").encode("utf-8"), digest_size=10)
    head = f"{kind}-"

    def fast(last: object) -> str:
        h = base.copy()
        h.update(str(last).encode("utf-8"))
        return head + h.hexdigest()

    if fast(1234567) == make_id(kind, *prefix, 1234567) and fast("x") == make_id(kind, *prefix, "x"):
        return fast
    return lambda last: make_id(kind, *prefix, last)


class RecordFactory:
    """Builds the records of one synthetic run (market key and run id fixed)."""

    def __init__(self, market: str, run_id: str) -> None:
        self._market = market
        self._run_id = run_id
        self._book_id = id_maker("book", market, run_id)
        self._trade_id = id_maker("trade", market, run_id)
        self._candle_id = id_maker("candle", market, run_id, "1m")
        self._funding_id = id_maker("funding", market, run_id)

    def books(
        self,
        times_us: npt.NDArray[np.int64],
        regime: npt.NDArray[np.int8],
        levels_px: npt.NDArray[np.float64],
        levels_sz: npt.NDArray[np.float64],
        mid: npt.NDArray[np.float64],
        spread_bps: npt.NDArray[np.float64],
        first_seq: int,
    ) -> list[MarketEvent]:
        """One book record per snapshot; sequences ``first_seq, first_seq + 1, ...``.

        ``levels_px``/``levels_sz`` are ``(snapshots, 2 * levels)``: bids best-first then asks best-first.
        All level dicts are built in one flat comprehension and sliced per snapshot (cheaper than one
        nested comprehension per side per snapshot).
        """
        market, mk = self._market, self._book_id
        width = levels_px.shape[1]
        half = width // 2
        flat = [{"price": p, "size": s} for p, s in zip(levels_px.ravel().tolist(), levels_sz.ravel().tolist())]
        n = times_us.size
        return [
            (
                BOOK_TOPIC,
                {
                    "event_id": mk(q),
                    "event_time": t,
                    "market": market,
                    "sequence": q,
                    "bids": flat[i : i + half],
                    "asks": flat[i + half : i + width],
                    "mid": m,
                    "spread_bps": sp,
                    "source": SOURCE,
                    "sim_regime": r,
                },
            )
            for i, q, t, m, sp, r in zip(
                range(0, n * width, width),
                range(first_seq, first_seq + n),
                times_us.tolist(),
                mid.tolist(),
                spread_bps.tolist(),
                _REGIME_NAMES[regime].tolist(),
            )
        ]

    def trades(self, trades: TradeBlock, lo: int, hi: int, first_seq: int) -> list[MarketEvent]:
        """Records of trades ``lo:hi`` of a block; trade ``lo`` gets sequence ``first_seq``."""
        market, mk, run = self._market, self._trade_id, self._run_id
        seqs = range(first_seq, first_seq + hi - lo)
        return [
            (
                TRADE_TOPIC,
                {
                    "event_id": mk(q),
                    "event_time": t,
                    "market": market,
                    "trade_id": f"{run}-{q}",
                    "price": p,
                    "size": s,
                    "aggressor_side": "BUY" if b else "SELL",
                    "sequence": q,
                    "source": SOURCE,
                    "informed": inf,
                },
            )
            for q, t, p, s, b, inf in zip(
                seqs,
                trades.times_us[lo:hi].tolist(),
                trades.price[lo:hi].tolist(),
                trades.size[lo:hi].tolist(),
                trades.buy[lo:hi].tolist(),
                trades.informed[lo:hi].tolist(),
            )
        ]

    def candle(self, c: ClosedCandle) -> MarketEvent:
        """The record of one closed 1m candle (event time = its close)."""
        return (
            CANDLE_TOPIC,
            {
                "event_id": self._candle_id(c.open_time_us),
                "event_time": c.close_time_us,
                "market": self._market,
                "interval": "1m",
                "open_time": c.open_time_us,
                "open": c.open,
                "high": c.high,
                "low": c.low,
                "close": c.close,
                "volume": c.volume,
                "trade_count": c.trade_count,
                "source": SOURCE,
            },
        )

    def funding(self, p: FundingPoint, mark_price: float) -> MarketEvent:
        """The record of one funding observation or settlement."""
        return (
            FUNDING_TOPIC,
            {
                "event_id": self._funding_id(f"{p.time_us}:{'S' if p.is_settlement else 'O'}"),
                "event_time": p.time_us,
                "market": self._market,
                "funding_rate": p.rate,
                "next_funding_time": p.next_funding_time_us,
                "mark_price": mark_price,
                "is_settlement": p.is_settlement,
                "source": SOURCE,
            },
        )
