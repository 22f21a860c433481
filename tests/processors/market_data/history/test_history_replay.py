"""Replaying stored history: the pure event-time iterator, pacing, and publishing to the real broker."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import Consumer, TopicPartition

import schemas
from hbot.cli_data import parse_time_ms, publish
from processors.clock import to_micros
from processors.market_data.history.records import RecordMaker
from processors.market_data.history.replay import replay, stored_counts
from processors.market_data.history.store import HistoryStore, batch_to_records, day_of_us
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, MARKET_TOPICS, SCHEMA_OF_TOPIC, TRADE_TOPIC
from streams.catalog import CATALOG
from streams.serde import SingleObjectSerde
from tests.processors.market_data.history.bitget_fake import FIXTURES

SYMBOL = "BTC/USDT:USDT"
T0 = 1_723_161_600_000_000  # 2024-08-09T00:00:00Z in microseconds
HBOT = [sys.executable, "-m", "hbot.cli"]


def _small_store(tmp_path: Path) -> HistoryStore:
    """Two days with all four kinds and deliberate ties in event time."""
    store = HistoryStore(tmp_path / "data")
    mk = RecordMaker(f"test:{SYMBOL}")
    book = lambda t, s: mk.book(t, s, [(100.0, 1.0)], [(101.0, 1.0)])  # noqa: E731
    recs = {
        "book": [book(T0 - 500, 1), book(T0 + 60_000_000, 2), book(T0 + 60_000_000, 3), book(T0 + 86_400_000_000, 4)],
        "trades": [mk.trade(T0 + 60_000_000, "12", 100.5, 1.0, "BUY", 12), mk.trade(T0 + 60_000_000, "11", 100.5, 2.0, "SELL", 11),
                   mk.trade(T0 + 1, "10", 100.4, 1.0, "BUY", 10)],
        "ohlcv": [mk.candle(T0, T0 + 60_000_000, 100.4, 100.4, 100.4, 100.4, 1.0, 1)],
        "funding": [mk.funding(T0 + 60_000_000, 0.0001, T0 + 8 * 3600_000_000)],
    }
    for kind, rows in recs.items():
        by_day: dict[date, list[dict[str, Any]]] = {}
        for r in rows:
            by_day.setdefault(day_of_us(r["event_time"]), []).append(r)
        for day, rs in by_day.items():
            store.write_day("test", SYMBOL, kind, day, rs)
    return store


def test_when_replayed_then_records_come_in_event_time_order_with_a_stable_tie_break(tmp_path: Path) -> None:
    store = _small_store(tmp_path)
    events = list(replay(store, "test", SYMBOL, T0 - 1_000_000, T0 + 2 * 86_400_000_000))
    got = [(topic, r["event_time"] - T0, r.get("sequence")) for topic, r in events]
    assert got == [
        (BOOK_TOPIC, -500, 1),
        (TRADE_TOPIC, 1, 10),
        # at 00:01:00: the candle closing then, funding, trades in id order, then books
        (CANDLE_TOPIC, 60_000_000, None),
        (FUNDING_TOPIC, 60_000_000, None),
        (TRADE_TOPIC, 60_000_000, 11),
        (TRADE_TOPIC, 60_000_000, 12),
        (BOOK_TOPIC, 60_000_000, 2),
        (BOOK_TOPIC, 60_000_000, 3),
        (BOOK_TOPIC, 86_400_000_000, 4),
    ]
    assert all("produce_time" not in r for _, r in events)
    assert stored_counts(store, "test", SYMBOL, T0 - 1_000_000, T0 + 2 * 86_400_000_000) == Counter(
        {BOOK_TOPIC: 4, TRADE_TOPIC: 3, CANDLE_TOPIC: 1, FUNDING_TOPIC: 1})


def test_when_a_range_and_kinds_are_chosen_then_only_those_are_replayed(tmp_path: Path) -> None:
    store = _small_store(tmp_path)
    # [start, end) in event time: the book at the end instant is not included
    events = list(replay(store, "test", SYMBOL, T0, T0 + 86_400_000_000, kinds=("book", "trades")))
    assert [(t, r["event_time"] - T0) for t, r in events] == [
        (TRADE_TOPIC, 1), (TRADE_TOPIC, 60_000_000), (TRADE_TOPIC, 60_000_000), (BOOK_TOPIC, 60_000_000), (BOOK_TOPIC, 60_000_000)]
    assert list(replay(store, "test", "ETH/USDT:USDT", T0, T0 + 1)) == []
    with pytest.raises(KeyError, match="unknown kind"):
        list(replay(store, "test", SYMBOL, T0, T0 + 1, kinds=("quotes",)))


def test_when_paced_then_the_publisher_waits_by_event_time_divided_by_speed() -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    events = [("t", {"event_time": T0 + dt}) for dt in (0, 1_000_000, 1_000_000, 3_000_000)]
    sent: list[float] = []
    counts = publish(events, lambda topic, rec: sent.append(now[0]), speed=100.0, clock=lambda: now[0], sleep=sleep)
    assert counts == Counter(t=4)
    assert [round(s - 1000.0, 6) for s in sent] == [0.0, 0.01, 0.01, 0.03]
    slept.clear()
    publish(events, lambda topic, rec: None, speed=0.0, clock=lambda: now[0], sleep=sleep)
    assert slept == []


@pytest.mark.broker
def test_when_the_recording_is_imported_and_replayed_to_kafka_then_every_row_arrives_once_with_its_event_time(
        tmp_path: Path, hbot_env: dict[str, str], kafka_conf: dict[str, Any], unique: str) -> None:
    # Arrange: import the whole BTCUSDT recording through the CLI, under an exchange name unique to this test
    exchange = f"binance-{unique}"
    market = f"{exchange}:{SYMBOL}"
    env = {**hbot_env, "HBOT_HOME": str(tmp_path / "home")}
    imp = subprocess.run([*HBOT, "data", "import", str(FIXTURES / "market" / "binance-usdm-btcusdt-20240808.gz"), "--exchange", exchange],
                         capture_output=True, text=True, env=env, timeout=120)
    assert imp.returncode == 0, imp.stderr
    store = HistoryStore(tmp_path / "home" / "data")
    start, end = "2024-08-08T23:50", "2024-08-09T00:10"
    expected = stored_counts(store, exchange, SYMBOL, to_micros_str(start), to_micros_str(end))
    assert expected == {BOOK_TOPIC: 3439, TRADE_TOPIC: 21_313, CANDLE_TOPIC: 5, FUNDING_TOPIC: 0}
    stored_times = {r["event_id"]: r["event_time"] for kind in ("book", "trades", "ohlcv") for d in store.days(exchange, SYMBOL, kind)
                    for r in batch_to_records(store.read_table(exchange, SYMBOL, kind, d))}
    # Act
    res = subprocess.run([*HBOT, "data", "replay", "--exchange", exchange, "--start", start, "--end", end, "--speed", "max"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    rate = re.search(r"([\d,]+) records in ([\d.]+) s \(([\d,]+)/s\)", res.stdout)
    assert rate is not None, res.stdout
    print(f"\nreplay to the broker: {rate.group(0)}")
    # Assert: read every partition of the market topics back, keep this market's records
    got = _read_market(kafka_conf, market, sum(expected.values()))
    assert Counter(t for t, _ in got) == Counter({t: n for t, n in expected.items() if n})
    serde = SingleObjectSerde()
    parsed = {t: fastavro.parse_schema(schemas.load_schema_json(SCHEMA_OF_TOPIC[t])) for t in MARKET_TOPICS}
    seen: dict[str, int] = {}
    for topic, value in got:
        rec = serde.decode(value, expected=SCHEMA_OF_TOPIC[topic])
        assert fastavro.validation.validate(rec, parsed[topic], raise_errors=True)
        seen[rec["event_id"]] = to_micros(rec["event_time"])
        assert rec["source"] == "replay" and to_micros(rec["produce_time"]) > 0
    assert seen == stored_times  # each row once, event times unchanged


def to_micros_str(s: str) -> int:
    return parse_time_ms(s, "--start") * 1000


def _read_market(conf: dict[str, Any], market: str, want: int, idle_s: float = 5.0) -> list[tuple[str, bytes]]:
    consumer = Consumer({**conf, "group.id": f"history-replay-{time.time_ns()}", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(t, p, 0) for t in MARKET_TOPICS for p in range(CATALOG[t].partitions)])
        out: list[tuple[str, bytes]] = []
        key = market.encode()
        deadline = time.monotonic() + 120
        last = time.monotonic()
        while time.monotonic() < deadline:
            msgs = consumer.consume(5000, timeout=0.5)
            for m in msgs:
                if m.error() is None and m.key() == key:
                    out.append((m.topic(), m.value()))
            if msgs:
                last = time.monotonic()
            if len(out) >= want and time.monotonic() - last > 1.0:
                break  # everything expected arrived and nothing more is coming (a duplicate would show)
            if not msgs and time.monotonic() - last > idle_s:
                break
        return out
    finally:
        consumer.close()
