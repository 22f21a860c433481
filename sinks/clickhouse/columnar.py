"""Columns for one ClickHouse insert, and a vectorised Avro decoder for flat schemas.

fastavro reads a small record in about 5 us, most of it per-field Python-level work, which alone
caps a sink thread far below what chDB ingests. Most high-volume sink topics (trades, candles,
orders, fills) have flat schemas: strings, numbers, booleans, enums, ``["null", T]``. For those,
:class:`ColumnDecoder` reads a whole batch at once with numpy: every record is walked field by field
in lock step, one vectorised step per field, straight into the columns ClickHouse takes.

What is accepted is exactly what the serde accepts: the vectorised reader only takes a record
whose header names the current writer schema and whose body it reads completely (no bytes short
or left over, enum and union indexes in range, booleans 0 or 1, strings valid UTF-8). Any other
record goes through :class:`sinks.clickhouse.decoding.SinkDecoder`, i.e. the serde: it is read
there (an older writer, resolved) or rejected with the serde's :class:`DecodeError` (its DLQ reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import methodcaller
from typing import Any, Callable, Sequence

import numpy as np

from schemas import load_schema_json
from sinks.clickhouse.ddl import column_builder
from sinks.clickhouse.decoding import SinkDecoder
from streams.serde import HEADER_LEN, DecodeError

_WIDE = np.arange(10)  # a varint has at most 10 bytes
_SHIFTS = (7 * _WIDE).astype(np.uint64)
_PAD = bytes(16)       # reads past the last record's end stay inside the buffer
_VALUE, _PARTITION, _OFFSET = methodcaller("value"), methodcaller("partition"), methodcaller("offset")


@dataclass
class Columns:
    """Rows of one table as columns: where each came from, and one sequence per data column."""

    partitions: np.ndarray  # int32
    offsets: np.ndarray     # int64
    data: list[Sequence[Any]]

    def __len__(self) -> int:
        return len(self.offsets)

    def take(self, keep: np.ndarray) -> Columns:
        """The rows where ``keep`` (a boolean mask) is true."""
        idx = np.flatnonzero(keep)
        return Columns(self.partitions[idx], self.offsets[idx],
                       [c[idx] if isinstance(c, np.ndarray) else [c[i] for i in idx.tolist()] for c in self.data])

    @staticmethod
    def join(parts: list[Columns]) -> Columns:
        """One block from several (numpy columns stay numpy only when every part has them as such)."""
        parts = [p for p in parts if len(p)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return Columns(np.empty(0, np.int32), np.empty(0, np.int64), [])
        data: list[Sequence[Any]] = []
        for cols in zip(*(p.data for p in parts)):
            if all(isinstance(c, np.ndarray) for c in cols):
                data.append(np.concatenate(cols))
            else:
                data.append([v for c in cols for v in (c.tolist() if isinstance(c, np.ndarray) else c)])
        return Columns(np.concatenate([p.partitions for p in parts]), np.concatenate([p.offsets for p in parts]), data)


def _flat_field(avro: Any) -> tuple[str, Any, bool] | None:
    """(kind, detail, nullable) for a field the vectorised reader handles, else None."""
    nullable = False
    if isinstance(avro, list):
        if len(avro) != 2 or avro[0] != "null" or avro[1] == "null":
            return None
        nullable, avro = True, avro[1]
    if isinstance(avro, dict):
        if avro.get("type") == "enum":
            return "enum", list(avro["symbols"]), nullable
        if avro.get("logicalType") in ("timestamp-micros", "timestamp-millis"):
            return "ticks", None, nullable  # DateTime64 of the field's precision takes the long as is
        avro = avro.get("type")
    if avro in ("long", "int", "string", "double", "float", "boolean"):
        return avro, None, nullable
    return None  # bytes (stored as hex), records, arrays, maps: the per-record path


class _Reader:
    """Lock-step reader over many records' bodies in one buffer; ``bad`` marks records that failed."""

    def __init__(self, buf: np.ndarray, pos: np.ndarray, end: np.ndarray, raw: bytes) -> None:
        self.buf, self.pos, self.end, self.raw = buf, pos, end, raw
        self.bad = np.zeros(len(pos), dtype=bool)

    def _advance(self, rows: np.ndarray, new: np.ndarray) -> None:
        over = new > self.end[rows]
        if over.any():
            self.bad[rows[over]] = True
            new = np.where(over, self.end[rows], new)
        self.pos[rows] = new

    def varint(self, rows: np.ndarray) -> np.ndarray:
        """Zigzag longs at ``rows``' positions (int64)."""
        pos = self.pos[rows]
        first = self.buf[pos]
        if not (first & 0x80).any():  # the common case: every value fits one byte
            v = first.astype(np.int64)
            self._advance(rows, pos + 1)
            return (v >> 1) ^ -(v & 1)
        b = self.buf[pos[:, None] + _WIDE]
        last = b < 0x80
        n = last.argmax(axis=1)
        broken = ~last.any(axis=1) | ((n == 9) & (b[:, 9] > 1))  # longer than 10 bytes, or past 64 bits
        if broken.any():
            self.bad[rows[broken]] = True
        parts = (b & 0x7F).astype(np.uint64) << _SHIFTS
        parts[_WIDE[None, :] > n[:, None]] = 0
        u = np.bitwise_or.reduce(parts, axis=1)
        self._advance(rows, pos + n + 1)
        return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)

    def fixed(self, rows: np.ndarray, dtype: str, size: int) -> np.ndarray:
        """Little-endian ``dtype`` values of ``size`` bytes at ``rows``' positions."""
        pos = self.pos[rows]
        out = self.buf[pos[:, None] + _WIDE[:size]].copy().view(dtype).reshape(-1)
        self._advance(rows, pos + size)
        return out

    def strings(self, rows: np.ndarray) -> list[bytes]:
        """UTF-8 strings at ``rows``' positions, as bytes (clickhouse-connect writes those as they are)."""
        length = self.varint(rows)
        negative = length < 0
        if negative.any():
            self.bad[rows[negative]] = True
            length = np.where(negative, 0, length)
        start = self.pos[rows]
        self._advance(rows, start + length)
        stop = self.pos[rows]
        raw = self.raw
        out = [raw[a:b] for a, b in zip(start.tolist(), stop.tolist())]
        try:
            b"".join(out).decode("utf-8")
            # The concatenation is valid and no piece starts inside a character, so each piece is valid.
            split = (stop > start) & ((self.buf[start] & 0xC0) == 0x80)
        except UnicodeDecodeError:
            split = np.array([_not_utf8(s) for s in out], dtype=bool)
        if split.any():
            self.bad[rows[split]] = True
        return out


