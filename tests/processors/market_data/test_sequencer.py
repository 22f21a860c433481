"""The sequencer's envelopes and the event-time pacer."""

from __future__ import annotations

import pytest

from processors.market_data.pacing import Pacer
from processors.market_data.sequencer import envelopes


def test_when_a_record_names_its_market_then_one_envelope_keeps_its_bytes_and_origin() -> None:
    rec = {"event_id": "e1", "event_time": 5, "market": "m1"}
    (env,) = envelopes("hb.market.book.v1", 2, 40, b"raw", rec, {})
    assert (env["market"], env["source_partition"], env["source_offset"], env["payload"], env["event_time"]) == ("m1", 2, 40, b"raw", 5)
    assert env["event_id"] == envelopes("hb.market.book.v1", 2, 40, b"raw", rec, {})[0]["event_id"]  # deterministic


def test_when_an_intent_names_no_market_then_it_goes_to_each_market_of_its_instance() -> None:
    rec = {"event_id": "i1", "event_time": 5, "market": "", "instance_id": "bot"}
    envs = envelopes("hb.execution_intent.v1", 0, 1, b"x", rec, {"bot": ("m1", "m2")})
    assert [e["market"] for e in envs] == ["m1", "m2"] and len({e["event_id"] for e in envs}) == 2
    assert envelopes("hb.execution_intent.v1", 0, 1, b"x", {**rec, "instance_id": "other"}, {"bot": ("m1",)}) == []


def test_when_paced_then_event_time_maps_to_wall_time_at_the_speed() -> None:
    p = Pacer(speed=10.0)
    assert p.delay_s(0, 100.0) == 0.0
    assert p.delay_s(10_000_000, 100.2) == pytest.approx(0.8)  # 10 s of event time at x10 is due 1 s after the first
    assert Pacer(speed=0).delay_s(10**12, 0.0) == 0.0
