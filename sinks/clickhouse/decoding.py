"""The sink's Avro decode: the serde's checks, without the per-record cost of logical types.

The sink turns every decoded timestamp back into a DateTime64 tick count, so building ``datetime``
objects (what :class:`streams.serde.SingleObjectSerde` returns for ``timestamp-micros``) and
converting them back costs about a third of the decode for nothing. A record written with the
current version of the expected schema is therefore read with that schema minus its logical types
(same binary layout, timestamps stay longs); every other record, and any record that does not
read cleanly that way, goes through the serde itself, so what is accepted, how older writers are
resolved, and the :class:`DecodeError` a bad record gets (its DLQ reason) are the serde's.
"""

from __future__ import annotations

import io
from typing import Any, Iterable

import fastavro

from schemas import load_schema_json
from streams.serde import HEADER_LEN, MAGIC, Serde, SingleObjectSerde, fingerprint


def _without_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(s) for s in schema]
    return schema


class SinkDecoder:
    """``decode(value, schema, topic)`` with the serde's outcome, timestamps possibly as Avro longs."""

    def __init__(self, serde: Serde, schemas: Iterable[str]) -> None:
        self._serde = serde
        # Only the single-object format names its writer by fingerprint; another serde (a
        # registry's) decodes every record itself.
        self._plain: dict[str, tuple[bytes, Any]] = {}
        if isinstance(serde, SingleObjectSerde):
            for name in set(schemas):
                js = load_schema_json(name)
                self._plain[name] = (MAGIC + fingerprint(js), fastavro.parse_schema(_without_logical_types(js)))

    def fast_header(self, schema: str) -> bytes | None:
        """The single-object header of the current ``schema``, if its records can be read past the serde."""
        plain = self._plain.get(schema)
        return None if plain is None else plain[0]

    def decode(self, value: bytes | None, schema: str, topic: str) -> dict[str, Any]:
        """The record ``value`` holds; raises :class:`streams.serde.DecodeError` exactly as the serde does."""
        plain = self._plain.get(schema)
        if plain is not None and value is not None and value[:HEADER_LEN] == plain[0]:
            buf = io.BytesIO(value)
            buf.seek(HEADER_LEN)
            try:
                record = fastavro.schemaless_reader(buf, plain[1], None)
            except Exception:  # noqa: BLE001 - the serde below names what is wrong with it
                record = None
            if record is not None and buf.tell() == len(value):
                return record
        return self._serde.decode(value, schema, topic)
