"""Avro single-object encoding: format, round trips, interop with Apache avro, and decode errors."""

from __future__ import annotations

import io
import json
import struct

import avro.io
import avro.schema
import pytest
from fastavro.schema import to_parsing_canonical_form

import schemas as schema_files
from streams.serde import MAGIC, DecodeError, SingleObjectSerde, crc64_avro, fingerprint
from tests.samples import sample

NAMES = schema_files.schema_names()


@pytest.fixture(scope="module")
def serde() -> SingleObjectSerde:
    return SingleObjectSerde()


def test_when_crc64_of_empty_input_then_it_is_the_avro_spec_seed() -> None:
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


@pytest.mark.parametrize("name", NAMES)
def test_when_a_record_round_trips_then_every_field_is_identical(serde: SingleObjectSerde, name: str) -> None:
    rec = sample(name, seed=3)
    data = serde.encode(name, rec)
    assert data[:2] == MAGIC and data[2:10] == fingerprint(schema_files.load_schema_json(name))
    back = serde.decode(data, name)
    for k, v in rec.items():
        got = back[k]
        if hasattr(got, "timestamp"):
            got = round(got.timestamp() * 1_000_000)
        assert got == v, k


@pytest.mark.parametrize("name", NAMES)
def test_when_hbot_writes_then_apache_avro_reads_and_the_other_way_round(serde: SingleObjectSerde, name: str) -> None:
    js = schema_files.load_schema_json(name)
    parsed = avro.schema.parse(json.dumps(js))
    # The fingerprint is checked with Apache avro's own CRC-64 over the spec's canonical form.
    # (avro-python's canonical_form writes {"type":"long"} for logical-typed longs, unlike the spec
    # and the Java implementation, so its schema.fingerprint() cannot be compared directly.)
    expected_fp = avro.schema._crc_64_fingerprint(to_parsing_canonical_form(js).encode())
    assert fingerprint(js) == expected_fp  # both little-endian, as the spec and Java write it

    rec = sample(name, seed=5)
    ours = serde.encode(name, rec)
    theirs = avro.io.DatumReader(parsed).read(avro.io.BinaryDecoder(io.BytesIO(ours[10:])))
    assert theirs["event_id"] == rec["event_id"]

    buf = io.BytesIO()
    avro.io.DatumWriter(parsed).write(_for_apache(rec, js), avro.io.BinaryEncoder(buf))
    back = serde.decode(MAGIC + fingerprint(js) + buf.getvalue(), name)
    assert back["event_id"] == rec["event_id"]
    assert {k for k in back} == {f["name"] for f in js["fields"]}


def _for_apache(rec: dict, js: dict) -> dict:
    """Apache avro wants datetimes for timestamp-micros fields."""
    from datetime import datetime, timezone

    out = dict(rec)
    for f in js["fields"]:
        t = f["type"]
        t = next((x for x in t if x != "null"), t) if isinstance(t, list) else t
        if isinstance(t, dict) and t.get("logicalType") == "timestamp-micros" and isinstance(out[f["name"]], int):
            out[f["name"]] = datetime.fromtimestamp(out[f["name"]] / 1e6, tz=timezone.utc)
    return out


def test_when_bytes_are_garbage_then_decode_says_undecodable(serde: SingleObjectSerde) -> None:
    with pytest.raises(DecodeError) as err:
        serde.decode(b"\x00\x01garbage", "market_book")
    assert err.value.kind == "undecodable"


def test_when_the_body_is_truncated_then_decode_says_undecodable(serde: SingleObjectSerde) -> None:
    data = serde.encode("market_book", sample("market_book"))
    with pytest.raises(DecodeError) as err:
        serde.decode(data[:-7], "market_book")
    assert err.value.kind == "undecodable"


def test_when_a_record_of_another_schema_arrives_then_decode_says_wrong_schema(serde: SingleObjectSerde) -> None:
    data = serde.encode("market_trade", sample("market_trade"))
    with pytest.raises(DecodeError) as err:
        serde.decode(data, "market_book")
    assert err.value.kind == "wrong_schema" and "market_trade" in err.value.reason


def test_when_the_fingerprint_is_unknown_then_decode_says_unknown_schema(serde: SingleObjectSerde) -> None:
    with pytest.raises(DecodeError) as err:
        serde.decode(MAGIC + b"\x01" * 8 + b"\x00", "market_book")
    assert err.value.kind == "unknown_schema"


def test_when_a_writer_lacks_a_required_field_then_decode_says_invalid_and_names_it() -> None:
    js = schema_files.load_schema_json("market_book")
    writer = {**js, "fields": [f for f in js["fields"] if f["name"] != "mid"]}
    serde = SingleObjectSerde(extra_writers=[("market_book", writer)])
    rec = {k: v for k, v in sample("market_book").items() if k != "mid"}
    buf = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(json.dumps(writer))).write(_for_apache(rec, writer), avro.io.BinaryEncoder(buf))
    with pytest.raises(DecodeError) as err:
        serde.decode(MAGIC + fingerprint(writer) + buf.getvalue(), "market_book")
    assert err.value.kind == "invalid" and "mid" in err.value.reason


def test_when_encoding_a_record_with_a_missing_field_then_it_is_refused(serde: SingleObjectSerde) -> None:
    rec = sample("fill")
    del rec["price"]
    with pytest.raises(ValueError, match="fill"):
        serde.encode("fill", rec)
