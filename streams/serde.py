"""Avro serde: single-object encoding by default, Confluent wire format with a schema registry.

Single-object encoding (Avro spec, "Single object encoding"): ``C3 01`` marker, the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then the
Avro binary body. Self-describing without a registry: the decoder keeps every released version
of every hbot schema by fingerprint and resolves old writers against the current reader.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import fastavro
from fastavro.schema import to_parsing_canonical_form

import schemas as schema_files

MAGIC = b"\xc3\x01"
HEADER_LEN = 10

_EMPTY64 = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (the Rabin fingerprint the Avro spec defines) of ``data``."""
    fp = _EMPTY64
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(b ^ fp) & 0xFF]
    return fp


def fingerprint(schema_json: dict[str, Any]) -> bytes:
    """The 8-byte little-endian single-object fingerprint of ``schema_json``."""
    canonical = to_parsing_canonical_form(fastavro.parse_schema(schema_json, _write_hint=False))
    return struct.pack("<Q", crc64_avro(canonical.encode("utf-8")))


class DecodeError(Exception):
    """A record that cannot be turned into a valid event. ``kind`` is machine-readable."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class _Writer:
    name: str           # hbot schema name (file stem)
    version: int | None  # released version, None for the current schema
    parsed: Any         # fastavro parsed schema
    fullname: str


class Serde(Protocol):
    """What producers and consumers need from a wire format."""

    def encode(self, schema: str, record: dict[str, Any], topic: str | None = None) -> bytes: ...

    def decode(self, data: bytes | None, expected: str | None = None, topic: str | None = None) -> dict[str, Any]: ...


class SingleObjectSerde:
    """Avro single-object encoding with every hbot schema (current and released) known."""

    def __init__(self, extra_writers: Iterable[tuple[str, dict[str, Any]]] = ()) -> None:
        self._current: dict[str, Any] = {}
        self._header: dict[str, bytes] = {}
        self._writers: dict[bytes, _Writer] = {}
        for name in schema_files.schema_names():
            js = schema_files.load_schema_json(name)
            parsed = fastavro.parse_schema(js)
            self._current[name] = parsed
            fp = fingerprint(js)
            self._header[name] = MAGIC + fp
            self._writers[fp] = _Writer(name, None, parsed, js["namespace"] + "." + js["name"])
            for version, old in schema_files.released_versions(name):
                ofp = fingerprint(old)
                if ofp not in self._writers:
                    self._writers[ofp] = _Writer(name, version, fastavro.parse_schema(old), old["namespace"] + "." + old["name"])
        for name, js in extra_writers:
            # Writers known to a registry but not shipped here (e.g. another producer's variant):
            # decoding them runs Avro schema resolution against hbot's current reader.
            self._writers[fingerprint(js)] = _Writer(name, -1, fastavro.parse_schema(js), js["namespace"] + "." + js["name"])

    def parsed(self, schema: str) -> Any:
        """The fastavro-parsed current schema ``schema``."""
        return self._current[schema]

    def encode(self, schema: str, record: dict[str, Any], topic: str | None = None) -> bytes:
        """Encode ``record`` with the current version of ``schema``; raises ``ValueError`` if invalid."""
        buf = io.BytesIO()
        buf.write(self._header[schema])
        try:
            fastavro.schemaless_writer(buf, self._current[schema], record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, struct.error) as exc:
            raise ValueError(f"record does not match schema {schema}: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes | None, expected: str | None = None, topic: str | None = None) -> dict[str, Any]:
        """Decode one record; ``expected`` (a schema name) rejects records of any other schema.

        Raises :class:`DecodeError` with kind ``undecodable``, ``unknown_schema``, ``wrong_schema``
        or ``invalid``.
        """
        if data is None:
            raise DecodeError("undecodable", "record value is null (tombstone)")
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError("undecodable", f"not Avro single-object encoding (first bytes {bytes(data[:4]).hex() or 'empty'})")
        writer = self._writers.get(bytes(data[2:HEADER_LEN]))
        if writer is None:
            raise DecodeError("unknown_schema", f"unknown writer schema fingerprint {bytes(data[2:HEADER_LEN]).hex()}")
        if expected is not None and writer.name != expected:
            raise DecodeError("wrong_schema", f"expected {expected} but the record was written as {writer.name} ({writer.fullname})")
        buf = io.BytesIO(data)
        buf.seek(HEADER_LEN)
        reader = None if writer.version is None else self._current[writer.name]
        try:
            record = fastavro.schemaless_reader(buf, writer.parsed, reader)
        except fastavro.read.SchemaResolutionError as exc:
            raise DecodeError("invalid", f"cannot read {writer.fullname} with the current schema: {exc}") from exc
        except Exception as exc:  # fastavro raises a mix of EOFError/ValueError/IndexError on garbage
            raise DecodeError("undecodable", f"corrupt Avro body for {writer.name}: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError("undecodable", f"{len(data) - buf.tell()} trailing bytes after a {writer.name} record")
        return record


class ConfluentSerde:
    """Confluent wire format (magic 0, 4-byte schema id, body) through confluent-kafka's registry client.

    Encoding goes through confluent-kafka's ``AvroSerializer`` (schema auto-registered under the
    default TopicNameStrategy subject ``<topic>-value``). Decoding reads the 5-byte header, fetches
    the writer schema by id from the registry (cached: ids are immutable) and resolves it against
    hbot's current schema, with the same :class:`DecodeError` kinds as :class:`SingleObjectSerde`.
    A ``mock://`` URL gives confluent-kafka's in-memory registry (tests, demos). Registry failures
    other than "schema not found" are raised as they are: the record is not at fault, so it must
    not be dead-lettered.
    """

    def __init__(self, url: str, conf: dict[str, str] | None = None) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        self._ctx = SerializationContext
        self._field = MessageField.VALUE
        client_conf = {"url": url, **(conf or {})}
        # new_client() is the library's factory: a MockSchemaRegistryClient for mock:// URLs.
        factory = getattr(SchemaRegistryClient, "new_client", None)
        self._client = factory(client_conf) if factory is not None else SchemaRegistryClient(client_conf)
        self._ser: dict[str, Any] = {}
        self._current: dict[str, Any] = {}
        self._canonical: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for name in schema_files.schema_names():
            js = schema_files.load_schema_json(name)
            self._names[name] = f"{js['namespace']}.{js['name']}"
        self._writers: dict[int, tuple[str, Any, str]] = {}  # schema id -> (fullname, parsed, canonical form)
        self._Ser = AvroSerializer

    @property
    def registry(self) -> Any:
        """The confluent-kafka schema registry client this serde uses."""
        return self._client

    def _topic(self, schema: str, topic: str | None) -> str:
        from streams.catalog import topic_for_schema

        return topic or topic_for_schema(schema).name

    def _reader(self, schema: str) -> tuple[Any, str]:
        parsed = self._current.get(schema)
        if parsed is None:
            js = schema_files.load_schema_json(schema)
            parsed = self._current[schema] = fastavro.parse_schema(js)
            self._canonical[schema] = to_parsing_canonical_form(parsed)
        return parsed, self._canonical[schema]

    def _writer(self, schema_id: int) -> tuple[str, Any, str]:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        found = self._writers.get(schema_id)
        if found is not None:
            return found
        try:
            registered = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise DecodeError("unknown_schema", f"schema id {schema_id} is not in the registry") from exc
            raise
        try:
            js = json.loads(registered.schema_str)
            parsed = fastavro.parse_schema(js)
        except Exception as exc:  # a non-Avro or unparsable schema under that id
            raise DecodeError("invalid", f"writer schema id {schema_id} cannot be used: {type(exc).__name__}: {exc}") from exc
        if isinstance(js, dict) and js.get("type") == "record":
            fullname = js["name"] if "." in js["name"] else f"{js.get('namespace', '')}.{js['name']}".lstrip(".")
        else:
            fullname = f"<{js.get('type') if isinstance(js, dict) else js}>"
        found = self._writers[schema_id] = (fullname, parsed, to_parsing_canonical_form(parsed))
        return found

    def encode(self, schema: str, record: dict[str, Any], topic: str | None = None) -> bytes:
        """Encode ``record`` with the current ``schema``; raises ``ValueError`` if the record does not match."""
        ser = self._ser.get(schema)
        if ser is None:
            ser = self._Ser(self._client, json.dumps(schema_files.load_schema_json(schema)), conf={"auto.register.schemas": True})
            self._ser[schema] = ser
        try:
            return ser(record, self._ctx(self._topic(schema, topic), self._field))
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, struct.error) as exc:
            raise ValueError(f"record does not match schema {schema}: {exc}") from exc

    def decode(self, data: bytes | None, expected: str | None = None, topic: str | None = None) -> dict[str, Any]:
        """Decode one record written as ``expected`` (required: the wire format has no schema name).

        Raises :class:`DecodeError` with kind ``undecodable``, ``unknown_schema``, ``wrong_schema``
        or ``invalid``. ``topic`` is accepted for symmetry with :meth:`encode`; the schema id in the
        header alone identifies the writer.
        """
        if data is None:
            raise DecodeError("undecodable", "record value is null (tombstone)")
        if len(data) < 5 or data[0] != 0:
            raise DecodeError("undecodable", f"not Confluent wire format (first bytes {bytes(data[:5]).hex() or 'empty'}, magic byte 0 missing)")
        if expected is None:
            raise DecodeError("invalid", "the Confluent serde needs the expected schema name")
        schema_id = struct.unpack(">I", data[1:5])[0]
        fullname, writer, writer_canonical = self._writer(schema_id)
        if fullname != self._names[expected]:
            raise DecodeError("wrong_schema", f"expected {expected} ({self._names[expected]}) but the record was written "
                                              f"as {fullname} (schema id {schema_id})")
        reader, reader_canonical = self._reader(expected)
        buf = io.BytesIO(data)
        buf.seek(5)
        try:
            if writer_canonical == reader_canonical:
                record = fastavro.schemaless_reader(buf, reader, None)
            else:
                record = fastavro.schemaless_reader(buf, writer, reader)
        except fastavro.read.SchemaResolutionError as exc:
            raise DecodeError("invalid", f"cannot read schema id {schema_id} with the current {expected} schema: {exc}") from exc
        except Exception as exc:  # fastavro raises a mix of EOFError/ValueError/IndexError on garbage
            raise DecodeError("undecodable", f"corrupt Avro body for {expected} (schema id {schema_id}): {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError("undecodable", f"{len(data) - buf.tell()} trailing bytes after a {expected} record (schema id {schema_id})")
        return record


def serde_from_settings(schema_registry_url: str | None, registry_conf: dict[str, str] | None = None) -> Serde:
    """Single-object encoding unless a schema registry URL is configured."""
    if schema_registry_url:
        return ConfluentSerde(schema_registry_url, registry_conf)
    return SingleObjectSerde()
