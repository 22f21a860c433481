"""The market ``hbot demo`` publishes: the seeded synthetic market, or a recording (``--source FILE``).

``FILE`` is either

* a **recording file** in a line format ``hbot data import`` reads (today the hftbacktest Binance
  USD-M recorder's ``<ns> <json>`` lines, plain or gzip), imported on the fly into ``HOME/data``
  exactly as ``hbot data import FILE`` would store it (the market is ``binance:<unified symbol>``,
  e.g. ``binance:BTC/USDT:USDT``), and the file's time range is published; or
* an **imported market folder** (``HOME/data/<exchange>/<symbol>``, the folder holding
  ``_market.json`` that ``hbot data import`` / ``fetch`` write; ``hbot data list`` shows what is
  stored), whose whole stored range is published.

Either way the records are the store's ``hb.market.*`` rows in event-time order (the replay
iterator of ``hbot data replay``), and the demo's paper instance trades the recording's market with
a tick and lot inferred from its printed prices and sizes
(:mod:`processors.market_data.history.increments`). Anything unusable (missing, unreadable, not a
recording, no order book) raises :class:`SourceError` with one readable line.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hbot.settings import InstanceConfig

SAMPLE_TRADES = 50_000
SAMPLE_BOOKS = 5_000
"""Records read to infer tick and lot (plenty: every level of a book is a sample)."""


class SourceError(Exception):
    """``--source`` cannot be used; the message says why and what to pass instead (one line)."""


@dataclass(frozen=True)
class DemoMarket:
    """What the demo publishes and which instance trades it."""

    instance: InstanceConfig
    start_us: int
    span_us: int
    events: Callable[[], Iterator[tuple[str, dict[str, Any]]]]
    name: str
    """File-name part of the summary: ``seed7`` or the recording's name."""
    title: str
    """How the summary's title names the market data."""
    seed: int | None = None
    source: str = "synthetic"
    expected: dict[str, int] | None = None
    """Records per topic the events hold (recordings: counted from the store), None if unknown."""
    notes: list[str] = field(default_factory=list)
    """What the import did, for the console."""

    @property
    def market(self) -> str:
        """The market key ``exchange:symbol`` of every record and of the instance."""
        return self.instance.market


def synthetic_market(seed: int, span_us: int) -> DemoMarket:
    """The seeded synthetic BTC perp over ``span_us`` (the demo's default)."""
    from processors.instance import demo_instance
    from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig

    market = SyntheticMarket(SyntheticMarketConfig(seed=seed))
    return DemoMarket(demo_instance(), market.start_us, span_us, lambda: market.iter_span(span_us), name=f"seed{seed}",
                      title=f"{span_us / 3.6e9:g} simulated hours, seed {seed}", seed=seed)


def recording_market(path: Path, data_root: Path, span_us: int | None = None,
                     line_format: str = "hftbacktest-binance-usdm", exchange: str = "binance") -> DemoMarket:
    """The market of a recording file (imported into ``data_root``) or of an imported market folder.

    ``span_us`` keeps only the first ``span_us`` of event time (default: all of it).
    """
    import pyarrow as pa

    from processors.market_data.history.store import HistoryStore, StoreError

    path = Path(path)
    if not path.exists():
        raise SourceError(f"--source {path}: no such file or folder; pass a recording (e.g. a .gz from the recorder) "
                          "or an imported market folder HOME/data/<exchange>/<symbol> (see `hbot data list`)")
    notes: list[str] = []
    try:
        if path.is_dir():
            store, ex, symbol = _market_folder(path)
            first, last = _stored_range(store, ex, symbol)
            name = path.name
            source_kind = "imported market folder"
        else:
            store = HistoryStore(data_root)
            ex, symbol, first, last, notes = _import(path, store, line_format, exchange)
            name = path.name.removesuffix(".gz")
            name = next((name.removesuffix(s) for s in (".txt", ".jsonl", ".log") if name.endswith(s)), name)
            source_kind = "recording"
        end = last + 1 if span_us is None else min(last + 1, first + span_us)
        return _from_store(store, ex, symbol, first, end, name, f"{source_kind} {path.name}", str(path), notes)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, StoreError, pa.ArrowException, json.JSONDecodeError, KeyError) as exc:
        detail = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc) or type(exc).__name__
        raise SourceError(f"--source {path}: cannot be read ({type(exc).__name__}: {detail[:200]})") from None


def _market_folder(path: Path) -> tuple[Any, str, str]:
    from processors.market_data.history.store import MARKET_FILE, HistoryStore

    meta = path / MARKET_FILE
    if not meta.exists():
        raise SourceError(f"--source {path}: a folder without {MARKET_FILE}, so not an imported market; pass a recording file or "
                          "a market folder such as HOME/data/binance/BTC-USDT-USDT (see `hbot data list`)")
    raw = json.loads(meta.read_text())
    ex, symbol = str(raw["exchange"]), str(raw["symbol"])
    store = HistoryStore(path.resolve().parent.parent)
    if store.market_dir(ex, symbol).resolve() != path.resolve():
        raise SourceError(f"--source {path}: {MARKET_FILE} names {ex}:{symbol}, whose folder would be {store.market_dir(ex, symbol)}; "
                          "pass the folder `hbot data import` created")
    return store, ex, symbol


