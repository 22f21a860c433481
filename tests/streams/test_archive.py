"""Daily archive on the real broker: copy a day by event time, re-archive identically, restore to a fresh broker."""

from __future__ import annotations

import hashlib
import shutil
import struct
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from streams.archive import (ArchiveError, TopicDigest, archive_day, day_window, load_manifest, parse_date,
                             previous_utc_date, read_topic_file, restore_day, verify_day)
from streams.broker import EmbeddedBroker, free_port
from streams.dlq import dead_letter
from streams.replay import RawRecord, read_window
from streams.serde import SingleObjectSerde
from tests.samples import sample

SERDE = SingleObjectSerde()
HOUR = 3_600_000_000


# ------------------------------------------------------------------------------------------ pure


def test_when_a_date_is_not_yyyy_mm_dd_then_the_error_says_the_format() -> None:
    for bad in ("2026-13-01", "20260301", "yesterday", "2026-3-1"):
        with pytest.raises(ArchiveError, match="use YYYY-MM-DD"):
            parse_date(bad)
    assert parse_date("2026-03-01") == date(2026, 3, 1)


def test_when_the_date_is_yesterday_or_today_then_it_is_relative_to_the_given_utc_day() -> None:
    today = date(2026, 3, 1)

    assert parse_date("yesterday", today=today) == date(2026, 2, 28)
    assert parse_date(" Today ", today=today) == today
    assert parse_date("2026-01-15", today=today) == date(2026, 1, 15)
    with pytest.raises(ArchiveError, match="or yesterday / today"):
        parse_date("tomorrow", today=today)


def test_when_a_day_window_is_taken_then_it_is_the_utc_day_in_micros() -> None:
    start, end = day_window(date(2026, 3, 1))
    assert start == int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
    assert end - start == 24 * HOUR


def test_when_rollover_happens_then_the_previous_utc_day_is_archived() -> None:
    just_after_midnight = day_window(date(2026, 3, 2))[0] + 5 * 60_000_000
    assert previous_utc_date(just_after_midnight) == date(2026, 3, 1)
    assert previous_utc_date(day_window(date(2026, 3, 2))[0] - 1) == date(2026, 2, 28)


def _rec(value: bytes | None, offset: int, **kw: Any) -> RawRecord:
    base: dict[str, Any] = dict(topic="hb.fill.v1", partition=0, offset=offset, timestamp_ms=1, timestamp_type=1, key=b"k",
                                value=value, headers=(), event_time_us=5, time_source="event", market=None, writer="raw")
    base.update(kw)
    return RawRecord(**base)


def test_when_values_are_digested_then_the_checksum_is_the_documented_length_prefixed_sha256() -> None:
    d = TopicDigest("hb.fill.v1")
    for i, v in enumerate([b"ab", None, b""]):
        d.add(_rec(v, i))
    expected = hashlib.sha256(struct.pack(">q", 2) + b"ab" + struct.pack(">q", -1) + struct.pack(">q", 0)).hexdigest()
    assert d.values_sha256 == expected and d.count == 3
    assert d.entry()["partitions"] == {"0": {"first_offset": 0, "last_offset": 2, "count": 3}}


def test_when_only_a_header_or_timestamp_differs_then_the_records_checksum_differs_but_values_do_not() -> None:
    a, b, c = TopicDigest("t"), TopicDigest("t"), TopicDigest("t")
    a.add(_rec(b"v", 0))
    b.add(_rec(b"v", 0, headers=(("h", b"1"),)))
    c.add(_rec(b"v", 7, timestamp_ms=2))
    assert a.values_sha256 == b.values_sha256 == c.values_sha256
    assert len({a.records_sha256, b.records_sha256, c.records_sha256}) == 3


def test_when_no_archive_exists_then_restore_says_to_archive_first(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="run hbot archive --date 2026-03-01 first"):
        load_manifest(tmp_path, date(2026, 3, 1))


