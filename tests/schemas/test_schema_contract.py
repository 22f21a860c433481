"""The Avro contract: conventions every schema follows, and backward compatibility with every release."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest

import schemas as schema_files
from streams.catalog import CATALOG
from tests.samples import sample

NAMES = schema_files.schema_names()


def _fields(t: Any) -> list[dict[str, Any]]:
    out = []
    if isinstance(t, list):
        for x in t:
            out += _fields(x)
    elif isinstance(t, dict):
        if t.get("type") == "record":
            for f in t["fields"]:
                out.append(f)
                out += _fields(f["type"])
        elif t.get("type") == "array":
            out += _fields(t["items"])
        elif t.get("type") == "map":
            out += _fields(t["values"])
    return out


def test_when_catalog_is_read_then_every_topic_has_a_schema_and_every_schema_a_topic() -> None:
    assert len(CATALOG) == 16  # the 15 of ARCHITECTURE.md + the sequencer's log
    assert sorted(s.schema for s in CATALOG.values()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_when_schema_is_loaded_then_it_follows_the_conventions(name: str) -> None:
    js = schema_files.load_schema_json(name)
    fastavro.parse_schema(js)
    assert js["namespace"] == "hbot.v1"
    top = {f["name"]: f for f in js["fields"]}
    assert top["event_id"]["type"] == "string"
    for ts in ("event_time", "produce_time"):
        assert top[ts]["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    undocumented = [f["name"] for f in _fields(js) if not f.get("doc")]
    assert undocumented == []
    if CATALOG[next(t for t in CATALOG if CATALOG[t].schema == name)].key == "market" and name != "dlq":
        assert "market" in top


def test_when_a_schema_has_sides_or_states_then_they_are_enums() -> None:
    enums = {f["type"]["name"]: f["type"]["symbols"] for n in NAMES for f in _fields(schema_files.load_schema_json(n))
             if isinstance(f["type"], dict) and f["type"].get("type") == "enum"}
    assert enums["Side"] == ["BUY", "SELL"]
    assert enums["Liquidity"] == ["MAKER", "TAKER"]
    assert enums["GuardState"] == ["RUNNING", "SOFT_PAUSE", "HARD_STOP"]
    assert set(enums["IntentAction"]) == {"set_target_base_pct", "kill_switch", "set_regime_override", "resume"}
    assert set(enums["OrderAction"]) == {"PLACE", "CANCEL", "CANCEL_ALL"}


def _write(schema_json: dict[str, Any], rec: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema_json), rec)
    return buf.getvalue()


def _read(data: bytes, writer: dict[str, Any], reader: dict[str, Any]) -> dict[str, Any]:
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(writer), fastavro.parse_schema(reader))


@pytest.mark.parametrize("name", NAMES)
def test_when_data_was_written_with_a_released_version_then_the_current_schema_reads_it(name: str) -> None:
    current = schema_files.load_schema_json(name)
    versions = schema_files.released_versions(name)
    assert versions, f"{name} has no released version kept in schemas/released/"
    for version, old in versions:
        rec = sample(name, seed=version, schema_json=old)
        back = _read(_write(old, rec), old, current)
        for field in old["fields"]:
            assert field["name"] in back


def test_when_a_new_required_field_has_no_default_then_the_compatibility_check_fails() -> None:
    old = schema_files.load_schema_json("fill")
    broken = {**old, "fields": [*old["fields"], {"name": "venue_fee_tier", "type": "string", "doc": "x"}]}
    data = _write(old, sample("fill"))
    with pytest.raises(fastavro.read.SchemaResolutionError):
        _read(data, old, broken)
