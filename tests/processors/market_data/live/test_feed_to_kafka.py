"""The live feed wired to a real EventProducer: records and dead letters land on the session's broker."""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from processors.ids import make_id
from processors.market_data.live import LiveFeed, LiveFeedConfig
from processors.market_data.topics import BOOK_TOPIC
from streams.catalog import DLQ_TOPIC
from streams.producer import EventProducer
from streams.serde import DecodeError, SingleObjectSerde
from tests.processors.market_data.live.fake_bitget import FakeBitgetWs, bitget_exchange

T0 = 1_750_000_000_000
NOW_US = (T0 + 1_000) * 1000
MARKET = "bitget:BTC/USDT:USDT"


def read_until(conf: dict[str, Any], topic: str, want: set[str], serde: SingleObjectSerde,
               timeout: float = 30.0) -> dict[str, dict[str, Any]]:
    """Records of ``topic`` whose event id is in ``want``, read from the beginning of every partition."""
    consumer = Consumer({**conf, "group.id": f"live-feed-{zlib.crc32(topic.encode())}-{time.time_ns()}",
                         "enable.auto.commit": False})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while set(found) != want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            try:
                record = serde.decode(msg.value(), topic=topic)
            except DecodeError:  # other tests' deliberately bad records share the topic
                continue
            if record["event_id"] in want:
                found[record["event_id"]] = {**record, "_key": msg.key()}
        return found
    finally:
        consumer.close()


@pytest.mark.broker
def test_when_the_feed_publishes_through_an_event_producer_then_books_and_dead_letters_reach_kafka(
        kafka_conf: dict[str, Any], unique: str) -> None:
    # Arrange: sequences unique to this test, so its records are told apart on the shared broker
    base = int(unique, 16) % 10**12 * 10
    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    cfg = LiveFeedConfig(trades=False, funding=False, candles=False, backoff_min_s=0.02, backoff_max_s=0.1)
    bids, asks = [["100.0", "1"], ["99.9", "2"]], [["100.1", "1"], ["100.2", "2"]]

    async def go() -> LiveFeed:
        server = await FakeBitgetWs().start()
        exchange = bitget_exchange(server.url, [])
        feed = LiveFeed(cfg, exchange, producer, producer, rng=random.Random(1), now_us=lambda: NOW_US)
        stop = asyncio.Event()
        task = asyncio.ensure_future(feed.run(stop))
        try:
            conn = await server.next_connection()
            await conn.subscribed("books15")
            for i, (b, a) in enumerate([(bids, asks), ([["100.2", "1"]], asks), (bids, asks)]):
                await conn.book("books15", "snapshot", b, a, seq=base + i, ts_ms=T0 + i)
                deadline = asyncio.get_running_loop().time() + 5
                while sum(feed.stats.published.values()) + sum(feed.stats.dead_letters.values()) < i + 1:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.005)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
            await exchange.close()
            await server.stop()
        return feed

    # Act
    feed = asyncio.run(go())
    producer.flush()

    # Assert
    assert feed.stats.published[BOOK_TOPIC] == 2 and feed.stats.dead_letters["crossed_book"] == 1
    book_ids = {make_id("book", MARKET, "live", base), make_id("book", MARKET, "live", base + 2)}
    books = read_until(kafka_conf, BOOK_TOPIC, book_ids, serde)
    assert set(books) == book_ids
    assert {b["sequence"] for b in books.values()} == {base, base + 2}
    assert {b["_key"] for b in books.values()} == {MARKET.encode()}  # keyed by market: one partition per market
    assert all(b["produce_time"] is not None for b in books.values())  # stamped by the producer
    dlq_id = make_id("dlq", "market_data.live", MARKET, BOOK_TOPIC, make_id("book", MARKET, "live", base + 1), "crossed_book")
    dead = read_until(kafka_conf, DLQ_TOPIC, {dlq_id}, serde)[dlq_id]
    assert dead["reason"].startswith("crossed_book: best bid 100.2 > best ask 100.1")
    assert dead["source_topic"] == BOOK_TOPIC and dead["processor"] == "market_data.live"
    assert b'"sequence": %d' % (base + 1) in dead["value"]
