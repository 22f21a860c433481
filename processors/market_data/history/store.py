"""The on-disk store of historical market data: Parquet files partitioned by market, kind and UTC day.

Layout under the hbot home (``HOME/data``)::

    <exchange>/<symbol-safe>/_market.json                       exchange, unified symbol, market key
    <exchange>/<symbol-safe>/<kind>/date=YYYY-MM-DD/part.parquet    the day's rows, sorted, deduplicated
    <exchange>/<symbol-safe>/<kind>/date=YYYY-MM-DD/_checkpoint.json what a fetch has covered (resume point)
    <exchange>/<symbol-safe>/<kind>/date=YYYY-MM-DD/_pending/*.parquet pages of a day still being fetched

``kind`` is one of ``book``, ``trades``, ``ohlcv``, ``funding``. A row is one record of the kind's Avro
schema (``hb.market.*``) with exactly the schema's fields as columns, so replay turns rows into records
without any mapping: timestamps are ``timestamp[us, UTC]`` columns, book levels ``list<struct<price,
size>>``, enums strings, optional fields nullable. ``produce_time`` stays null in the store (nothing was
produced yet); the producer stamps it at replay. The day of a row is the UTC day of its ``event_time``.

Writes are atomic (temporary file + rename) and idempotent: rows are deduplicated by ``event_id``
(deterministic ids, so fetching or importing the same data twice stores it once; the newer row wins).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import schemas
from processors.clock import US_PER_DAY
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, SCHEMA_OF_TOPIC, TRADE_TOPIC

KIND_TOPIC: dict[str, str] = {"book": BOOK_TOPIC, "trades": TRADE_TOPIC, "ohlcv": CANDLE_TOPIC, "funding": FUNDING_TOPIC}
"""Stored kind -> the topic (and so the Avro schema) of its rows."""
KINDS: tuple[str, ...] = tuple(KIND_TOPIC)

SORT_COLUMNS: dict[str, tuple[str, ...]] = {
    # Within one kind, rows are ordered by event time, then by the exchange's own order where it has
    # one (trades printed in the same millisecond keep their id order), then by event id (stable).
    "book": ("event_time", "sequence", "event_id"),
    "trades": ("event_time", "sequence", "trade_id", "event_id"),
    "ohlcv": ("event_time", "open_time", "event_id"),
    "funding": ("event_time", "event_id"),
}

PART_FILE = "part.parquet"
CHECKPOINT_FILE = "_checkpoint.json"
PENDING_DIR = "_pending"
MARKET_FILE = "_market.json"
_EPOCH_DAY = date(1970, 1, 1)


class StoreError(Exception):
    """The store cannot do what was asked (e.g. two symbols mapping to one folder); one readable line."""


def symbol_safe(symbol: str) -> str:
    """Folder name of a unified symbol: ``BTC/USDT:USDT`` -> ``BTC-USDT-USDT``."""
    safe = re.sub(r"[^A-Za-z0-9._]+", "-", symbol).strip("-")
    if not safe:
        raise StoreError(f"symbol {symbol!r} has no usable characters for a folder name")
    return safe


def day_of_us(us: int) -> date:
    """UTC calendar day of a microsecond timestamp."""
    return _EPOCH_DAY + timedelta(days=us // US_PER_DAY)


def day_start_us(day: date) -> int:
    """Microseconds since the epoch at 00:00 UTC of ``day``."""
    return (day - _EPOCH_DAY).days * US_PER_DAY


def days_between(start_us: int, end_us: int) -> list[date]:
    """The UTC days that intersect ``[start_us, end_us)``."""
    if end_us <= start_us:
        return []
    first, last = day_of_us(start_us), day_of_us(end_us - 1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _avro_to_arrow(t: Any, named: dict[str, pa.DataType]) -> tuple[pa.DataType, bool]:
    """Arrow type of an Avro type, and whether it is nullable."""
    if isinstance(t, list):  # union: hbot only uses ["null", X]
        rest = [x for x in t if x != "null"]
        if len(rest) != 1:
            raise StoreError(f"unsupported Avro union {t!r}")
        return _avro_to_arrow(rest[0], named)[0], True
    if isinstance(t, str):
        prim = {"string": pa.string(), "long": pa.int64(), "int": pa.int32(), "double": pa.float64(),
                "float": pa.float32(), "boolean": pa.bool_()}
        if t in prim:
            return prim[t], False
        if t in named:
            return named[t], False
        if "." not in t and f"{schemas.NAMESPACE}.{t}" in named:
            return named[f"{schemas.NAMESPACE}.{t}"], False
        raise StoreError(f"unsupported Avro type {t!r}")
    kind = t["type"]
    if kind == "long" and t.get("logicalType") == "timestamp-micros":
        return pa.timestamp("us", tz="UTC"), False
    if kind == "enum":
        named[f"{t.get('namespace', schemas.NAMESPACE)}.{t['name']}"] = pa.string()
        return pa.string(), False
    if kind == "array":
        item, _ = _avro_to_arrow(t["items"], named)
        return pa.list_(item), False
    if kind == "record":
        fields = [pa.field(f["name"], *_avro_to_arrow(f["type"], named)) for f in t["fields"]]
        dtype = pa.struct(fields)
        named[f"{t.get('namespace', schemas.NAMESPACE)}.{t['name']}"] = dtype
        return dtype, False
    return _avro_to_arrow(kind, named)


def arrow_schema(kind: str) -> pa.Schema:
    """The Parquet schema of ``kind``: one column per field of the kind's Avro schema, same names."""
    avro = schemas.load_schema_json(SCHEMA_OF_TOPIC[KIND_TOPIC[kind]])
    named: dict[str, pa.DataType] = {}
    fields = []
    for f in avro["fields"]:
        dtype, nullable = _avro_to_arrow(f["type"], named)
        # produce_time is stamped by the producer at replay; a stored row has none yet.
        fields.append(pa.field(f["name"], dtype, nullable=nullable or f["name"] == "produce_time"))
    return pa.schema(fields)


