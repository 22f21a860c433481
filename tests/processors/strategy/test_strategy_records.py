"""Decision records validate against their Avro schemas and carry every field of the contract."""

from __future__ import annotations

from typing import Any

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from processors.ids import make_id
from schemas import load_schema_json
from tests.processors.strategy.strategy_testkit import INSTANCE, MARKET, Feed

QUOTE_SCHEMA = parse_schema(load_schema_json("quote"))
STATE_SCHEMA = parse_schema(load_schema_json("strategy_state"))


def _produced(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "produce_time": rec["event_time"] + 1}  # the producer stamps produce_time


def _varied_decisions() -> list:
    feed = Feed(candles_connector="bitget", ml_regime_enabled=True)
    feed.book(100.0)  # plain two-sided decision
    feed.fill("SELL", 100.2, 2.0, fee=0.01)  # fill-edge EWMA becomes non-null
    feed.funding(0.0001)
    feed.book(100.0)
    feed.signal("regime_override", 3.0)
    feed.book(100.0)  # override (ml)
    feed.fill("SELL", 100.0, 70.0)
    feed.book(100.0)  # derisk-only
    feed.trade(100.0, dt=40.0)  # stale: cancel all
    feed.guard("SOFT_PAUSE")
    feed.book(100.0, bid_sizes=(5.0,) * 5)
    return feed.decisions


def test_when_decisions_are_made_then_quote_and_state_records_validate() -> None:
    decisions = _varied_decisions()

    assert len(decisions) >= 6
    assert any(d.quote["derisk_only"] for d in decisions)
    assert any(d.state["order_book_stale"] for d in decisions)
    assert any(d.state["fill_edge_ewma_bps"] is not None for d in decisions)
    for d in decisions:
        assert validate(_produced(d.quote), QUOTE_SCHEMA, raise_errors=True)
        assert validate(_produced(d.state), STATE_SCHEMA, raise_errors=True)


@pytest.mark.parametrize("name", ["quote", "strategy_state"])
def test_when_built_then_records_have_every_schema_field_but_produce_time(name: str) -> None:
    d = _varied_decisions()[0]
    rec = d.quote if name == "quote" else d.state
    fields = {f["name"] for f in load_schema_json(name)["fields"]}

    assert set(rec) == fields - {"produce_time"}


def test_when_decision_seq_is_known_then_event_ids_are_deterministic() -> None:
    a = _varied_decisions()
    b = _varied_decisions()

    assert [d.quote["event_id"] for d in a] == [d.quote["event_id"] for d in b]
    assert a[0].quote["event_id"] == make_id("quote", INSTANCE, MARKET, 1)
    assert len({d.quote["event_id"] for d in a} | {d.state["event_id"] for d in a}) == 2 * len(a)
