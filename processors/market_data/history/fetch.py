"""Fetching history through ccxt's REST API into the Parquet store, resumable day by day.

``HistoryFetcher`` pages 1m OHLCV (``fetchOHLCV``), funding settlements (``fetchFundingRateHistory``)
and public trades (``fetchTrades``) of one market over ``[since, until)`` and stores them per UTC day.
It takes a ready ccxt exchange object (so tests give it one whose HTTP transport is faked and
everything above it, signing, parsing, pagination parameters and market loading, is real ccxt).

Pacing is ccxt's: ``enableRateLimit`` is forced on, so ccxt's throttle spaces requests by the
exchange's ``rateLimit`` times each endpoint's cost. Transient network errors are retried a few
times; anything else stops the run, and the checkpoints make the next run continue where it stopped.

Resume. For each kind and day a checkpoint records the contiguous key-time range already stored
(key time: trade/funding time, candle open time). A day whose requested range is covered is skipped;
a day that was interrupted restarts at the end of the covered range. Pages of a day in progress are
stored as pending files at once (so no fetched page is lost) and folded into the day's file when the
day is done; rows are deduplicated by their deterministic event id, so re-fetching a page is harmless.

Paging per kind:

* OHLCV: windows of ``ohlcv_limit`` minutes by ``since``/``until``; the next window starts one
  minute after the last candle received (or after the window when it was empty). A candle is stored
  in the day of its close (its event time), so a day's candles are those opening from 23:59 the day
  before to 23:58.
* Trades: time windows by ``since``/``until``. Exchanges return at most ``trades_limit`` trades per
  call and do not agree on which ones (oldest or newest of the window), so a full page is never
  trusted: the window is halved and asked again, and widened again after sparse pages. A window
  still full at ``trades_min_window_ms`` is kept and counted as possibly truncated.
* Funding: by ``since`` where the exchange filters by time; by page number (newest first) where it
  does not (Bitget's v2 ``history-fund-rate``). Funding is a few rows a day, so the whole missing
  range is fetched in one pass and stored per day.

Bad rows (NaN, negative sizes, ...) are refused with the shared checks of
:mod:`processors.market_data.validation`, counted per reason in the report, never silently dropped.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import ccxt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from processors.clock import US_PER_DAY, US_PER_MIN
from processors.market_data.history.records import FUNDING_INTERVAL_US, Quality, RecordMaker
from processors.market_data.history.store import Checkpoint, HistoryStore, day_of_us, day_start_us, days_between

FetchKind = Literal["ohlcv", "funding", "trades"]
FETCH_KINDS: tuple[str, ...] = ("ohlcv", "funding", "trades")
MIN_MS = US_PER_MIN // 1000
DAY_MS = US_PER_DAY // 1000
_PAGE_NO_FUNDING = frozenset({"bitget"})
"""Exchanges whose funding history pages by page number, newest first, without a time filter."""


class FetchError(Exception):
    """The exchange cannot be paged the way a kind needs; one readable line."""


class FetchConfig(BaseModel):
    """What to fetch and how to page it. Times are milliseconds since the epoch (UTC), ``until`` exclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(min_length=1, description="ccxt unified symbol, e.g. 'BTC/USDT:USDT'.")
    since_ms: int = Field(ge=0, description="Start of the range (event time), inclusive.")
    until_ms: int = Field(gt=0, description="End of the range (event time), exclusive.")
    kinds: tuple[FetchKind, ...] = Field(FETCH_KINDS, min_length=1, description="Kinds to fetch.")
    ohlcv_limit: int = Field(200, ge=1, le=1000, description="Candles per request (Bitget's history endpoint allows 200).")
    trades_limit: int = Field(1000, ge=2, description="Trades per request (the exchange's maximum).")
    trades_window_ms: int = Field(3_600_000, ge=1, description="First trade window; adapted to the trade rate.")
    trades_min_window_ms: int = Field(1, ge=1, description="Smallest trade window before a full page is accepted as is.")
    trades_max_window_ms: int = Field(DAY_MS, ge=1, description="Largest trade window.")
    funding_limit: int = Field(100, ge=1, description="Funding entries per request.")
    funding_paging: Literal["auto", "since", "page_no"] = Field("auto", description="'auto' picks page numbers for exchanges without a time filter.")
    max_pages: int = Field(100_000, ge=1, description="Safety stop for page-number paging.")
    retries: int = Field(3, ge=0, description="Retries of a request after a transient network error.")
    retry_delay_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")

    @model_validator(mode="after")
    def _range(self) -> FetchConfig:
        if self.until_ms <= self.since_ms:
            raise ValueError(f"until ({self.until_ms}) must be after since ({self.since_ms})")
        if self.trades_min_window_ms > self.trades_max_window_ms:
            raise ValueError("trades_min_window_ms must not exceed trades_max_window_ms")
        return self


