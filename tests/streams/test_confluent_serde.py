"""Confluent wire format through confluent-kafka's schema registry client, on its in-memory registry.

``mock://`` URLs give confluent-kafka's ``MockSchemaRegistryClient`` (real serializers, real
subject handling, an in-memory store instead of HTTP). Each client has its own store, so one
serde instance both writes and reads here, and other writers register through ``serde.registry``.
"""

from __future__ import annotations

import io
import json
import struct
from datetime import datetime
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient
from fastavro.schema import to_parsing_canonical_form

import schemas as schema_files
from streams.catalog import topic_for_schema
from streams.serde import ConfluentSerde, DecodeError, SingleObjectSerde, serde_from_settings
from tests.samples import sample

NAMES = schema_files.schema_names()


@pytest.fixture
def serde() -> ConfluentSerde:
    return ConfluentSerde("mock://hbot-test")


def _micros(v: Any) -> Any:
    return round(v.timestamp() * 1_000_000) if isinstance(v, datetime) else v


def _canonical(schema_str: str) -> str:
    return to_parsing_canonical_form(json.loads(schema_str))


def _schema_id(data: bytes) -> int:
    assert data[0] == 0, "Confluent magic byte"
    return struct.unpack(">I", data[1:5])[0]


def test_when_a_registry_url_is_set_then_serde_from_settings_picks_the_confluent_serde() -> None:
    picked = serde_from_settings("mock://hbot-settings")
    assert isinstance(picked, ConfluentSerde)
    assert isinstance(picked.registry, MockSchemaRegistryClient)
    assert isinstance(serde_from_settings(None), SingleObjectSerde)
    assert isinstance(serde_from_settings(""), SingleObjectSerde)


@pytest.mark.parametrize("name", NAMES)
def test_when_a_record_round_trips_then_every_field_is_identical(serde: ConfluentSerde, name: str) -> None:
    rec = sample(name, seed=7)
    back = serde.decode(serde.encode(name, rec), name)
    assert set(back) == {f["name"] for f in schema_files.load_schema_json(name)["fields"]}
    for field, value in rec.items():
        assert _micros(back[field]) == value, field


@pytest.mark.parametrize("name", ["market_book", "market_trade", "fill", "order", "dlq"])
def test_when_encoded_then_the_bytes_are_magic_zero_the_registered_id_and_the_plain_avro_body(
        serde: ConfluentSerde, name: str) -> None:
    rec = sample(name, seed=2)
    data = serde.encode(name, rec)
    subject = f"{topic_for_schema(name).name}-value"
    registered = serde.registry.get_latest_version(subject)
    assert _schema_id(data) == registered.schema_id
    assert _canonical(registered.schema.schema_str) == to_parsing_canonical_form(schema_files.load_schema_json(name))
    # The body after the 5-byte header is exactly what plain Avro writes: nothing else is framed in.
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema_files.load_schema_json(name)), rec)
    assert data[5:] == body.getvalue()


def test_when_several_schemas_are_written_then_each_topic_gets_its_own_value_subject_and_id(serde: ConfluentSerde) -> None:
    ids = {}
    for name in ["market_book", "market_trade", "fill"]:
        ids[name] = _schema_id(serde.encode(name, sample(name)))
        _schema_id(serde.encode(name, sample(name, seed=9)))  # a second record registers nothing new
    assert sorted(serde.registry.get_subjects()) == sorted(
        f"{topic_for_schema(n).name}-value" for n in ["market_book", "market_trade", "fill"])
    assert len(set(ids.values())) == 3
    for name, schema_id in ids.items():
        assert serde.registry.get_versions(f"{topic_for_schema(name).name}-value") == [1]
        assert json.loads(serde.registry.get_schema(schema_id).schema_str)["name"] == schema_files.load_schema_json(name)["name"]


def test_when_an_explicit_topic_is_given_then_the_subject_is_named_after_it(serde: ConfluentSerde) -> None:
    data = serde.encode("market_trade", sample("market_trade"), topic="replay.hb.market.trade.v1")
    assert serde.registry.get_subjects() == ["replay.hb.market.trade.v1-value"]
    assert serde.decode(data, "market_trade", topic="replay.hb.market.trade.v1")["event_id"] == sample("market_trade")["event_id"]