_SCHEMAS: dict[str, pa.Schema] = {}


def schema_of(kind: str) -> pa.Schema:
    """Cached :func:`arrow_schema`."""
    if kind not in KIND_TOPIC:
        raise StoreError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if kind not in _SCHEMAS:
        _SCHEMAS[kind] = arrow_schema(kind)
    return _SCHEMAS[kind]


def to_table(kind: str, records: Sequence[dict[str, Any]]) -> pa.Table:
    """Records (Avro dicts, times as int microseconds) as a table of the kind's schema."""
    return pa.Table.from_pylist(list(records), schema=schema_of(kind))


def _timestamp_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_timestamp(f.type)]


def batch_to_records(batch: pa.RecordBatch | pa.Table, drop: Iterable[str] = ("produce_time",)) -> list[dict[str, Any]]:
    """Rows as Avro record dicts: timestamps back to int microseconds, ``drop`` columns left out."""
    names = [n for n in batch.schema.names if n not in set(drop)]
    cols = []
    for name in names:
        col = batch.column(batch.schema.get_field_index(name))
        if pa.types.is_timestamp(col.type):
            col = pc.cast(col, pa.int64())
        cols.append(col.to_pylist())
    return [dict(zip(names, row)) for row in zip(*cols)]


def _sort_dedupe(kind: str, table: pa.Table) -> pa.Table:
    """Keep the last row of each event id, then sort by the kind's order."""
    ids = table.column("event_id").to_pylist()
    last: dict[str, int] = {}
    for i, eid in enumerate(ids):
        last[eid] = i
    if len(last) != len(ids):
        table = table.take(pa.array(sorted(last.values()), type=pa.int64()))
    return table.sort_by([(c, "ascending") for c in SORT_COLUMNS[kind]])


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _atomic_write_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


