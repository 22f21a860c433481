"""Importing recorded market-data files into the Parquet store.

:class:`RecordingImporter` is the pure core: feed it lines (any registered line format, see
:mod:`.formats`), it rebuilds the L2 book from the depth diffs with update-id continuity checks
(:mod:`.l2book`), samples book snapshots (top ``book_levels`` a side, the last state of every
``book_interval_ms`` of event time), turns trades into trade records and 1m candles (the synthetic
market's :class:`CandleBuilder`: flat candles for minutes without trades), and cross-checks the rebuilt
top of book against the recorded ``bookTicker`` stream where both name the same update id.
:func:`import_file` drives it over a (gzip) file and writes the records to the store in pages, so a
day-long recording never has to fit in memory.

Candles: the first and last minute of a recording are usually cut (the recording starts and stops
mid-minute), so they would misstate open/high/low/volume; they are left out (and counted) unless
``keep_partial_candles``. Trades that are not ordinary market prints (Binance ``X`` other than
``MARKET``: insurance fund, ADL) are refused with a reason. Everything refused is counted in the
report, never silently dropped.
"""

from __future__ import annotations

import gzip
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from processors.clock import US_PER_MIN
from processors.market_data.history.formats import DepthDiff, DepthSnapshot, Skip, TopOfBook, TradePrint, get_format
from processors.market_data.history.l2book import DiffSync, SnapshotSampler, SyncCounters
from processors.market_data.history.records import Quality, RecordMaker
from processors.market_data.history.store import HistoryStore, day_of_us
from processors.market_data.synthetic.candles import CandleBuilder, ClosedCandle

_TRADE_CHUNK = 4096


