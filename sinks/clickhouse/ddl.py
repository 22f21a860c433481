"""ClickHouse DDL generated from the Avro schemas, and the row conversion that goes with it.

Every topic gets one ReplacingMergeTree table whose sorting key ends with ``event_id``: a record
consumed twice collapses to one row (and the sink skips offsets it already wrote, see
:mod:`sinks.clickhouse.writer`). ``_topic``, ``_partition`` and ``_offset`` say where each row came
from, which is also how the sink knows, after a restart, what it already wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, Callable, Sequence

from schemas import load_schema_json
from streams.catalog import TopicSpec

META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_topic", "LowCardinality(String)"),
    ("_partition", "Int32"),
    ("_offset", "Int64"),
    ("_ingest_time", "DateTime64(3, 'UTC') DEFAULT now64(3)"),
)

_PRIMITIVES = {"string": "String", "long": "Int64", "int": "Int32", "double": "Float64", "float": "Float32",
               "boolean": "Bool", "bytes": "String"}


@dataclass(frozen=True)
class Column:
    """One ClickHouse column derived from one Avro field."""

    name: str
    ch_type: str
    convert: Callable[[Any], Any] | None  # Avro value -> ClickHouse value (None: as is)


def _ts(v: Any) -> Any:
    if isinstance(v, int):
        return datetime.fromtimestamp(v / 1e6, tz=timezone.utc)
    return v


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNIT = {"timestamp-micros": timedelta(microseconds=1), "timestamp-millis": timedelta(milliseconds=1)}


def _ticks(unit: timedelta) -> Callable[[Any], Any]:
    # DateTime64 with the Avro field's precision takes the Avro long as is (clickhouse-connect
    # writes int columns without a per-value conversion); a datetime (what the serde decodes) is
    # turned back into that long exactly.
    def ticks(v: Any) -> Any:
        if v.__class__ is int or v is None:
            return v
        return ((v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)) - _EPOCH) // unit
    return ticks


def _hex(v: Any) -> Any:
    # Bytes are stored as hex text: exact, and readable in any SQL client.
    return v.hex() if isinstance(v, (bytes, bytearray)) else v


def _ch_type(avro: Any, ticks: bool = False) -> tuple[str, Callable[[Any], Any] | None]:
    """ClickHouse type and value conversion of an Avro type; ``ticks``: timestamps as DateTime64 ticks, not datetimes."""
    if isinstance(avro, str):
        if avro not in _PRIMITIVES:
            raise ValueError(f"named type reference {avro!r} must be resolved before mapping")
        return _PRIMITIVES[avro], (_hex if avro == "bytes" else None)
    if isinstance(avro, list):
        non_null = [t for t in avro if t != "null"]
        if len(non_null) != 1:
            raise ValueError(f"only ['null', T] unions are supported, got {avro}")
        inner, conv = _ch_type(non_null[0], ticks)
        if inner.startswith(("Array(", "Map(", "Tuple(")):
            return inner, conv  # ClickHouse cannot make these Nullable; null becomes empty
        if inner.startswith("LowCardinality("):
            return f"LowCardinality(Nullable({inner[15:-1]}))", conv
        return f"Nullable({inner})", conv
    t = avro["type"]
    if t in _PRIMITIVES and "logicalType" in avro:
        if avro["logicalType"] == "timestamp-micros":
            return "DateTime64(6, 'UTC')", (_ticks(_UNIT["timestamp-micros"]) if ticks else _ts)
        if avro["logicalType"] == "timestamp-millis":
            return "DateTime64(3, 'UTC')", (_ticks(_UNIT["timestamp-millis"]) if ticks else _ts)
    if t in _PRIMITIVES:
        return _ch_type(t, ticks)
    if t == "enum":
        return "LowCardinality(String)", None
    if t == "array":
        inner, conv = _ch_type(avro["items"], ticks)
        return f"Array({inner})", (None if conv is None else (lambda xs: [conv(x) for x in xs]))
    if t == "map":
        inner, conv = _ch_type(avro["values"], ticks)
        return f"Map(String, {inner})", (None if conv is None else (lambda m: {k: conv(x) for k, x in m.items()}))
    if t == "record":
        parts, convs = [], []
        for f in avro["fields"]:
            ct, cv = _ch_type(f["type"], ticks)
            parts.append(f"{f['name']} {ct}")
            convs.append((f["name"], cv))
        names = [n for n, _ in convs]
        return f"Tuple({', '.join(parts)})", (lambda r: tuple((cv(r[n]) if cv else r[n]) for n, cv in convs) if isinstance(r, dict) else r) if names else None
    raise ValueError(f"unsupported Avro type {avro}")


def _resolve_named(schema: Any, named: dict[str, Any]) -> Any:
    """Inline named-type references so each field's type is self-contained."""
    if isinstance(schema, str):
        return named.get(schema, schema)
    if isinstance(schema, list):
        return [_resolve_named(s, named) for s in schema]
    if isinstance(schema, dict):
        t = schema.get("type")
        if t in ("record", "enum", "fixed") and "name" in schema:
            full = schema["name"] if "." in schema["name"] else f"{schema.get('namespace', 'hbot.v1')}.{schema['name']}"
            if t == "record":
                schema = {**schema, "fields": [{**f, "type": _resolve_named(f["type"], named)} for f in schema["fields"]]}
            named[full] = schema
            return schema
        if t == "array":
            return {**schema, "items": _resolve_named(schema["items"], named)}
        if t == "map":
            return {**schema, "values": _resolve_named(schema["values"], named)}
        return schema
    return schema