@dataclass(frozen=True)
class Checkpoint:
    """What a fetch has stored for one kind and day: the contiguous key-time range ``[lo_ms, hi_ms)``.

    Key time is what the exchange pages by (trade/funding time, candle open time), in milliseconds.
    ``complete`` means the whole day is covered and will not be fetched again.
    """

    lo_ms: int
    hi_ms: int
    complete: bool

    def to_json(self) -> dict[str, Any]:
        """The checkpoint file's content."""
        return {"lo_ms": self.lo_ms, "hi_ms": self.hi_ms, "complete": self.complete}


@dataclass(frozen=True)
class StoredKind:
    """One line of :meth:`HistoryStore.inventory`."""

    exchange: str
    symbol: str
    kind: str
    days: int
    first_day: date
    last_day: date
    rows: int
    incomplete_days: int


class HistoryStore:
    """Reads and writes the Parquet store rooted at ``root`` (normally ``HOME/data``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # paths -----------------------------------------------------------------------------------------
    def market_dir(self, exchange: str, symbol: str) -> Path:
        """Folder of one market (created with its ``_market.json`` by :meth:`ensure_market`)."""
        return self.root / exchange / symbol_safe(symbol)

    def kind_dir(self, exchange: str, symbol: str, kind: str) -> Path:
        """Folder of one kind of one market."""
        schema_of(kind)
        return self.market_dir(exchange, symbol) / kind

    def day_dir(self, exchange: str, symbol: str, kind: str, day: date) -> Path:
        """Folder of one day (the Hive-style ``date=YYYY-MM-DD`` partition)."""
        return self.kind_dir(exchange, symbol, kind) / f"date={day.isoformat()}"

    def ensure_market(self, exchange: str, symbol: str) -> None:
        """Record which unified symbol a market folder holds; refuse a second symbol in the same folder."""
        path = self.market_dir(exchange, symbol) / MARKET_FILE
        meta = {"exchange": exchange, "symbol": symbol, "market": f"{exchange}:{symbol}"}
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("symbol") != symbol:
                raise StoreError(f"{path.parent} already holds {old.get('symbol')!r}, not {symbol!r}")
            return
        _atomic_write_json(meta, path)

    # writing ---------------------------------------------------------------------------------------
    def write_day(self, exchange: str, symbol: str, kind: str, day: date, records: Sequence[dict[str, Any]]) -> int:
        """Merge ``records`` (all of UTC day ``day``) into the day's file; returns the day's row count."""
        return self.merge_day(exchange, symbol, kind, day, [to_table(kind, records)])

    def merge_day(self, exchange: str, symbol: str, kind: str, day: date, tables: Sequence[pa.Table]) -> int:
        """Merge tables into the day's ``part.parquet`` (existing rows first, so new rows win on duplicate ids)."""
        self.ensure_market(exchange, symbol)
        path = self.day_dir(exchange, symbol, kind, day) / PART_FILE
        parts = [pq.read_table(path, schema=schema_of(kind))] if path.exists() else []
        parts += [t for t in tables if t.num_rows]
        if not parts:
            return 0
        table = _sort_dedupe(kind, pa.concat_tables(parts))
        lo, hi = day_start_us(day), day_start_us(day) + US_PER_DAY
        times = pc.cast(table.column("event_time"), pa.int64())
        outside = pc.sum(pc.or_(pc.less(times, lo), pc.greater_equal(times, hi))).as_py() or 0
        if outside:
            raise StoreError(f"{outside} {kind} rows do not belong to {day.isoformat()} (partitioning bug)")
        _atomic_write_table(table, path)
        return table.num_rows

    def write_pending(self, exchange: str, symbol: str, kind: str, day: date, name: str,
                      records: Sequence[dict[str, Any]]) -> None:
        """Store one fetched page of a day not finished yet (survives an interruption)."""
        self.ensure_market(exchange, symbol)
        _atomic_write_table(to_table(kind, records), self.day_dir(exchange, symbol, kind, day) / PENDING_DIR / f"{name}.parquet")

    def compact_day(self, exchange: str, symbol: str, kind: str, day: date) -> int:
        """Fold the day's pending pages into ``part.parquet`` and remove them; returns the day's rows."""
        pending = self.day_dir(exchange, symbol, kind, day) / PENDING_DIR
        tables = [pq.read_table(p, schema=schema_of(kind)) for p in sorted(pending.glob("*.parquet"))] if pending.exists() else []
        rows = self.merge_day(exchange, symbol, kind, day, tables)
        if pending.exists():
            shutil.rmtree(pending)
        return rows

    def checkpoint(self, exchange: str, symbol: str, kind: str, day: date) -> Checkpoint | None:
        """The day's fetch checkpoint, if any."""
        path = self.day_dir(exchange, symbol, kind, day) / CHECKPOINT_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return Checkpoint(int(raw["lo_ms"]), int(raw["hi_ms"]), bool(raw["complete"]))

    def save_checkpoint(self, exchange: str, symbol: str, kind: str, day: date, cp: Checkpoint) -> None:
        """Atomically replace the day's checkpoint."""
        _atomic_write_json(cp.to_json(), self.day_dir(exchange, symbol, kind, day) / CHECKPOINT_FILE)

    # reading ---------------------------------------------------------------------------------------
    def days(self, exchange: str, symbol: str, kind: str) -> list[date]:
        """Days that have a ``part.parquet``, oldest first."""
        base = self.kind_dir(exchange, symbol, kind)
        if not base.exists():
            return []
        out = []
        for d in base.glob("date=*"):
            if (d / PART_FILE).exists():
                out.append(date.fromisoformat(d.name.split("=", 1)[1]))
        return sorted(out)

    def day_rows(self, exchange: str, symbol: str, kind: str, day: date) -> int:
        """Row count of a stored day (from the Parquet footer; 0 when absent)."""
        path = self.day_dir(exchange, symbol, kind, day) / PART_FILE
        return pq.ParquetFile(path).metadata.num_rows if path.exists() else 0

    def read_table(self, exchange: str, symbol: str, kind: str, day: date) -> pa.Table:
        """The whole stored day as a table (empty table of the kind's schema when absent)."""
        path = self.day_dir(exchange, symbol, kind, day) / PART_FILE
        if not path.exists():
            return schema_of(kind).empty_table()
        return pq.read_table(path, schema=schema_of(kind))

    def iter_batches(self, exchange: str, symbol: str, kind: str, day: date, batch_size: int = 20_000) -> Iterator[pa.RecordBatch]:
        """The stored day in row batches, in stored (event time) order."""
        path = self.day_dir(exchange, symbol, kind, day) / PART_FILE
        if not path.exists():
            return
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size)

    def markets(self) -> list[tuple[str, str]]:
        """Every stored ``(exchange, unified symbol)``."""
        out = []
        for meta in sorted(self.root.glob(f"*/*/{MARKET_FILE}")):
            raw = json.loads(meta.read_text())
            out.append((raw["exchange"], raw["symbol"]))
        return out

    def inventory(self) -> list[StoredKind]:
        """What is stored: per market and kind, the number of days, first/last day and rows."""
        out = []
        for exchange, symbol in self.markets():
            for kind in KINDS:
                days = self.days(exchange, symbol, kind)
                if not days:
                    continue
                rows = sum(self.day_rows(exchange, symbol, kind, d) for d in days)
                incomplete = 0
                for d in days:
                    cp = self.checkpoint(exchange, symbol, kind, d)
                    if cp is not None and not cp.complete:
                        incomplete += 1
                out.append(StoredKind(exchange, symbol, kind, len(days), days[0], days[-1], rows, incomplete))
        return out