class ImportConfig(BaseModel):
    """How to read a recording and what to build from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(min_length=1, description="ccxt unified symbol the recording is stored under, e.g. 'BTC/USDT:USDT'.")
    exchange: str = Field("binance", min_length=1, description="Exchange id the recording is stored under.")
    raw_symbol: str | None = Field(None, description="Exchange's own symbol in the file (default: base+quote of `symbol`, e.g. BTCUSDT).")
    line_format: str = Field("hftbacktest-binance-usdm", description="Registered line format of the file.")
    book_levels: int = Field(20, ge=1, le=1000, description="Levels per side in each book snapshot.")
    book_interval_ms: int = Field(100, ge=0, description="Event time between book snapshots (0: one per depth update).")
    bootstrap: Literal["snapshot", "diffs"] = Field("snapshot", description="How the book starts: from a REST snapshot in the file, or from the diffs alone.")
    warmup_ms: int = Field(5000, ge=0, description="'diffs' bootstrap: event time without a gap before the book counts as valid.")
    max_buffered_diffs: int = Field(100_000, ge=1, description="Diffs kept while waiting for a snapshot.")
    keep_partial_candles: bool = Field(False, description="Also store the cut first/last minute candles.")
    page_rows: int = Field(50_000, ge=1, description="Records per kind buffered before they are written.")

    @property
    def market(self) -> str:
        """Market key ``exchange:symbol``."""
        return f"{self.exchange}:{self.symbol}"

    @property
    def file_symbol(self) -> str:
        """The symbol as the file spells it."""
        if self.raw_symbol:
            return self.raw_symbol
        base_quote = self.symbol.split(":", 1)[0]
        return base_quote.replace("/", "").upper()


@dataclass
class ImportReport:
    """What an import read, built, refused and wrote."""

    market: str
    lines: int = 0
    messages: Counter[str] = field(default_factory=Counter)
    skipped_lines: Counter[str] = field(default_factory=Counter)
    other_symbol: int = 0
    records: Counter[str] = field(default_factory=Counter)
    """Records built and admitted, per kind (what was handed to the store)."""
    stored_rows: dict[str, int] = field(default_factory=dict)
    """Rows in the touched days after the merge, per kind (what the store holds for those days)."""
    days: dict[str, list[date]] = field(default_factory=dict)
    book: SyncCounters = field(default_factory=SyncCounters)
    top_matched: int = 0
    top_mismatched: int = 0
    top_mismatch_examples: list[str] = field(default_factory=list)
    partial_candles_skipped: int = 0
    late_trades_for_candles: int = 0
    first_time_us: int | None = None
    last_time_us: int | None = None
    quality: Quality = field(default_factory=Quality)

    def lines_out(self) -> list[str]:
        """Human-readable summary."""
        b = self.book
        out = [
            f"{self.lines:,} lines: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.messages.items())),
            "records: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.records.items())),
            f"book: {b.applied:,} of {b.diffs:,} diffs applied, {b.gaps} gap(s), {b.stale} stale, {b.skipped} skipped, "
            f"{b.bad_diffs} bad, snapshots {b.snapshots_used} used / {b.snapshots_ignored} ignored",
            f"top of book vs bookTicker: {self.top_matched:,} agree, {self.top_mismatched} disagree",
        ]
        if self.partial_candles_skipped:
            out.append(f"candles: {self.partial_candles_skipped} cut first/last minute(s) left out")
        if self.late_trades_for_candles:
            out.append(f"candles: {self.late_trades_for_candles} trades arrived after their minute closed (not in candles)")
        if self.skipped_lines:
            out.append("skipped lines: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped_lines.items())))
        if self.other_symbol:
            out.append(f"{self.other_symbol} messages of other symbols ignored")
        out += [f"gap: {g}" for g in b.gap_examples]
        return out + self.quality.lines()


class RecordingImporter:
    """Pure core of an import: lines in, ``(kind, record)`` out (buffered; take them with :meth:`drain`)."""

    def __init__(self, cfg: ImportConfig) -> None:
        self.cfg = cfg
        self.report = ImportReport(cfg.market)
        self._parse = get_format(cfg.line_format)
        self._sym = cfg.file_symbol
        self._rec = RecordMaker(cfg.market)
        self._sampler = SnapshotSampler(cfg.book_interval_ms * 1000, cfg.book_levels)
        self._sync = DiffSync(cfg.bootstrap, cfg.warmup_ms * 1000, cfg.max_buffered_diffs, before_invalidate=self._flush_book)
        self.report.book = self._sync.counters
        self._out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._candles: CandleBuilder | None = None
        self._ct: list[int] = []
        self._cp: list[float] = []
        self._cs: list[float] = []
        self._candle_watermark = -1
        self._tops: OrderedDict[int, tuple[float, float, float, float]] = OrderedDict()
        self._waiting_tickers: OrderedDict[int, TopOfBook] = OrderedDict()

    # feeding ---------------------------------------------------------------------------------------
    def feed(self, line: str) -> None:
        """Process one line of the recording."""
        self.report.lines += 1
        for msg in self._parse(line):
            if isinstance(msg, Skip):
                self.report.skipped_lines[msg.reason] += 1
                continue
            if msg.symbol is not None and msg.symbol != self._sym:
                self.report.other_symbol += 1
                continue
            self.report.messages[type(msg).__name__] += 1
            self._seen(msg.time_us)
            if isinstance(msg, DepthDiff):
                self._on_diff(msg)
            elif isinstance(msg, TradePrint):
                self._on_trade(msg)
            elif isinstance(msg, TopOfBook):
                self._on_top(msg)
            elif isinstance(msg, DepthSnapshot):
                self._sync.on_snapshot(msg)
                if self._sync.valid and self._sync.last_id is not None and self._sync.last_time_us is not None:
                    self._sampler.mark(self._sync.last_time_us, self._sync.last_id)  # bridged by buffered diffs
                self._after_book_change()

    def finish(self) -> None:
        """End of input: emit the pending book snapshot and close the candles."""
        self._flush_book()
        self._flush_trades(final=True)

    def drain(self) -> dict[str, list[dict[str, Any]]]:
        """Records built since the last drain, per kind."""
        out, self._out = self._out, defaultdict(list)
        return out

    def buffered(self, kind: str) -> int:
        """Records of ``kind`` waiting to be drained."""
        return len(self._out.get(kind, ()))

    def _seen(self, t: int) -> None:
        r = self.report
        if r.first_time_us is None or t < r.first_time_us:
            r.first_time_us = t
        if r.last_time_us is None or t > r.last_time_us:
            r.last_time_us = t

    def _emit(self, kind: str, record: dict[str, Any]) -> None:
        if self.report.quality.admit(kind, record):
            self._out[kind].append(record)
            self.report.records[kind] += 1

    # book --------------------------------------------------------------------------------------------
    def _on_diff(self, d: DepthDiff) -> None:
        snap = self._sampler.before(d.time_us, self._sync.book)
        if snap is not None:
            self._emit_book(snap)
        if self._sync.on_diff(d):
            self._sampler.mark(d.time_us, d.last_id)
            self._after_book_change()

    def _flush_book(self) -> None:
        snap = self._sampler.flush(self._sync.book)
        if snap is not None:
            self._emit_book(snap)

    def _emit_book(self, snap: tuple[int, int, list[tuple[float, float]], list[tuple[float, float]]]) -> None:
        t, seq, bids, asks = snap
        self._emit("book", self._rec.book(t, seq, bids, asks))

    def _after_book_change(self) -> None:
        """Remember the top of book per update id and settle tickers waiting for that id."""
        if not self._sync.valid or self._sync.last_id is None:
            return
        bb, ba = self._sync.book.best()
        if bb is None or ba is None:
            return
        u = self._sync.last_id
        self._tops[u] = (bb[0], bb[1], ba[0], ba[1])
        if len(self._tops) > 1024:
            self._tops.popitem(last=False)
        tick = self._waiting_tickers.pop(u, None)
        if tick is not None:
            self._compare(tick, self._tops[u])

    def _on_top(self, t: TopOfBook) -> None:
        top = self._tops.get(t.update_id)
        if top is not None:
            self._compare(t, top)
        elif self._sync.last_id is None or t.update_id > self._sync.last_id:
            self._waiting_tickers[t.update_id] = t  # its depth update may come later in the file
            if len(self._waiting_tickers) > 1024:
                self._waiting_tickers.popitem(last=False)

    def _compare(self, t: TopOfBook, top: tuple[float, float, float, float]) -> None:
        if (t.bid, t.bid_size, t.ask, t.ask_size) == top:
            self.report.top_matched += 1
        else:
            self.report.top_mismatched += 1
            if len(self.report.top_mismatch_examples) < 5:
                self.report.top_mismatch_examples.append(f"update {t.update_id}: ticker {t.bid}/{t.bid_size} x {t.ask}/{t.ask_size}, book {top}")

    # trades and candles ----------------------------------------------------------------------------
    def _on_trade(self, tp: TradePrint) -> None:
        if tp.kind != "MARKET":
            self.report.quality.reject("trades", "non_market_trade", f"trade {tp.trade_id} is {tp.kind}")
            return
        rec = self._rec.trade(tp.time_us, str(tp.trade_id), tp.price, tp.size, "SELL" if tp.buyer_is_maker else "BUY", tp.trade_id)
        before = self.report.records["trades"]
        self._emit("trades", rec)
        if self.report.records["trades"] == before:
            return  # refused: a bad print must not move the candles either
        self._ct.append(tp.time_us)
        self._cp.append(tp.price)
        self._cs.append(tp.size)
        if len(self._ct) >= _TRADE_CHUNK:
            self._flush_trades(final=False)

    def _flush_trades(self, final: bool) -> None:
        if not self._ct and not final:
            return
        times = np.asarray(self._ct, dtype=np.int64)
        prices = np.asarray(self._cp, dtype=np.float64)
        sizes = np.asarray(self._cs, dtype=np.float64)
        self._ct, self._cp, self._cs = [], [], []
        if times.size:
            order = np.argsort(times, kind="stable")
            times, prices, sizes = times[order], prices[order], sizes[order]
            late = times < self._candle_watermark  # their minute may already be closed
            if late.any():
                self.report.late_trades_for_candles += int(late.sum())
                keep = ~late
                times, prices, sizes = times[keep], prices[keep], sizes[keep]
        if self._candles is None:
            if not times.size:
                return
            self._candles = CandleBuilder(int(times[0]), float(prices[0]))
        if final:
            last = int(times[-1]) if times.size else self._candle_watermark
            end = last - last % US_PER_MIN + US_PER_MIN + 1  # closes the last (open) minute too
        else:
            end = int(times[-1])  # every later trade is at or after this time
        for c in self._candles.update(times, prices, sizes, end):
            self._emit_candle(c, final)
        self._candle_watermark = max(self._candle_watermark, end)

    def _emit_candle(self, c: ClosedCandle, final: bool) -> None:
        r = self.report
        cut = (r.first_time_us is not None and c.open_time_us < r.first_time_us) or (
            final and r.last_time_us is not None and c.close_time_us > r.last_time_us)
        if cut and not self.cfg.keep_partial_candles:
            r.partial_candles_skipped += 1
            return
        self._emit("ohlcv", self._rec.candle(c.open_time_us, c.close_time_us, c.open, c.high, c.low, c.close, c.volume, c.trade_count))


def unified_from_raw(raw: str) -> str | None:
    """Binance USD-M linear perpetual id -> unified symbol (``BTCUSDT`` -> ``BTC/USDT:USDT``), None if unknown."""
    for quote in ("USDT", "USDC"):
        if raw.endswith(quote) and len(raw) > len(quote):
            return f"{raw[: -len(quote)]}/{quote}:{quote}"
    return None


def guess_symbol(lines: Iterable[str], line_format: str, max_lines: int = 1000) -> str | None:
    """The unified symbol of the first message naming one in the first ``max_lines`` lines."""
    parse = get_format(line_format)
    for i, line in enumerate(lines):
        if i >= max_lines:
            break
        for msg in parse(line):
            raw = getattr(msg, "symbol", None)
            if raw:
                return unified_from_raw(raw)
    return None


def open_lines(path: Path) -> Iterable[str]:
    """Text lines of a plain or gzip file."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        yield from fh


