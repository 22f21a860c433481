"""The synthetic market as an event-time iterator: the one object callers use.

Time is simulated in fixed blocks of ``block_seconds`` from ``start_us`` (one block of latent state
ahead, for the informed traders' lookahead). The caller only chooses how far to advance: whatever
the chunking (one call per day, per second or per event), the stream of records is the same, and it
never depends on wall time, so the caller decides the replay speed.

Within one event time the order is: candle (closing the previous minute), book, funding, trade.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from operator import length_hint

import numpy as np

from processors.decimals import step_decimals
from processors.market_data.synthetic.book import BookBlock, BookLadder
from processors.market_data.synthetic.candles import CandleBuilder, ClosedCandle
from processors.market_data.synthetic.config import SyntheticMarketConfig
from processors.market_data.synthetic.funding import FundingModel, FundingPoint
from processors.market_data.synthetic.latent import LatentBlock, LatentPath
from processors.market_data.synthetic.records import RecordFactory
from processors.market_data.synthetic.regimes import RegimeChain
from processors.market_data.synthetic.trades import TradeBlock, TradeFlow
from processors.market_data.topics import MarketEvent

US_PER_S = 1_000_000
SIM_DAY_US = 86_400 * US_PER_S

# Tie-break of events sharing one event time (see module docstring), indexed by the kind order
# used inside a window: book, trade, candle, funding.
_PRIORITY = np.array([1, 3, 0, 2], dtype=np.int64)
_PRIORITY.flags.writeable = False

# Records are built this many book steps at a time (16 s at 500 ms). Only the window being consumed is
# alive, so the cyclic GC rarely runs and the records stay in CPU cache; the output does not depend on it.
_WINDOW_STEPS = 32


def span_us(*, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> int:
    """A duration in microseconds, e.g. ``span_us(days=1)`` for one simulated day."""
    return int(round((((days * 24 + hours) * 60 + minutes) * 60 + seconds) * US_PER_S))


class SyntheticMarket:
    """Seeded, deterministic BTC-USDT-perp-like market emitting ``(topic, record)`` in event-time order.

    ``SyntheticMarket(config)`` starts at ``config.start_us``. Seed and config (``config.seed`` is part
    of it) fully determine every record, event ids included.
    """

    def __init__(self, config: SyntheticMarketConfig | None = None) -> None:
        cfg = config if config is not None else SyntheticMarketConfig()
        self.config = cfg
        # Independent streams per mechanism: changing how one draws leaves the others' draws intact.
        seeds = np.random.SeedSequence(cfg.seed).spawn(5)
        rngs = [np.random.Generator(np.random.PCG64(s)) for s in seeds]
        self._chain = RegimeChain(cfg, rngs[0])
        self._latent = LatentPath(cfg, self._chain, rngs[1])
        self._ladder = BookLadder(cfg, rngs[2])
        self._flow = TradeFlow(cfg, rngs[3])
        self._funding = FundingModel(cfg, rngs[4])
        self._candles = CandleBuilder(cfg.start_us, cfg.initial_price, volume_decimals=step_decimals(cfg.lot_size) + 4)
        self._records = RecordFactory(cfg.market, cfg.config_id)
        self._ahead = self._latent.next_block()
        self._book_seq = 1
        self._trade_seq = 1
        self._block: _Block | None = None
        self._pending: list[MarketEvent] = []
        self._pending_times: list[int] = []
        self._pending_iter: Iterator[MarketEvent] = iter(self._pending)
        self._next_window_start = cfg.start_us
        self._cursor = cfg.start_us

    @property
    def start_us(self) -> int:
        """Event time of the first simulated instant."""
        return self.config.start_us

    @property
    def cursor_us(self) -> int:
        """Every event before this event time has been handed out; later calls continue from here."""
        return self._cursor

    @property
    def signal_scale(self) -> np.ndarray:
        """Calibrated latent-drift scale per regime (diagnostics; see ``calibration``)."""
        return self._latent.signal_scale

    def generate(self, until_us: int) -> list[MarketEvent]:
        """All events with ``cursor_us <= event_time < until_us``, in order, as one list; advances the cursor.

        Handy for chunks (progress bars, tests). For long spans prefer :meth:`iter_events`: streamed
        records die young, which keeps Python's cyclic GC idle and runs about twice as fast.
        """
        return list(self._stream(until_us))

    def iter_events(self, start_us: int, end_us: int) -> Iterator[MarketEvent]:
        """Events with ``start_us <= event_time < end_us``, lazily (records are built a few seconds at a time).

        ``start_us`` may lie ahead of the cursor (the gap is simulated and skipped, so the market is the
        same one) but not behind it: a market cannot rewind; build a new one for that. Abandoning the
        iterator part-way is safe: the next call resumes with the first event not yet handed out.
        """
        if start_us < self._cursor:
            raise ValueError(f"start_us={start_us} is before the cursor {self._cursor}; create a new SyntheticMarket to start over")
        for _ in self._stream(start_us):
            pass
        return self._stream(end_us)

    def _stream(self, until_us: int) -> Iterator[MarketEvent]:
        # The window's events are handed out through one shared list iterator: its remaining length
        # tells exactly how far a consumer got, even one that abandoned us part-way, at no per-event cost.
        while True:
            pending = self._pending
            pos = len(pending) - length_hint(self._pending_iter)
            if pos == len(pending):
                if self._next_window_start >= until_us:
                    break
                self._build_next_window()
                continue
            cut = bisect_left(self._pending_times, until_us, pos)
            yield from islice(self._pending_iter, cut - pos)
            if cut < len(pending):
                break
        self._cursor = max(self._cursor, until_us)

    def iter_chunks(self, end_us: int, chunk_us: int) -> Iterator[tuple[int, list[MarketEvent]]]:
        """``(chunk_end_us, events)`` per ``chunk_us`` of event time up to ``end_us`` (for progress bars)."""
        if chunk_us <= 0:
            raise ValueError("chunk_us must be > 0")
        while self._cursor < end_us:
            until = min(end_us, self._cursor + chunk_us)
            yield until, self.generate(until)

    def iter_span(self, duration_us: int) -> Iterator[MarketEvent]:
        """The next ``duration_us`` of events from the cursor, e.g. ``iter_span(span_us(days=1))``."""
        return self.iter_events(self._cursor, self._cursor + duration_us)

    def _build_next_window(self) -> None:
        blk = self._block
        if blk is None or blk.next_window == blk.n_windows:
            blk = self._block = self._simulate_block()
        w = blk.next_window
        blk.next_window += 1
        (b0, t0, c0, f0), (b1, t1, c1, f1) = blk.first[w], blk.first[w + 1]
        rec, lat, book = self._records, blk.latent, blk.book
        window = rec.books(
            lat.times_us[b0:b1], lat.regime[b0:b1], book.levels_px[b0:b1], book.levels_sz[b0:b1],
            book.mid[b0:b1], book.spread_bps[b0:b1], blk.book_seq + b0,
        )
        window += rec.trades(blk.trades, t0, t1, blk.trade_seq + t0)
        window += [rec.candle(c) for c in blk.candles[c0:c1]]
        window += [rec.funding(p, m) for p, m in zip(blk.funding[f0:f1], blk.marks[f0:f1])]
        lo, hi = blk.merged_pos[w], blk.merged_pos[w + 1]
        self._pending = [window[i] for i in blk.merged_local[lo:hi]]
        self._pending_times = blk.merged_times[lo:hi]
        self._pending_iter = iter(self._pending)
        self._next_window_start = blk.edges[w + 1]

    def _simulate_block(self) -> _Block:
        """Simulate the arrays of the next block and plan its windows (records are built later)."""
        cfg = self.config
        cur = self._ahead
        nxt = self._latent.next_block()
        self._ahead = nxt
        n = cur.times_us.size
        start, end = cur.start_us, cur.start_us + n * cfg.dt_us

        book = self._ladder.build(cur)
        trades = self._flow.simulate(cur, book, nxt)
        candles = self._candles.update(trades.times_us, trades.price, trades.size, end)
        fund_times = np.array(self._funding.times(start, end), dtype=np.int64)
        fund_steps = (fund_times - start) // cfg.dt_us
        funding = self._funding.points(start, end, cur.regime[fund_steps].tolist())
        marks = book.mid[fund_steps].tolist()

        # Plan the windows: which events of each kind fall in each, and where each event of the
        # merged (time, kind-priority) order sits in its window's list [books, trades, candles, funding].
        per_kind = [cur.times_us, trades.times_us, np.array([c.close_time_us for c in candles], dtype=np.int64), fund_times]
        n_windows = -(-n // _WINDOW_STEPS)
        edges = np.minimum(start + np.arange(n_windows + 1, dtype=np.int64) * (_WINDOW_STEPS * cfg.dt_us), end)
        first = np.stack([np.searchsorted(t, edges, side="left") for t in per_kind], axis=1)
        counts = np.diff(first, axis=0)
        base = np.cumsum(counts, axis=1) - counts
        times = np.concatenate(per_kind)
        kind = np.concatenate([np.full(t.size, k, dtype=np.int64) for k, t in enumerate(per_kind)])
        index = np.concatenate([np.arange(t.size, dtype=np.int64) for t in per_kind])
        win = np.searchsorted(edges, times, side="right") - 1
        local = base[win, kind] + index - first[win, kind]
        order = np.argsort(times * 4 + _PRIORITY[kind], kind="stable")
        merged_times = times[order]
        blk = _Block(
            latent=cur,
            book=book,
            trades=trades,
            candles=candles,
            funding=funding,
            marks=marks,
            book_seq=self._book_seq,
            trade_seq=self._trade_seq,
            edges=edges.tolist(),
            first=first.tolist(),
            merged_pos=np.searchsorted(merged_times, edges, side="left").tolist(),
            merged_local=local[order].tolist(),
            merged_times=merged_times.tolist(),
            n_windows=n_windows,
        )
        self._book_seq += n
        self._trade_seq += trades.times_us.size
        return blk


@dataclass
class _Block:
    """A simulated block whose records are built window by window, on demand."""

    latent: LatentBlock
    book: BookBlock
    trades: TradeBlock
    candles: list[ClosedCandle]
    funding: list[FundingPoint]
    marks: list[float]
    book_seq: int
    trade_seq: int
    edges: list[int]
    first: list[list[int]]
    merged_pos: list[int]
    merged_local: list[int]
    merged_times: list[int]
    n_windows: int
    next_window: int = 0