def _stored_range(store: Any, ex: str, symbol: str) -> tuple[int, int]:
    """First and last stored event time (microseconds) over every kind of the market."""
    import pyarrow.compute as pc

    from processors.market_data.history.store import KINDS

    lo: list[int] = []
    hi: list[int] = []
    for kind in KINDS:
        days = store.days(ex, symbol, kind)
        if not days:
            continue
        for day, pick, out in ((days[0], pc.min, lo), (days[-1], pc.max, hi)):
            times = store.read_table(ex, symbol, kind, day).column("event_time")
            if len(times):
                out.append(int(pick(times.cast("int64")).as_py()))
    if not lo:
        raise SourceError(f"nothing is stored for {ex}:{symbol} in {store.market_dir(ex, symbol)}; import a recording into it first")
    return min(lo), max(hi)


def _import(path: Path, store: Any, line_format: str, exchange: str) -> tuple[str, str, int, int, list[str]]:
    """Import ``path`` into ``store`` as ``hbot data import`` does; (exchange, symbol, first, last, report lines)."""
    from processors.market_data.history.importer import ImportConfig, guess_symbol, import_file, open_lines

    if path.suffix == ".parquet":
        raise SourceError(f"--source {path}: one Parquet file is not a dataset; pass its market folder (the one holding "
                          "_market.json, e.g. HOME/data/binance/BTC-USDT-USDT) or the recording file")
    symbol = guess_symbol(open_lines(path), line_format)
    if symbol is None:
        raise SourceError(f"--source {path}: no market message in its first lines, so not a {line_format} recording "
                          "(`<receive ns> <Binance combined-stream JSON>` per line, plain or .gz)")
    cfg = ImportConfig(symbol=symbol, exchange=exchange, line_format=line_format)
    report = import_file(path, store, cfg)
    lines = report.lines_out()
    if report.records["book"] == 0 and report.book.diffs > 0:
        # No depth snapshot in the file: rebuild the book from the diffs alone (after a warm-up), as
        # `hbot data import --bootstrap diffs` does. Trades and candles are the same records again.
        report = import_file(path, store, cfg.model_copy(update={"bootstrap": "diffs"}))
        lines = ["no depth snapshot in the file: the book is rebuilt from the diffs after a warm-up", *report.lines_out()]
    if report.first_time_us is None or report.last_time_us is None or not report.records:
        raise SourceError(f"--source {path}: no usable market records in it ({report.lines:,} lines); "
                          f"is it a {line_format} recording?")
    return exchange, symbol, report.first_time_us, report.last_time_us, lines


def _from_store(store: Any, ex: str, symbol: str, start_us: int, end_us: int, name: str, title: str, source: str,
                notes: list[str]) -> DemoMarket:
    from processors.instance import demo_instance
    from processors.market_data.history.replay import replay, stored_counts
    from processors.market_data.history.store import KINDS
    from processors.market_data.topics import BOOK_TOPIC

    expected = stored_counts(store, ex, symbol, start_us, end_us, KINDS)
    if expected.get(BOOK_TOPIC, 0) == 0:
        raise SourceError(f"--source {source}: {ex}:{symbol} has no order-book records in it, and the desk quotes from the book; "
                          "use a recording with depth updates")
    tick, lot = infer_tick_lot(store, ex, symbol, start_us, end_us)
    instance = demo_instance(exchange=ex, symbol=symbol, tick_size=tick, lot_size=lot)
    minutes = (end_us - start_us) / 6e7
    return DemoMarket(instance, start_us, end_us - start_us, lambda: replay(store, ex, symbol, start_us, end_us, KINDS),
                      name=name, title=f"{instance.market}, {minutes:.1f} min of {title}", source=source,
                      expected={k: v for k, v in expected.items() if v}, notes=[*notes, f"tick {tick:g}, lot {lot:g} (from the prices and sizes printed)"])


def infer_tick_lot(store: Any, ex: str, symbol: str, start_us: int, end_us: int) -> tuple[float, float]:
    """Tick and lot of the stored market, from book levels and trades in ``[start_us, end_us)``."""
    import pyarrow.compute as pc

    from processors.market_data.history.increments import increment
    from processors.market_data.history.store import days_between

    prices: list[float] = []
    sizes: list[float] = []
    for kind, limit in (("trades", SAMPLE_TRADES), ("book", SAMPLE_BOOKS)):
        taken = 0
        for day in days_between(start_us, end_us):
            for batch in store.iter_batches(ex, symbol, kind, day, batch_size=min(limit, 20_000)):
                if taken >= limit:
                    break
                batch = batch.slice(0, limit - taken)
                taken += batch.num_rows
                if kind == "trades":
                    prices += batch.column("price").to_pylist()
                    sizes += batch.column("size").to_pylist()
                    continue
                for side in ("bids", "asks"):
                    levels = pc.list_flatten(batch.column(side))
                    prices += pc.struct_field(levels, "price").to_pylist()
                    sizes += pc.struct_field(levels, "size").to_pylist()
    tick, lot = increment(prices), increment(sizes)
    if tick is None or lot is None:
        raise SourceError(f"{ex}:{symbol}: no positive prices and sizes to infer the tick and lot from")
    return tick, lot