@dataclass
class KindReport:
    """What one kind's fetch did."""

    days: int = 0
    days_skipped: int = 0
    rows_fetched: int = 0
    rows_stored: int = 0
    requests: int = 0
    truncated_windows: int = 0


@dataclass
class FetchReport:
    """Outcome of a fetch run, per kind, with the refused rows."""

    market: str
    kinds: dict[str, KindReport] = field(default_factory=dict)
    quality: Quality = field(default_factory=Quality)

    def lines(self) -> list[str]:
        """Human-readable summary."""
        out = []
        for kind, r in self.kinds.items():
            out.append(f"{kind}: {r.days} day(s), {r.days_skipped} already complete, {r.rows_fetched} rows fetched, "
                       f"{r.rows_stored} rows stored in the touched days, {r.requests} requests"
                       + (f", {r.truncated_windows} possibly truncated trade windows" if r.truncated_windows else ""))
        return out + self.quality.lines()


@dataclass(frozen=True)
class Progress:
    """A progress tick: ``kind`` has finished ``fraction`` (0..1) of day ``day`` (index ``day_index`` of ``days``)."""

    kind: str
    day: date
    day_index: int
    days: int
    fraction: float
    rows: int


ProgressFn = Callable[[Progress], None]


class HistoryFetcher:
    """Fetches one market's history into a :class:`HistoryStore` (see the module docstring).

    ``exchange`` is a ccxt (sync) exchange; ``now_ms`` (the caller's wall clock) caps the range so that
    a still-open candle is never stored; ``sleep`` is only used between retries.
    """

    def __init__(self, exchange: ccxt.Exchange, store: HistoryStore, config: FetchConfig, *, now_ms: int | None = None,
                 sleep: Callable[[float], None] = time.sleep, on_progress: ProgressFn | None = None) -> None:
        self.ex = exchange
        self.store = store
        self.cfg = config
        self.until_ms = min(config.until_ms, now_ms) if now_ms is not None else config.until_ms
        self._sleep = sleep
        self._progress = on_progress or (lambda p: None)
        self.exchange_id = str(exchange.id)
        self.market = f"{self.exchange_id}:{config.symbol}"
        self.records = RecordMaker(self.market)
        self.report = FetchReport(self.market)
        self._trade_window = config.trades_window_ms

    # ------------------------------------------------------------------------------------------------
    def run(self) -> FetchReport:
        """Fetch every configured kind; returns the report (also kept on ``self.report``)."""
        self.ex.enableRateLimit = True  # pacing is ccxt's throttle: rateLimit x endpoint cost between requests
        if not self.ex.markets:
            self._call(self.ex.load_markets, kind=None)
        if self.cfg.symbol not in self.ex.markets:
            raise KeyError(f"{self.exchange_id} has no market {self.cfg.symbol!r}")
        self.store.ensure_market(self.exchange_id, self.cfg.symbol)
        for kind in self.cfg.kinds:
            self.report.kinds[kind] = KindReport()
            if kind == "funding":
                self._fetch_funding()
            else:
                self._fetch_windowed(kind)
        return self.report

    def _call(self, fn: Callable[..., Any], *args: Any, kind: str | None, **kwargs: Any) -> Any:
        """One ccxt call, retried after transient network errors (timeouts, 429, 5xx)."""
        delay = self.cfg.retry_delay_s
        for attempt in range(self.cfg.retries + 1):
            if kind is not None:
                self.report.kinds[kind].requests += 1
            try:
                return fn(*args, **kwargs)
            except ccxt.NetworkError:
                if attempt == self.cfg.retries:
                    raise
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    # OHLCV and trades: per day, paged by time, resumable within the day -------------------------------
    def _key_offset_ms(self, kind: str) -> int:
        # A candle's event time is its close, one interval after the open time the exchange pages by.
        return MIN_MS if kind == "ohlcv" else 0

    def _fetch_windowed(self, kind: str) -> None:
        rep = self.report.kinds[kind]
        offset = self._key_offset_ms(kind)
        days = days_between(self.cfg.since_ms * 1000, self.until_ms * 1000)
        rep.days = len(days)
        for i, day in enumerate(days):
            d0 = day_start_us(day) // 1000
            key_lo = max(self.cfg.since_ms, d0) - offset
            key_hi = min(self.until_ms, d0 + DAY_MS) - offset
            day_lo, day_hi = d0 - offset, d0 + DAY_MS - offset
            cp = self.store.checkpoint(self.exchange_id, self.cfg.symbol, kind, day)
            pending = (self.store.day_dir(self.exchange_id, self.cfg.symbol, kind, day) / "_pending").exists()
            if cp is not None and cp.lo_ms <= key_lo and cp.hi_ms >= key_hi:
                rep.days_skipped += 1
                if pending:  # interrupted while folding the day: finish that
                    rep.rows_stored += self.store.compact_day(self.exchange_id, self.cfg.symbol, kind, day)
                    self._save(kind, day, cp.lo_ms, cp.hi_ms, day_lo, day_hi)
                self._progress(Progress(kind, day, i, len(days), 1.0, 0))
                continue
            if cp is not None and cp.lo_ms <= key_lo <= cp.hi_ms:
                lo, cursor = cp.lo_ms, cp.hi_ms  # resume after what is stored
            else:
                lo, cursor = key_lo, key_lo
            while cursor < key_hi:
                rows, nxt = self._page(kind, cursor, key_hi)
                if rows:
                    self.store.write_pending(self.exchange_id, self.cfg.symbol, kind, day, f"{cursor:013d}", rows)
                    rep.rows_fetched += len(rows)
                cursor = nxt
                self.store.save_checkpoint(self.exchange_id, self.cfg.symbol, kind, day, Checkpoint(lo, cursor, False))
                self._progress(Progress(kind, day, i, len(days), (cursor - key_lo) / max(1, key_hi - key_lo), len(rows)))
            rep.rows_stored += self.store.compact_day(self.exchange_id, self.cfg.symbol, kind, day)
            if cp is not None and cp.lo_ms <= cursor and lo <= cp.hi_ms:  # merge with what an earlier run covered
                lo, cursor = min(lo, cp.lo_ms), max(cursor, cp.hi_ms)
            self._save(kind, day, lo, cursor, day_lo, day_hi)

    def _save(self, kind: str, day: date, lo: int, hi: int, day_lo: int, day_hi: int) -> None:
        self.store.save_checkpoint(self.exchange_id, self.cfg.symbol, kind, day, Checkpoint(lo, hi, lo <= day_lo and hi >= day_hi))

    def _page(self, kind: str, cursor: int, key_hi: int) -> tuple[list[dict[str, Any]], int]:
        """One request: the admitted records of ``[cursor, next)`` and ``next`` (> cursor unless a window shrank)."""
        if kind == "ohlcv":
            return self._ohlcv_page(cursor, key_hi)
        return self._trades_page(cursor, key_hi)

    def _ohlcv_page(self, cursor: int, key_hi: int) -> tuple[list[dict[str, Any]], int]:
        lim = self.cfg.ohlcv_limit
        until = min(cursor + lim * MIN_MS, key_hi) - 1  # inclusive end, as exchanges read endTime
        raw = self._call(self.ex.fetch_ohlcv, self.cfg.symbol, "1m", cursor, lim, {"until": until}, kind="ohlcv")
        rows = [r for r in raw if cursor <= int(r[0]) <= until]
        nxt = max(int(r[0]) for r in rows) + MIN_MS if rows else until + 1
        return self._admit("ohlcv", [self.records.candle_from_ohlcv(r) for r in rows]), nxt

    def _trades_page(self, cursor: int, key_hi: int) -> tuple[list[dict[str, Any]], int]:
        rep = self.report.kinds["trades"]
        lim = self.cfg.trades_limit
        w_end = min(cursor + self._trade_window, key_hi)
        raw = self._call(self.ex.fetch_trades, self.cfg.symbol, cursor, lim, {"until": w_end - 1}, kind="trades")
        width = w_end - cursor
        if len(raw) >= lim and not any(cursor <= int(t["timestamp"]) < w_end for t in raw):
            # Halving cannot help an exchange that ignores the window; stop instead of asking forever.
            raise FetchError(f"{self.exchange_id} returned {len(raw)} trades all outside the requested window "
                             f"[{cursor}, {w_end}) ms: its fetchTrades does not page by time")
        if len(raw) >= lim:
            if width > self.cfg.trades_min_window_ms:
                # A full page may hold the oldest or the newest trades of the window: ask again for less time.
                self._trade_window = max(self.cfg.trades_min_window_ms, width // 2)
                return [], cursor
            rep.truncated_windows += 1
        elif len(raw) < lim // 4 and width == self._trade_window:
            self._trade_window = min(self.cfg.trades_max_window_ms, self._trade_window * 2)
        inside = [t for t in raw if cursor <= int(t["timestamp"]) < w_end]
        return self._admit("trades", [self.records.trade_from_ccxt(t) for t in inside]), w_end

    # funding: the whole missing range in one pass ---------------------------------------------------
    def _funding_interval_us(self) -> int:
        info = self.ex.market(self.cfg.symbol).get("info") or {}
        hours = info.get("fundInterval") or info.get("fundingInterval")
        try:
            return int(float(hours) * 3600 * 1_000_000) if hours else FUNDING_INTERVAL_US
        except (TypeError, ValueError):
            return FUNDING_INTERVAL_US

    def _fetch_funding(self) -> None:
        rep = self.report.kinds["funding"]
        days = days_between(self.cfg.since_ms * 1000, self.until_ms * 1000)
        rep.days = len(days)
        todo: list[tuple[int, date, int, int]] = []
        for i, day in enumerate(days):
            d0 = day_start_us(day) // 1000
            lo, hi = max(self.cfg.since_ms, d0), min(self.until_ms, d0 + DAY_MS)
            cp = self.store.checkpoint(self.exchange_id, self.cfg.symbol, "funding", day)
            if cp is not None and cp.lo_ms <= lo and cp.hi_ms >= hi:
                rep.days_skipped += 1
                self._progress(Progress("funding", day, i, len(days), 1.0, 0))
            else:
                todo.append((i, day, lo, hi))
        if not todo:
            return
        lo, hi = todo[0][2], todo[-1][3]
        mode = self.cfg.funding_paging
        if mode == "auto":
            mode = "page_no" if self.exchange_id in _PAGE_NO_FUNDING else "since"
        entries = self._funding_by_page_no(lo, hi) if mode == "page_no" else self._funding_by_since(lo, hi)
        interval = self._funding_interval_us()
        by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for rec in self._admit("funding", [self.records.funding_from_ccxt(e, interval) for e in entries]):
            by_day[day_of_us(rec["event_time"])].append(rec)
        rep.rows_fetched += sum(len(v) for v in by_day.values())
        for i, day, dlo, dhi in todo:
            rep.rows_stored += self.store.write_day(self.exchange_id, self.cfg.symbol, "funding", day, by_day.get(day, []))
            cp = self.store.checkpoint(self.exchange_id, self.cfg.symbol, "funding", day)
            if cp is not None and cp.lo_ms <= dhi and dlo <= cp.hi_ms:
                dlo, dhi = min(dlo, cp.lo_ms), max(dhi, cp.hi_ms)
            d0 = day_start_us(day) // 1000
            self._save("funding", day, dlo, dhi, d0, d0 + DAY_MS)
            self._progress(Progress("funding", day, i, len(days), 1.0, len(by_day.get(day, []))))

    def _funding_by_since(self, lo: int, hi: int) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        cursor = lo
        while cursor < hi:
            raw = self._call(self.ex.fetch_funding_rate_history, self.cfg.symbol, cursor, self.cfg.funding_limit,
                             {"until": hi - 1}, kind="funding")
            rows = [e for e in raw if cursor <= int(e["timestamp"]) < hi]
            if not rows:
                break
            out += rows
            cursor = max(int(e["timestamp"]) for e in rows) + 1
        return out

    def _funding_by_page_no(self, lo: int, hi: int) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        for page in range(1, self.cfg.max_pages + 1):
            raw = self._call(self.ex.fetch_funding_rate_history, self.cfg.symbol, None, self.cfg.funding_limit,
                             {"pageNo": page}, kind="funding")
            if not raw:
                break
            out += [e for e in raw if lo <= int(e["timestamp"]) < hi]
            if min(int(e["timestamp"]) for e in raw) < lo:
                break  # newest first: everything older is before the range
        return out

    def _admit(self, kind: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        q = self.report.quality
        return [r for r in records if q.admit(kind, r)]


def fetch_book_snapshot(exchange: ccxt.Exchange, symbol: str, levels: int = 20) -> dict[str, Any]:
    """The exchange's current order book (``fetchOrderBook``) as an ``hb.market.book.v1`` record.

    REST has no order-book history; this is a point-in-time snapshot (e.g. to seed or check a book).
    """
    exchange.enableRateLimit = True
    ob = exchange.fetch_order_book(symbol, levels)
    return RecordMaker(f"{exchange.id}:{symbol}").book_from_ccxt(ob, levels)


def kind_counts(report: FetchReport) -> Counter[str]:
    """Rows fetched per kind (for summaries and tests)."""
    return Counter({k: r.rows_fetched for k, r in report.kinds.items()})