def test_when_a_record_of_another_schema_arrives_then_decode_says_wrong_schema(serde: ConfluentSerde) -> None:
    data = serde.encode("market_trade", sample("market_trade"))
    with pytest.raises(DecodeError) as err:
        serde.decode(data, "market_book")
    assert err.value.kind == "wrong_schema"
    assert "market_book" in err.value.reason and "MarketTrade" in err.value.reason


@pytest.mark.parametrize("corrupt", [
    pytest.param(lambda d: d[:-7], id="truncated body"),
    pytest.param(lambda d: d[:5] + b"\xff" * (len(d) - 5), id="garbage body"),
    pytest.param(lambda d: b"\x01" + d[1:], id="wrong magic byte"),
    pytest.param(lambda d: d[:3], id="shorter than the header"),
    pytest.param(lambda d: d + b"\x00\x00", id="trailing bytes"),
    pytest.param(lambda d: b"", id="empty"),
])
def test_when_the_bytes_are_corrupted_then_decode_says_undecodable(serde: ConfluentSerde, corrupt: Any) -> None:
    data = serde.encode("market_book", sample("market_book"))
    with pytest.raises(DecodeError) as err:
        serde.decode(corrupt(data), "market_book")
    assert err.value.kind == "undecodable", err.value.reason


def test_when_the_value_is_a_tombstone_then_decode_says_undecodable(serde: ConfluentSerde) -> None:
    with pytest.raises(DecodeError) as err:
        serde.decode(None, "market_book")
    assert err.value.kind == "undecodable"


def test_when_the_schema_id_is_not_in_the_registry_then_decode_says_unknown_schema(serde: ConfluentSerde) -> None:
    data = serde.encode("market_book", sample("market_book"))
    with pytest.raises(DecodeError) as err:
        serde.decode(b"\x00" + struct.pack(">I", 99_999) + data[5:], "market_book")
    assert err.value.kind == "unknown_schema" and "99999" in err.value.reason


def test_when_an_older_writer_registered_in_the_registry_is_read_then_it_resolves_to_the_current_schema(
        serde: ConfluentSerde) -> None:
    js = schema_files.load_schema_json("market_book")
    older = {**js, "fields": [f for f in js["fields"] if f["name"] != "sim_regime"]}  # the field has a default
    subject = f"{topic_for_schema('market_book').name}-value"
    schema_id = serde.registry.register_schema(subject, Schema(json.dumps(older), "AVRO"))
    rec = {k: v for k, v in sample("market_book").items() if k != "sim_regime"}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(older), rec)
    back = serde.decode(b"\x00" + struct.pack(">I", schema_id) + body.getvalue(), "market_book")
    assert back["sim_regime"] is None and back["event_id"] == rec["event_id"]


def test_when_a_writer_lacks_a_required_field_then_decode_says_invalid(serde: ConfluentSerde) -> None:
    js = schema_files.load_schema_json("market_book")
    writer = {**js, "fields": [f for f in js["fields"] if f["name"] != "mid"]}
    subject = f"{topic_for_schema('market_book').name}-value"
    schema_id = serde.registry.register_schema(subject, Schema(json.dumps(writer), "AVRO"))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(writer), {k: v for k, v in sample("market_book").items() if k != "mid"})
    with pytest.raises(DecodeError) as err:
        serde.decode(b"\x00" + struct.pack(">I", schema_id) + body.getvalue(), "market_book")
    assert err.value.kind == "invalid" and "mid" in err.value.reason


def test_when_encoding_a_record_with_a_missing_field_then_it_is_refused(serde: ConfluentSerde) -> None:
    rec = sample("fill")
    del rec["price"]
    with pytest.raises(ValueError, match="fill"):
        serde.encode("fill", rec)


def test_when_single_object_bytes_reach_the_confluent_serde_then_decode_says_undecodable(serde: ConfluentSerde) -> None:
    data = SingleObjectSerde().encode("market_book", sample("market_book"))
    with pytest.raises(DecodeError) as err:
        serde.decode(data, "market_book")
    assert err.value.kind == "undecodable"