def columns_for_schema(schema_name: str, ticks: bool = False) -> list[Column]:
    """The data columns (in Avro field order) for an hbot schema.

    ``ticks``: the conversions give timestamps as DateTime64 ticks (the Avro long) instead of datetimes.
    """
    js = _resolve_named(load_schema_json(schema_name), {})
    cols = []
    for f in js["fields"]:
        ct, conv = _ch_type(f["type"], ticks)
        cols.append(Column(f["name"], ct, conv))
    return cols


def _order_by(spec: TopicSpec, names: set[str]) -> str:
    key = ["event_time", "event_id"]
    if "market" in names and spec.key == "market":
        key.insert(0, "market")
    return ", ".join(key)


def create_table_sql(spec: TopicSpec, database: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the topic's table."""
    cols = columns_for_schema(spec.schema)
    names = {c.name for c in cols}
    body = ",\n  ".join([f"`{c.name}` {c.ch_type}" for c in cols] + [f"`{n}` {t}" for n, t in META_COLUMNS])
    table = f"{database}.{spec.table}" if database else spec.table
    return (f"CREATE TABLE IF NOT EXISTS {table} (\n  {body}\n) ENGINE = ReplacingMergeTree\n"
            f"PARTITION BY toYYYYMMDD(event_time)\nORDER BY ({_order_by(spec, names)})")


def row_converter(schema_name: str) -> tuple[list[str], Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """Column names (data only) and a function turning a decoded Avro record into a row tuple."""
    cols = columns_for_schema(schema_name)
    names = [c.name for c in cols]
    # The sink runs this once per row: one C-level itemgetter call, then Python only for the few
    # columns that need a conversion (timestamps, bytes, nested records).
    pick = itemgetter(*names) if len(names) > 1 else (lambda rec: (rec[names[0]],))
    plan = [(i, c.convert) for i, c in enumerate(cols) if c.convert is not None]
    if not plan:
        def convert_plain(rec: dict[str, Any]) -> tuple[Any, ...]:
            return pick(rec)
        return names, convert_plain

    def convert(rec: dict[str, Any]) -> tuple[Any, ...]:
        row = list(pick(rec))
        for i, conv in plan:
            if row[i] is not None:
                row[i] = conv(row[i])
        return tuple(row)
    return names, convert


def column_builder(schema_name: str) -> tuple[list[str], Callable[[Sequence[dict[str, Any]]], list[Sequence[Any]]]]:
    """Column names (data only) and a function turning decoded Avro records into columns.

    The columns are for ``client.insert(..., column_oriented=True)``, with timestamps as DateTime64
    ticks: a record decoded without logical types (ints) and one decoded by the serde (datetimes)
    give the same values.
    """
    cols = columns_for_schema(schema_name, ticks=True)
    names = [c.name for c in cols]
    pick = itemgetter(*names) if len(names) > 1 else (lambda rec: (rec[names[0]],))
    plan = [(i, c.convert) for i, c in enumerate(cols) if c.convert is not None]

    def build(records: Sequence[dict[str, Any]]) -> list[Sequence[Any]]:
        # Transpose in C (itemgetter, zip), then Python only for the columns that need a conversion.
        columns: list[Sequence[Any]] = list(zip(*map(pick, records))) if records else [() for _ in names]
        for i, conv in plan:
            columns[i] = [None if v is None else conv(v) for v in columns[i]]
        return columns
    return names, build