def import_lines(lines: Iterable[str], store: HistoryStore, cfg: ImportConfig) -> ImportReport:
    """Feed ``lines`` through a :class:`RecordingImporter` and write its records into ``store``.

    Records are written as pending pages per day while reading (bounded memory), then each touched
    day is folded into its ``part.parquet`` (deduplicated by event id, so re-importing is harmless).
    """
    imp = RecordingImporter(cfg)
    touched: dict[str, set[date]] = defaultdict(set)
    page = 0

    def write(batch: dict[str, list[dict[str, Any]]]) -> None:
        nonlocal page
        for kind, recs in batch.items():
            by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
            for r in recs:
                by_day[day_of_us(r["event_time"])].append(r)
            for day, rows in by_day.items():
                page += 1
                store.write_pending(cfg.exchange, cfg.symbol, kind, day, f"import-{page:07d}", rows)
                touched[kind].add(day)

    for line in lines:
        imp.feed(line)
        if any(imp.buffered(k) >= cfg.page_rows for k in ("book", "trades", "ohlcv")):
            write(imp.drain())
    imp.finish()
    write(imp.drain())
    rep = imp.report
    for kind, days in touched.items():
        rep.days[kind] = sorted(days)
        rep.stored_rows[kind] = sum(store.compact_day(cfg.exchange, cfg.symbol, kind, d) for d in sorted(days))
    return rep


def import_file(path: Path, store: HistoryStore, cfg: ImportConfig) -> ImportReport:
    """Import one recording file (plain or gzip) into ``store``; see :func:`import_lines`."""
    return import_lines(open_lines(Path(path)), store, cfg)