# ------------------------------------------------------------------------------------------ broker


@dataclass
class DayData:
    """What the module fixture published: per topic, the values expected in D1, and how to spot ours."""

    d1: date
    d2: date
    market: str
    dlq_source: str
    expected_d1: dict[str, list[bytes | None]]
    expected_d2: dict[str, list[bytes | None]]
    sent: list[tuple[str, bytes | None, bytes | None, int, list[tuple[str, bytes | None]]]]


def _ours(rec: RawRecord, data: DayData) -> bool:
    return rec.key in (data.market.encode(), data.dlq_source.encode())


@pytest.fixture(scope="module")
def day_data(kafka_conf: dict[str, Any]) -> DayData:
    """Records of several schemas around two recent UTC days (recent: Apache Kafka's 7-day retention)."""
    today = datetime.now(timezone.utc).date()
    d1, d2 = today - timedelta(days=3), today - timedelta(days=2)
    s1, e1 = day_window(d1)
    uid = uuid.uuid4().hex[:10]
    market, dlq_source = f"arch:{uid}", f"src.{uid}"
    producer = Producer({**kafka_conf, "linger.ms": 5, "enable.idempotence": True})
    expected_d1: dict[str, list[bytes | None]] = {}
    expected_d2: dict[str, list[bytes | None]] = {}
    sent: list[Any] = []

    def send(topic: str, value: bytes | None, key: bytes | None, kafka_ms: int, filed_us: int | None,
             headers: list[tuple[str, bytes | None]] | None = None) -> None:
        hdrs = headers if headers is not None else [("trace", f"t-{len(sent)}".encode()), ("empty", None)]
        producer.produce(topic, value=value, key=key, timestamp=kafka_ms, headers=hdrs)
        sent.append((topic, key, value, kafka_ms, hdrs))
        if filed_us is not None and s1 <= filed_us < e1:
            expected_d1.setdefault(topic, []).append(value)
        elif filed_us is not None and e1 <= filed_us < e1 + 24 * HOUR:
            expected_d2.setdefault(topic, []).append(value)

    # Event times around both days, including the last microsecond of D1 and the first of D2.
    times = [s1 - HOUR, s1, s1 + 1, s1 + 7 * HOUR, s1 + 12 * HOUR + 17, e1 - 1, e1, e1 + 5 * HOUR, e1 + 24 * HOUR - 1]
    schemas = {"hb.market.book.v1": "market_book", "hb.market.trade.v1": "market_trade", "hb.fill.v1": "fill",
               "hb.strategy_state.v1": "strategy_state", "hb.guard.v1": "guard"}
    seed = 0
    for topic, schema in schemas.items():
        for t in times:
            seed += 1
            value = SERDE.encode(schema, sample(schema, seed, {"event_time": t, "market": market}))
            send(topic, value, market.encode(), t // 1000 + 3, t)  # Kafka time = event time + 3 ms (broker lag)
    # Late: event time in D1, reached Kafka a day later -> filed under D1 by its event time.
    late = SERDE.encode("fill", sample("fill", 900, {"event_time": s1 + 9 * HOUR, "market": market}))
    send("hb.fill.v1", late, market.encode(), (e1 + 20 * HOUR) // 1000, s1 + 9 * HOUR)
    # Undecodable bytes and a tombstone: filed by their Kafka timestamp.
    send("hb.market.trade.v1", b"\x00garbage-not-avro", market.encode(), (s1 + 3 * HOUR) // 1000, s1 + 3 * HOUR - (s1 + 3 * HOUR) % 1000)
    send("hb.fill.v1", None, market.encode(), (s1 + 4 * HOUR) // 1000, s1 + 4 * HOUR)
    send("hb.market.trade.v1", b"\xc3\x01junk", market.encode(), (e1 + HOUR) // 1000, e1 + HOUR)
    # A dead letter (decodable, keyed by its source topic), no headers at all.
    dlq = dead_letter(dlq_source, 2, 41, b"k", b"\x00bad", "not Avro", "undecodable", "test", now_us=s1 + 2 * HOUR)
    send("hb.dlq.v1", SERDE.encode("dlq", dlq), dlq_source.encode(), (s1 + 2 * HOUR) // 1000, s1 + 2 * HOUR, headers=[])
    assert producer.flush(30) == 0
    return DayData(d1, d2, market, dlq_source, expected_d1, expected_d2, sent)


@pytest.fixture(scope="module")
def archived(day_data: DayData, kafka_conf: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    home = tmp_path_factory.mktemp("home")
    return home, archive_day(kafka_conf, SERDE, home, day_data.d1)



def _file_records(home: Path, day: date, topic: str) -> list[RawRecord]:
    return list(read_topic_file(home / "archive" / day.isoformat() / f"{topic}.avro", topic))


@pytest.mark.broker
def test_when_a_day_is_archived_then_each_topic_file_holds_exactly_that_days_records_by_event_time(
        day_data: DayData, archived: tuple[Path, Any]) -> None:
    home, result = archived
    manifest = load_manifest(home, day_data.d1)
    assert set(manifest["topics"]) >= set(day_data.expected_d1)
    for topic, expected in day_data.expected_d1.items():
        records = _file_records(home, day_data.d1, topic)
        ours = [r for r in records if _ours(r, day_data)]
        assert sorted(ours, key=lambda r: (r.partition, r.offset)) == ours  # archive order: partition, offset
        assert sorted(map(repr, (r.value for r in ours))) == sorted(map(repr, expected)), topic
        entry = manifest["topics"][topic]
        assert entry["count"] == len(records)
        d = TopicDigest(topic)
        for r in records:
            d.add(r)
        assert entry["values_sha256"] == d.values_sha256 and entry["records_sha256"] == d.records_sha256
    trade = [r for r in _file_records(home, day_data.d1, "hb.market.trade.v1") if _ours(r, day_data)]
    garbage = [r for r in trade if r.value == b"\x00garbage-not-avro"]
    assert len(garbage) == 1 and garbage[0].time_source == "kafka"
    assert all(r.time_source == "event" for r in trade if r is not garbage[0])
    tomb = [r for r in _file_records(home, day_data.d1, "hb.fill.v1") if _ours(r, day_data) and r.value is None]
    assert len(tomb) == 1 and tomb[0].headers[1] == ("empty", None) and tomb[0].headers[0][0] == "trace"
    assert manifest["schema_fingerprints"]["fill"] == SERDE._header["fill"][2:].hex()
    assert result.records == sum(e["count"] for e in manifest["topics"].values())


@pytest.mark.broker
def test_when_a_day_is_archived_then_the_broker_still_holds_every_record(day_data: DayData, archived: Any,
                                                                           kafka_conf: dict[str, Any]) -> None:
    s1, e1 = day_window(day_data.d1)
    after = read_window(kafka_conf, SERDE, "hb.market.book.v1", s1, e1, market=day_data.market)
    assert sorted(r.value for r in after) == sorted(day_data.expected_d1["hb.market.book.v1"])  # type: ignore[type-var]


@pytest.mark.broker
def test_when_a_day_is_archived_again_then_every_file_is_byte_identical(day_data: DayData, archived: tuple[Path, Any],
                                                                          kafka_conf: dict[str, Any]) -> None:
    home, _ = archived
    folder = home / "archive" / day_data.d1.isoformat()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = archive_day(kafka_conf, SERDE, home, day_data.d1)
    assert {t.status for t in again.topics} == {"unchanged"}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in (home / "archive").iterdir() if p.name.startswith(".staging")]


@pytest.mark.broker
def test_when_restored_to_a_fresh_broker_then_counts_and_checksums_equal_the_manifest(
        day_data: DayData, archived: tuple[Path, Any], tmp_path: Path) -> None:
    home, _ = archived
    manifest = load_manifest(home, day_data.d1)
    with EmbeddedBroker(free_port(), log_file=tmp_path / "fresh.log") as fresh:
        conf = {"bootstrap.servers": fresh.bootstrap, "log.connection.close": False}
        result = restore_day(conf, SERDE, home, day_data.d1)
        assert result.ok, result.comparisons
        assert {c.topic: c.on_broker for c in result.comparisons} == {t: e["count"] for t, e in manifest["topics"].items()}
        assert result.produced == {t: e["count"] for t, e in manifest["topics"].items()}
        # Keys, headers, Kafka timestamps and partitions came back as they were on the source.
        s1, e1 = day_window(day_data.d1)
        src = {r.value: r for r in _file_records(home, day_data.d1, "hb.fill.v1")}
        back = read_window(conf, SERDE, "hb.fill.v1", s1, e1, order="log")
        assert len(back) == manifest["topics"]["hb.fill.v1"]["count"]
        for r in back:
            o = src[r.value]
            assert (r.key, r.headers, r.timestamp_ms, r.partition) == (o.key, o.headers, o.timestamp_ms, o.partition)
        assert all(c.ok for c in verify_day(conf, SERDE, home, day_data.d1))
        with pytest.raises(ArchiveError, match="already holds .* restore into a fresh broker"):
            restore_day(conf, SERDE, home, day_data.d1)


@pytest.mark.broker
def test_when_the_day_changed_since_the_archive_then_rearchiving_refuses_unless_overwrite(
        day_data: DayData, kafka_conf: dict[str, Any], tmp_path: Path) -> None:
    topic = "hb.guard.v1"
    first = archive_day(kafka_conf, SERDE, tmp_path, day_data.d2, [topic])
    ours = [r for r in _file_records(tmp_path, day_data.d2, topic) if _ours(r, day_data)]
    assert sorted(r.value for r in ours) == sorted(day_data.expected_d2[topic])  # type: ignore[type-var]
    path = tmp_path / "archive" / day_data.d2.isoformat() / f"{topic}.avro"
    before = path.read_bytes()
    s2 = day_window(day_data.d2)[0]
    p = Producer(kafka_conf)
    p.produce(topic, SERDE.encode("guard", sample("guard", 77, {"event_time": s2 + HOUR, "market": day_data.market})),
              key=day_data.market.encode(), timestamp=(s2 + HOUR) // 1000)
    assert p.flush(10) == 0
    with pytest.raises(ArchiveError, match=f"already holds different content for {topic}.*--overwrite"):
        archive_day(kafka_conf, SERDE, tmp_path, day_data.d2, [topic])
    assert path.read_bytes() == before
    again = archive_day(kafka_conf, SERDE, tmp_path, day_data.d2, [topic], overwrite=True)
    assert again.topics[0].status == "replaced" and again.records == first.records + 1
    assert list(load_manifest(tmp_path, day_data.d2)["topics"]) == [topic]


@pytest.mark.broker
def test_when_an_archive_file_is_damaged_then_restore_refuses_before_publishing(
        day_data: DayData, archived: tuple[Path, Any], tmp_path: Path) -> None:
    home, _ = archived
    copy = tmp_path / "home"
    shutil.copytree(home / "archive", copy / "archive")
    path = copy / "archive" / day_data.d1.isoformat() / "hb.fill.v1.avro"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    unreachable = {"bootstrap.servers": "127.0.0.1:1"}
    with pytest.raises(ArchiveError, match="does not match its manifest checksum"):
        restore_day(unreachable, SERDE, copy, day_data.d1)


def test_when_unknown_topics_are_asked_then_the_error_names_the_catalog(kafka_conf: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="unknown topic 'hb.nope.v1'"):
        archive_day(kafka_conf, SERDE, tmp_path, date(2026, 3, 1), ["hb.nope.v1"])
