"""Importing recorded Binance USD-M streams: L2 book from depth diffs, trades, 1m candles.

The real recording (``shared/fixtures/market``, read in place) is imported whole; the expectations
are computed here from the raw file with plain ``json``, independently of the importer's parser.
Continuity handling is checked on small hand-made streams.
"""

from __future__ import annotations

import bisect
import gzip
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from processors.market_data import validation
from processors.market_data.history.formats import Skip, TradePrint, format_names, get_format, register_format
from processors.market_data.history.importer import ImportConfig, import_file, import_lines
from processors.market_data.history.store import HistoryStore, batch_to_records
from tests.processors.market_data.history.bitget_fake import FIXTURES

BTC_FILE = FIXTURES / "market" / "binance-usdm-btcusdt-20240808.gz"
SYMBOL = "BTC/USDT:USDT"
MIN_US = 60_000_000


@dataclass
class Raw:
    """What the recording holds, read with plain json (no importer code)."""

    trades: list[dict[str, Any]] = field(default_factory=list)
    depth: list[tuple[int, int, int, int, bool]] = field(default_factory=list)  # U, u, pu, T ms, after the snapshot line
    tickers: list[tuple[int, float, float, float, float]] = field(default_factory=list)  # u, bid, bid size, ask, ask size
    snapshot_id: int | None = None
    times_ms: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def raw() -> Raw:
    r = Raw()
    with gzip.open(BTC_FILE, "rt") as fh:
        for line in fh:
            m = json.loads(line.split(" ", 1)[1])
            if "lastUpdateId" in m:
                r.snapshot_id = m["lastUpdateId"]
                continue
            d = m["data"]
            r.times_ms.append(d.get("T") or d["E"])
            if d["e"] == "trade":
                r.trades.append(d)
            elif d["e"] == "depthUpdate":
                r.depth.append((d["U"], d["u"], d["pu"], d["T"], r.snapshot_id is not None))
            elif d["e"] == "bookTicker":
                r.tickers.append((d["u"], float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"])))
    r.tickers.sort()
    return r


@dataclass
class Imported:
    store: HistoryStore
    report: Any
    seconds: float

    def rows(self, kind: str, exchange: str = "binance") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for day in self.store.days(exchange, SYMBOL, kind):
            out += batch_to_records(self.store.read_table(exchange, SYMBOL, kind, day))
        return out


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    store = HistoryStore(tmp_path_factory.mktemp("import") / "data")
    started = time.monotonic()
    report = import_file(BTC_FILE, store, ImportConfig(symbol=SYMBOL))
    return Imported(store, report, time.monotonic() - started)


def test_when_the_whole_btcusdt_recording_is_imported_then_it_takes_under_a_minute_without_gaps(imported: Imported, raw: Raw) -> None:
    rep = imported.report
    print(f"\nimport of {BTC_FILE.name}: {imported.seconds:.2f} s, rows {rep.stored_rows}")
    assert imported.seconds < 60
    assert rep.lines == 93_954 and rep.skipped_lines == Counter() and rep.other_symbol == 0
    assert rep.messages == Counter(DepthDiff=6551, TopOfBook=66_089, TradePrint=21_313, DepthSnapshot=1)
    # The file does hold one REST snapshot (line 55); diffs before it are buffered and bridged
    assert rep.book.snapshots_used == 1 and rep.book.gaps == 0 and rep.book.bad_diffs == 0
    assert rep.book.stale == sum(1 for d in raw.depth if d[1] < raw.snapshot_id)
    assert rep.book.applied == len(raw.depth) - rep.book.stale
    assert rep.top_matched > 500 and rep.top_mismatched == 0
    assert rep.quality.total_rejected == 0


def test_when_imported_then_trades_match_the_raw_file(imported: Imported, raw: Raw) -> None:
    trades = imported.rows("trades")
    market = [t for t in raw.trades if t["X"] == "MARKET"]
    assert len(trades) == len(market) == 21_313
    assert [t["trade_id"] for t in trades] == [str(t["t"]) for t in sorted(market, key=lambda t: (t["T"], t["t"]))]
    assert [t["event_time"] for t in trades] == sorted(t["T"] * 1000 for t in market)
    assert min(t["price"] for t in trades) == min(float(t["p"]) for t in market)
    assert max(t["price"] for t in trades) == max(float(t["p"]) for t in market)
    assert sum(t["size"] for t in trades) == pytest.approx(sum(float(t["q"]) for t in market), rel=1e-12)
    sells = sum(1 for t in market if t["m"])  # buyer is maker: the seller hit the bid
    assert Counter(t["aggressor_side"] for t in trades) == Counter(SELL=sells, BUY=len(market) - sells)
    assert {t["market"] for t in trades} == {"binance:BTC/USDT:USDT"} and {t["source"] for t in trades} == {"replay"}


def test_when_imported_then_every_book_snapshot_has_the_recorded_best_bid_and_ask(imported: Imported, raw: Raw) -> None:
    books = imported.rows("book")
    # Expected count: the last valid state of each 100 ms bucket; the diffs bridged at the snapshot line
    # give one state (superseded when a later diff falls in the same bucket).
    valid = [d for d in raw.depth if d[1] >= raw.snapshot_id]
    assert all(b[2] == a[1] for a, b in zip(valid, valid[1:])), "the recording itself is gap-free"
    post = {d[3] // 100 for d in valid if d[4]}
    pre = [d for d in valid if not d[4]]
    assert len(books) == len(post) + (1 if pre and pre[-1][3] // 100 not in post else 0)
    # Each snapshot's best levels equal the latest bookTicker at or before its update id (prices and sizes)
    ids = [t[0] for t in raw.tickers]
    checked = 0
    for b in books:
        i = bisect.bisect_right(ids, b["sequence"]) - 1
        if i < 0:
            continue
        _, bid, bid_size, ask, ask_size = raw.tickers[i]
        assert (b["bids"][0]["price"], b["bids"][0]["size"], b["asks"][0]["price"], b["asks"][0]["size"]) == (bid, bid_size, ask, ask_size)
        checked += 1
    assert checked >= len(books) - 1
    # Shape: 20 levels a side, strictly increasing sequences, valid records
    assert {len(b["bids"]) for b in books} == {20} and {len(b["asks"]) for b in books} == {20}
    seqs = [b["sequence"] for b in books]
    assert seqs == sorted(set(seqs))
    assert all(validation.check_book(b) is None for b in books)
    bids = [t[1] for t in raw.tickers]
    asks = [t[3] for t in raw.tickers]
    assert min(bids) <= min(b["mid"] for b in books) and max(b["mid"] for b in books) <= max(asks)


def test_when_imported_then_1m_candles_equal_ohlcv_computed_from_the_raw_trades(imported: Imported, raw: Raw) -> None:
    first_us, last_us = min(raw.times_ms) * 1000, max(raw.times_ms) * 1000
    by_minute: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in sorted(raw.trades, key=lambda t: (t["T"], t["t"])):
        by_minute[t["T"] * 1000 // MIN_US * MIN_US].append(t)
    # Only minutes the recording covers whole: the cut first minute is left out
    expected = {m: ts for m, ts in by_minute.items() if m >= first_us and m + MIN_US <= last_us}
    candles = imported.rows("ohlcv")
    assert [c["open_time"] for c in candles] == sorted(expected)
    assert len(candles) == 5 and imported.report.partial_candles_skipped == 1
    for c in candles:
        ts = expected[c["open_time"]]
        prices = [float(t["p"]) for t in ts]
        assert (c["open"], c["high"], c["low"], c["close"]) == (prices[0], max(prices), min(prices), prices[-1])
        assert c["volume"] == pytest.approx(sum(float(t["q"]) for t in ts), abs=1e-8)
        assert c["trade_count"] == len(ts) and c["event_time"] == c["open_time"] + MIN_US and c["interval"] == "1m"


def test_when_the_same_recording_is_imported_again_then_the_store_is_unchanged(imported: Imported) -> None:
    before = {k: [r["event_id"] for r in imported.rows(k)] for k in ("book", "trades", "ohlcv")}
    lines = list(gzip.open(BTC_FILE, "rt"))[:30_000]  # a prefix: everything in it is already stored
    import_lines(lines, imported.store, ImportConfig(symbol=SYMBOL))
    assert {k: [r["event_id"] for r in imported.rows(k)] for k in before} == before


# hand-made streams ----------------------------------------------------------------------------------
def _diff(t_ms: int, first: int, last: int, prev: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    data = {"e": "depthUpdate", "E": t_ms, "T": t_ms, "s": "BTCUSDT", "U": first, "u": last, "pu": prev, "b": bids, "a": asks}
    return f"{t_ms * 1_000_000} " + json.dumps({"stream": "btcusdt@depth@0ms", "data": data})


def _snap(t_ms: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    return f"{t_ms * 1_000_000} " + json.dumps({"lastUpdateId": last, "E": t_ms, "T": t_ms, "bids": bids, "asks": asks})


def _trade(t_ms: int, tid: int, price: str, qty: str, maker: bool = False, kind: str = "MARKET") -> str:
    data = {"e": "trade", "E": t_ms, "T": t_ms, "s": "BTCUSDT", "t": tid, "p": price, "q": qty, "X": kind, "m": maker}
    return f"{t_ms * 1_000_000} " + json.dumps({"stream": "btcusdt@trade", "data": data})


T0 = 1_723_161_600_000  # 2024-08-09T00:00:00Z


def _import(tmp_path: Path, lines: list[str], **cfg: Any) -> tuple[Any, list[dict[str, Any]]]:
    store = HistoryStore(tmp_path / "data")
    rep = import_lines(lines, store, ImportConfig(symbol=SYMBOL, book_levels=2, **{"book_interval_ms": 0, **cfg}))
    books = [r for d in store.days("binance", SYMBOL, "book") for r in batch_to_records(store.read_table("binance", SYMBOL, "book", d))]
    return rep, books


def test_when_a_depth_update_is_missing_then_the_gap_is_counted_and_no_book_is_emitted_until_a_new_snapshot(tmp_path: Path) -> None:
    lines = [
        _diff(T0 + 10, 95, 105, 90, [["100.0", "2"]], []),  # before the snapshot: buffered, then bridges it
        _snap(T0 + 20, 100, [["100.0", "1"], ["99.0", "1"]], [["101.0", "1"], ["102.0", "1"]]),
        _diff(T0 + 30, 106, 110, 105, [], [["101.0", "0"]]),
        _diff(T0 + 40, 120, 125, 115, [["100.5", "3"]], []),  # pu 115 != 110: updates 111..119 were lost
        _diff(T0 + 50, 126, 130, 125, [["99.0", "0"]], []),   # waits for a snapshot
        _snap(T0 + 60, 128, [["98.0", "4"], ["97.0", "1"]], [["103.0", "2"], ["104.0", "1"]]),
        _diff(T0 + 70, 131, 135, 130, [], [["103.5", "5"]]),
    ]
    rep, books = _import(tmp_path, lines)
    assert rep.book.gaps == 1 and rep.book.snapshots_used == 2 and rep.book.stale == 1  # 120..125 is older than snapshot 128
    assert "after 110" in rep.book.gap_examples[0]
    assert [b["sequence"] for b in books] == [105, 110, 130, 135]
    top = {b["sequence"]: ([(lv["price"], lv["size"]) for lv in b["bids"]], [(lv["price"], lv["size"]) for lv in b["asks"]]) for b in books}
    assert top[105] == ([(100.0, 2.0), (99.0, 1.0)], [(101.0, 1.0), (102.0, 1.0)])
    assert top[110] == ([(100.0, 2.0), (99.0, 1.0)], [(102.0, 1.0)])
    assert top[130] == ([(98.0, 4.0), (97.0, 1.0)], [(103.0, 2.0), (104.0, 1.0)])  # nothing of the lost-gap diff leaks in
    assert top[135] == ([(98.0, 4.0), (97.0, 1.0)], [(103.0, 2.0), (103.5, 5.0)])
    assert [b["event_time"] for b in books] == [(T0 + t) * 1000 for t in (10, 30, 50, 70)]


def test_when_a_diff_carries_a_negative_size_then_it_is_refused_and_the_book_waits_for_a_snapshot(tmp_path: Path) -> None:
    lines = [
        _snap(T0, 100, [["100.0", "1"]], [["101.0", "1"]]),
        _diff(T0 + 10, 100, 105, 99, [["100.0", "2"]], []),
        _diff(T0 + 20, 106, 110, 105, [["100.0", "-1"]], []),
        _diff(T0 + 30, 111, 115, 110, [["99.0", "1"]], []),
    ]
    rep, books = _import(tmp_path, lines)
    assert rep.book.bad_diffs == 1 and rep.book.gaps == 1 and "negative_size" in rep.book.gap_examples[0]
    assert [b["sequence"] for b in books] == [105]


def test_when_the_rebuilt_book_is_crossed_then_that_snapshot_is_refused_and_counted(tmp_path: Path) -> None:
    lines = [
        _snap(T0, 100, [["100.0", "1"]], [["101.0", "1"]]),
        _diff(T0 + 10, 100, 105, 99, [["99.0", "1"]], []),
        _diff(T0 + 20, 106, 110, 105, [["101.5", "1"]], []),  # a bid above the best ask
        _diff(T0 + 30, 111, 115, 110, [["101.5", "0"]], []),
    ]
    rep, books = _import(tmp_path, lines)
    assert rep.quality.rejected == Counter({("book", validation.CROSSED_BOOK): 1})
    assert "101.5" in rep.quality.examples[("book", validation.CROSSED_BOOK)]
    assert [b["sequence"] for b in books] == [105, 115]


def test_when_the_file_has_no_snapshot_then_the_diffs_bootstrap_warms_up_and_restarts_after_a_gap(tmp_path: Path) -> None:
    lines = [_diff(T0 + i * 500, 10 * i + 1, 10 * i + 10, 10 * i, [[f"{100 - i}.0", "1"]], [[f"{200 + i}.0", "1"]]) for i in range(6)]
    lines.append(_diff(T0 + 3000, 100, 110, 95, [["50.0", "1"]], [["250.0", "1"]]))  # gap: pu 95 != 60
    lines += [_diff(T0 + 3000 + i * 500, 110 + 10 * (i - 1) + 1, 110 + 10 * i, 110 + 10 * (i - 1), [], []) for i in range(1, 4)]
    # snapshot-less recording under the default policy: nothing valid, everything waits
    rep, books = _import(tmp_path / "strict", lines)
    assert books == [] and rep.book.applied == 0
    # diffs policy: valid after 1 s of gap-free updates, and again 1 s after the gap
    rep, books = _import(tmp_path / "diffs", lines, bootstrap="diffs", warmup_ms=1000)
    assert rep.book.gaps == 1
    assert [b["event_time"] // 1000 - T0 for b in books] == [1000, 1500, 2000, 2500, 4000, 4500]
    assert books[3]["bids"][0]["price"] == 100.0 and books[3]["asks"][0]["price"] == 200.0
    assert books[4]["bids"] == [{"price": 50.0, "size": 1.0}] and books[4]["asks"] == [{"price": 250.0, "size": 1.0}]


def test_when_trades_are_bad_or_late_then_they_are_counted_not_silently_dropped(tmp_path: Path) -> None:
    lines = [
        _trade(T0 + 1000, 1, "100.0", "1"),
        _trade(T0 + 2000, 2, "100.5", "-2"),  # negative size
        _trade(T0 + 3000, 3, "101.0", "1", kind="ADL"),  # not a market print
        _trade(T0 + 500, 4, "100.2", "1"),  # earlier than the previous accepted trade
        "not a line",
        _trade(T0 + 61_000, 5, "102.0", "1", maker=True),
    ]
    store = HistoryStore(tmp_path / "data")
    rep = import_lines(lines, store, ImportConfig(symbol=SYMBOL, keep_partial_candles=True))
    assert rep.quality.rejected == Counter({("trades", validation.NEGATIVE_SIZE): 1, ("trades", "non_market_trade"): 1})
    assert rep.quality.out_of_order["trades"] == 1 and rep.skipped_lines == Counter(bad_line=1)
    trades = [r for d in store.days("binance", SYMBOL, "trades") for r in batch_to_records(store.read_table("binance", SYMBOL, "trades", d))]
    assert [t["trade_id"] for t in trades] == ["4", "1", "5"]  # kept, stored in event-time order
    candles = [r for d in store.days("binance", SYMBOL, "ohlcv") for r in batch_to_records(store.read_table("binance", SYMBOL, "ohlcv", d))]
    assert [(c["open"], c["high"], c["low"], c["close"], c["volume"], c["trade_count"]) for c in candles] == [
        (100.2, 100.2, 100.0, 100.0, 2.0, 2), (102.0, 102.0, 102.0, 102.0, 1.0, 1)]


def test_when_a_new_line_format_is_registered_then_files_in_it_import_the_same_way(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="hftbacktest-binance-usdm"):
        get_format("no-such-format")

    def csv_trades(line: str) -> list[Any]:  # time_ms,trade_id,price,qty,buyer_is_maker
        try:
            t, tid, p, q, m = line.strip().split(",")
            return [TradePrint("BTCUSDT", int(t) * 1000, 0, int(tid), float(p), float(q), m == "1", "MARKET")]
        except ValueError:
            return [Skip("bad_line", line[:40])]

    register_format("test-csv-trades", csv_trades)
    assert "test-csv-trades" in format_names()
    store = HistoryStore(tmp_path / "data")
    rep = import_lines([f"{T0 + i * 1000},{i},{100 + i}.0,0.5,{i % 2}" for i in range(90)] + ["header,x"], store,
                       ImportConfig(symbol=SYMBOL, line_format="test-csv-trades"))
    assert rep.records["trades"] == 90 and rep.skipped_lines == Counter(bad_line=1)
    assert rep.records["ohlcv"] == 1  # the minute 00:00 is whole; 00:01 is cut by the end of the file
