"""Replay of a topic window: the pure window/pacing functions, and reads and republishes on the real broker."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from confluent_kafka import Producer

from streams.replay import (REPLAY_HEADER, RawRecord, ReadError, WindowError, format_time, jsonable, pacing_offsets,
                            parse_time, read_window, republish, select_window, summary_fields)
from streams.serde import SingleObjectSerde
from tests.samples import sample

SERDE = SingleObjectSerde()
SEC = 1_000_000


def _r(t: int, partition: int = 0, offset: int = 0, market: str | None = "m:1", key: bytes | None = b"m:1") -> RawRecord:
    return RawRecord("hb.signal.v1", partition, offset, t // 1000, 1, key, b"v", (), t, "event", market, "raw")


# ------------------------------------------------------------------------------------------ pure


def test_when_a_window_is_selected_then_start_is_inclusive_and_end_exclusive() -> None:
    recs = [_r(t, offset=i) for i, t in enumerate([99, 100, 150, 199, 200])]
    assert [r.event_time_us for r in select_window(recs, 100, 200)] == [100, 150, 199]


def test_when_ordered_by_event_then_partitions_merge_by_time_with_ties_by_partition_and_offset() -> None:
    recs = [_r(30, 0, 0), _r(10, 0, 1), _r(20, 1, 0), _r(10, 1, 1), _r(10, 0, 2)]
    got = [(r.event_time_us, r.partition, r.offset) for r in select_window(recs, 0, 100)]
    assert got == [(10, 0, 1), (10, 0, 2), (10, 1, 1), (20, 1, 0), (30, 0, 0)]
    log = [(r.partition, r.offset) for r in select_window(recs, 0, 100, order="log")]
    assert log == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]


def test_when_a_market_is_asked_then_records_match_by_field_or_by_key_when_undecoded() -> None:
    recs = [_r(1, offset=0, market="a:x", key=b"a:x"), _r(2, offset=1, market="b:y", key=b"a:x"),
            _r(3, offset=2, market=None, key=b"a:x"), _r(4, offset=3, market=None, key=b"b:y")]
    assert [r.offset for r in select_window(recs, 0, 10, market="a:x")] == [0, 2]


def test_when_the_window_is_empty_or_reversed_then_a_one_line_error() -> None:
    with pytest.raises(WindowError, match="window is empty"):
        select_window([], 200, 100)


def test_when_times_are_parsed_then_iso_forms_are_utc_micros() -> None:
    base = int(datetime(2026, 3, 1, 12, tzinfo=timezone.utc).timestamp()) * SEC
    assert parse_time("2026-03-01T12:00:00Z") == base
    assert parse_time("2026-03-01 12:00") == base
    assert parse_time("2026-03-01T13:00:00.000001+01:00") == base + 1
    assert parse_time("2026-03-01") == base - 12 * 3600 * SEC
    assert format_time(base + 5) == "2026-03-01T12:00:00.000005Z"
    with pytest.raises(WindowError, match="--start 'noon' is not an ISO 8601 time"):
        parse_time("noon", "--start")


def test_when_paced_then_offsets_follow_event_gaps_divided_by_speed_and_never_go_back() -> None:
    assert pacing_offsets([0, SEC, 3 * SEC], 2.0) == [0.0, 0.5, 1.5]
    assert pacing_offsets([0, 2 * SEC, SEC], 1.0) == [0.0, 2.0, 2.0]
    assert pacing_offsets([0, 10 * SEC], 0) == [0.0, 0.0]
    with pytest.raises(WindowError, match="speed must be >= 0"):
        pacing_offsets([0], -1)


def test_when_fields_are_summarised_then_schema_defaults_or_chosen_fields_are_shown() -> None:
    rec = sample("fill", 3)
    assert list(summary_fields("hb.fill.v1", rec)) == ["side", "price", "size", "fee_quote", "liquidity"]
    assert summary_fields("hb.fill.v1", rec, ["market"]) == {"market": rec["market"]}
    assert summary_fields("hb.fill.v1", None) == {}
    assert jsonable({"t": datetime(2026, 3, 1, tzinfo=timezone.utc), "b": b"\x00\x01"}) == {
        "t": "2026-03-01T00:00:00.000000Z", "b": "AAE="}


# ------------------------------------------------------------------------------------------ broker


@pytest.fixture(scope="module")
def window_data(kafka_conf: dict[str, Any]) -> dict[str, Any]:
    """Signals of one market spread over partitions with out-of-order event times, plus another market."""
    day = datetime.now(timezone.utc).date() - timedelta(days=4)
    t0 = int(datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc).timestamp()) * SEC + 10 * 3600 * SEC
    uid = uuid.uuid4().hex[:10]
    market, other = f"rp:{uid}", f"rq:{uid}"
    p = Producer({**kafka_conf, "linger.ms": 5})
    # (seconds after t0, partition): partitions interleave and a late record sits in partition 2.
    layout = [(-1, 0), (0, 0), (5, 1), (3, 0), (7, 2), (9, 1), (10, 0), (12, 2), (4, 2)]
    sent = []
    for i, (dt, part) in enumerate(layout):
        rec = sample("signal", i, {"event_time": t0 + dt * SEC, "market": market, "signal_name": f"s{i}"})
        value = SERDE.encode("signal", rec)
        p.produce("hb.signal.v1", value, key=market.encode(), partition=part, timestamp=(t0 + dt * SEC) // 1000,
                  headers=[("i", str(i).encode())])
        sent.append((t0 + dt * SEC, value))
    p.produce("hb.signal.v1", SERDE.encode("signal", sample("signal", 50, {"event_time": t0 + 2 * SEC, "market": other})),
              key=other.encode(), partition=0, timestamp=(t0 + 2 * SEC) // 1000)
    # Undecodable bytes keyed by the market: filed by their Kafka timestamp (t0 + 6 s).
    p.produce("hb.signal.v1", b"not avro", key=market.encode(), partition=1, timestamp=(t0 + 6 * SEC) // 1000)
    assert p.flush(10) == 0
    return {"t0": t0, "market": market, "other": other, "sent": sent}


@pytest.mark.broker
def test_when_a_window_is_read_then_exactly_its_records_come_back_in_event_time_order(
        kafka_conf: dict[str, Any], window_data: dict[str, Any]) -> None:
    t0, market = window_data["t0"], window_data["market"]
    got = read_window(kafka_conf, SERDE, "hb.signal.v1", t0, t0 + 10 * SEC, market=market)
    expected = sorted((t, v) for t, v in window_data["sent"] if t0 <= t < t0 + 10 * SEC)
    decoded = [(r.event_time_us, r.value) for r in got if r.time_source == "event"]
    assert decoded == expected
    raw = [r for r in got if r.time_source == "kafka"]
    assert len(raw) == 1 and raw[0].value == b"not avro" and raw[0].event_time_us == t0 + 6 * SEC
    assert [r.event_time_us for r in got] == sorted(r.event_time_us for r in got)
    assert all(r.decoded is None or r.decoded["market"] == market for r in got)
    assert {r.partition for r in got} == {0, 1, 2}


@pytest.mark.broker
def test_when_no_market_is_given_then_every_market_in_the_window_is_returned(
        kafka_conf: dict[str, Any], window_data: dict[str, Any]) -> None:
    t0 = window_data["t0"]
    got = read_window(kafka_conf, SERDE, "hb.signal.v1", t0 + 2 * SEC, t0 + 3 * SEC)
    assert [r.market for r in got] == [window_data["other"]]


@pytest.mark.broker
def test_when_the_topic_does_not_exist_then_a_read_error_names_it(kafka_conf: dict[str, Any]) -> None:
    with pytest.raises(ReadError, match="topic 'hb.missing-xyz' does not exist"):
        read_window(kafka_conf, SERDE, "hb.missing-xyz", 0, SEC)


@pytest.mark.broker
def test_when_a_window_is_republished_then_the_new_topic_holds_the_same_records_with_their_origin(
        kafka_conf: dict[str, Any], window_data: dict[str, Any]) -> None:
    t0, market = window_data["t0"], window_data["market"]
    window = read_window(kafka_conf, SERDE, "hb.signal.v1", t0, t0 + 13 * SEC, market=market)
    target = f"replay.{uuid.uuid4().hex[:10]}"
    res = republish(kafka_conf, window, target, speed=0)
    assert res.created_topic and res.records == len(window)
    back = read_window(kafka_conf, SERDE, target, t0, t0 + 13 * SEC)
    assert [(r.value, r.key) for r in back] == [(r.value, r.key) for r in window]
    for orig, copy in zip(window, back):
        assert copy.headers[:-1] == orig.headers
        assert copy.headers[-1] == (REPLAY_HEADER, f"hb.signal.v1/{orig.partition}/{orig.offset}/{orig.timestamp_ms}".encode())


@pytest.mark.broker
def test_when_republished_at_a_speed_then_sends_wait_for_the_scaled_event_gaps(
        kafka_conf: dict[str, Any], window_data: dict[str, Any]) -> None:
    t0, market = window_data["t0"], window_data["market"]
    window = [r for r in read_window(kafka_conf, SERDE, "hb.signal.v1", t0, t0 + 6 * SEC, market=market)
              if r.time_source == "event"]
    now = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(round(s, 6))
        now[0] += s

    republish(kafka_conf, window, f"replay.{uuid.uuid4().hex[:10]}", speed=10, sleep=sleep, clock=lambda: now[0])
    gaps = [(b.event_time_us - a.event_time_us) / SEC / 10 for a, b in zip(window, window[1:])]
    assert sleeps == [round(g, 6) for g in gaps if g > 0]