def _not_utf8(s: bytes) -> bool:
    try:
        s.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


class ColumnDecoder:
    """Messages of one topic -> :class:`Columns`, dead-lettering what the serde rejects."""

    def __init__(self, schema: str, decoder: SinkDecoder) -> None:
        self._schema = schema
        self._decoder = decoder
        self._names, self._build = column_builder(schema)
        fields = [_flat_field(f["type"]) for f in load_schema_json(schema)["fields"]]
        header = decoder.fast_header(schema)
        self._fields = fields if header is not None and all(f is not None for f in fields) else None
        self._header = np.frombuffer(header or b"", dtype=np.uint8)
        self._strings = [i for i, f in enumerate(fields) if f is not None and f[0] == "string"]

    @property
    def vectorised(self) -> bool:
        """Whether this schema is read a batch at a time (else record by record)."""
        return self._fields is not None

    def decode(self, topic: str, msgs: Sequence[Any], dead: Callable[[Any, DecodeError], None]) -> Columns:
        """Columns of every record in ``msgs`` that decodes; ``dead(message, error)`` for each that does not."""
        if self._fields is None or not msgs:
            return self.decode_each(topic, msgs, dead)
        values = list(map(_VALUE, msgs))
        if None in values:  # tombstones: read by the serde, which rejects them
            values = [b"" if v is None else v for v in values]
        lengths = np.array(list(map(len, values)), dtype=np.int64)
        raw = b"".join(values) + _PAD
        buf = np.frombuffer(raw, dtype=np.uint8)
        start = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        ok = lengths >= HEADER_LEN
        head = buf[np.where(ok, start, 0)[:, None] + np.arange(HEADER_LEN)]
        ok &= (head == self._header).all(axis=1)
        reader = _Reader(buf, start + HEADER_LEN, start + lengths, raw)
        reader.bad |= ~ok
        reader.pos[~ok] = reader.end[~ok] = start[~ok]  # not read here at all
        data = [self._read(reader, f) for f in self._fields]  # type: ignore[union-attr]
        good = ~reader.bad & (reader.pos == reader.end)
        partitions = np.array(list(map(_PARTITION, msgs)), dtype=np.int32)
        offsets = np.array(list(map(_OFFSET, msgs)), dtype=np.int64)
        block = Columns(partitions, offsets, data)
        if good.all():
            return block
        rest = [msgs[i] for i in np.flatnonzero(~good).tolist()]
        return Columns.join([block.take(good), self.decode_each(topic, rest, dead)])

    def decode_each(self, topic: str, msgs: Sequence[Any], dead: Callable[[Any, DecodeError], None]) -> Columns:
        """Columns of ``msgs`` decoded one record at a time (the serde's path)."""
        decode = self._decoder.decode
        kept, records = [], []
        for m in msgs:
            try:
                records.append(decode(m.value(), self._schema, topic))
            except DecodeError as exc:
                dead(m, exc)
                continue
            kept.append(m)
        return self.from_records([m.partition() for m in kept], [m.offset() for m in kept], records)

    def from_records(self, partitions: Sequence[int], offsets: Sequence[int], records: Sequence[dict[str, Any]]) -> Columns:
        """Columns of already decoded records (strings as the vectorised reader gives them, if it is used)."""
        data = [list(c) for c in self._build(records)]
        if self._fields is not None:
            # One column must not mix bytes and str: the driver picks the encoding from its first value.
            for i in self._strings:
                data[i] = [v.encode("utf-8") if isinstance(v, str) else v for v in data[i]]
        return Columns(np.asarray(partitions, dtype=np.int32), np.asarray(offsets, dtype=np.int64), data)

    @staticmethod
    def _read(reader: _Reader, field: tuple[str, Any, bool]) -> Sequence[Any]:
        kind, detail, nullable = field
        rows = np.arange(len(reader.pos))
        if nullable:
            branch = reader.varint(rows)
            wrong = (branch != 0) & (branch != 1)
            if wrong.any():
                reader.bad[wrong] = True
            rows = np.flatnonzero(branch == 1)
        if kind in ("long", "int", "ticks"):
            values: Any = reader.varint(rows)
            if kind == "int":
                wide = (values < -2**31) | (values >= 2**31)
                if wide.any():  # the serde reads it; the insert then says what is wrong
                    reader.bad[rows[wide]] = True
                values = values.astype(np.int32)  # Int32: the array type the driver writes as is
            elif kind == "ticks":
                values = values.tolist()  # the driver takes DateTime64 ticks as Python ints only
        elif kind == "double":
            values = reader.fixed(rows, "<f8", 8)
        elif kind == "float":
            values = reader.fixed(rows, "<f4", 4)
        elif kind == "boolean":
            byte = reader.fixed(rows, "u1", 1)
            if (byte > 1).any():
                reader.bad[rows[byte > 1]] = True
            values = byte == 1
        elif kind == "string":
            values = reader.strings(rows)
        else:  # enum
            index = reader.varint(rows)
            wrong = (index < 0) | (index >= len(detail))
            if wrong.any():
                reader.bad[rows[wrong]] = True
                index = np.where(wrong, 0, index)
            values = np.array(detail, dtype=object)[index].tolist()
        if not nullable:
            return values
        out: list[Any] = [None] * len(reader.pos)
        for i, v in zip(rows.tolist(), values.tolist() if isinstance(values, np.ndarray) else values):
            out[i] = v
        return out
