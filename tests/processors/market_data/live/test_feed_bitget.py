"""The live feed on real ccxt.pro bitget code, against a loopback Bitget WS server and recorded REST payloads.

No internet: the websocket is :class:`FakeBitgetWs` on 127.0.0.1 and REST answers come from ccxt's
recorded Bitget fixtures; everything in between (subscription, parsing, order-book maintenance,
checksums, keep-alive, reconnection) is the real ccxt.pro code.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt
import fastavro
import fastavro.validation
import pytest

import schemas
from processors.market_data.live import LiveFeed, LiveFeedConfig, run_live_feed
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, SCHEMA_OF_TOPIC, TRADE_TOPIC
from streams.catalog import DLQ_TOPIC
from streams.serde import SingleObjectSerde
from tests.processors.market_data.live.fake_bitget import (
    Connection,
    FakeBitgetWs,
    ServerBook,
    bitget_exchange,
    query,
    recorded_request_url,
)

T0 = 1_750_000_000_000  # exchange time of the first frame, ms
NOW_US = (T0 + 10_000) * 1000  # the feed's (injected) clock: 10 s after the first frame
PARSED = {t: fastavro.parse_schema(schemas.load_schema_json(s)) for t, s in SCHEMA_OF_TOPIC.items()}
DLQ_SCHEMA = fastavro.parse_schema(schemas.load_schema_json("dlq"))
SERDE = SingleObjectSerde()


class Sink:
    """Collects what the feed publishes and dead-letters."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.dead: list[dict[str, Any]] = []

    async def publish(self, topic: str, record: dict[str, Any]) -> None:  # async on purpose: both kinds are supported
        self.published.append((topic, record))

    def dead_letter(self, record: dict[str, Any]) -> None:
        self.dead.append(record)

    def records(self, topic: str) -> list[dict[str, Any]]:
        return [r for t, r in self.published if t == topic]

    def reasons(self, topic: str) -> list[str]:
        return [d["reason"].split(":")[0] for d in self.dead if d["source_topic"] == topic]

    def outcomes(self, topic: str) -> int:
        """Records of ``topic`` that reached either callback."""
        return len(self.records(topic)) + len(self.reasons(topic))


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``cond()`` holds (the test drives the server one frame at a time, so nothing is coalesced)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the feed")
        await asyncio.sleep(0.005)


def levels(*pairs: tuple[str, str]) -> list[list[str]]:
    return [list(p) for p in pairs]


GOOD_BIDS = levels(("100.0", "1.5"), ("99.9", "2"), ("99.8", "4"))
GOOD_ASKS = levels(("100.1", "1.2"), ("100.2", "3"), ("100.3", "5"))


def schema_valid(topic: str, record: dict[str, Any]) -> bool:
    """Valid against the topic's schema and round-trips through the wire format the producer uses."""
    stamped = {**record, "produce_time": NOW_US}  # the producer stamps produce_time
    fastavro.validation.validate(stamped, PARSED[topic], raise_errors=True)
    name = SCHEMA_OF_TOPIC[topic]
    return SERDE.decode(SERDE.encode(name, stamped, topic), name)["event_id"] == record["event_id"]


def dlq_valid(record: dict[str, Any]) -> bool:
    fastavro.validation.validate(record, DLQ_SCHEMA, raise_errors=True)
    return SERDE.decode(SERDE.encode("dlq", record, DLQ_TOPIC), "dlq")["reason"] == record["reason"]


async def with_feed(cfg: LiveFeedConfig, script: Callable[[FakeBitgetWs, Sink, LiveFeed], Awaitable[None]],
                    rest_calls: list[str] | None = None) -> tuple[Sink, LiveFeed, FakeBitgetWs]:
    """Run the feed against a fresh loopback server while ``script`` plays the exchange side."""
    server = await FakeBitgetWs().start()
    exchange = bitget_exchange(server.url, rest_calls if rest_calls is not None else [])
    sink = Sink()
    feed = LiveFeed(cfg, exchange, sink.publish, sink.dead_letter, rng=random.Random(7), now_us=lambda: NOW_US)
    stop = asyncio.Event()
    task = asyncio.ensure_future(feed.run(stop))
    try:
        await asyncio.wait_for(script(server, sink, feed), 15)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await exchange.close()
        await server.stop()
    return sink, feed, server


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


FAST = dict(backoff_min_s=0.02, backoff_max_s=0.1, funding_poll_s=0.05, candle_poll_s=0.05)


def test_when_bitget_sends_good_and_bad_frames_and_drops_the_connection_then_good_data_flows_and_bad_is_dead_lettered() -> None:
    # Arrange
    cfg = LiveFeedConfig(exchange="bitget", symbol="BTC/USDT:USDT", book_depth=15, **FAST)
    rest_calls: list[str] = []

    async def script(server: FakeBitgetWs, sink: Sink, feed: LiveFeed) -> None:
        conn = await server.next_connection()
        await conn.subscribed("books15")
        await conn.subscribed("trade")

        async def book(bids: list[list[str]], asks: list[list[str]], seq: int, ts: int, on: Connection = conn) -> None:
            n = sink.outcomes(BOOK_TOPIC)
            await on.book("books15", "snapshot", bids, asks, seq=seq, ts_ms=ts)
            await until(lambda: sink.outcomes(BOOK_TOPIC) == n + 1)

        async def trades(items: list[dict[str, str]], expect: int, on: Connection = conn) -> None:
            n = sink.outcomes(TRADE_TOPIC)
            await on.trades("update", items, ts_ms=T0)
            await until(lambda: sink.outcomes(TRADE_TOPIC) == n + expect)

        def tr(tid: int, ts: int, price: str = "100.1", size: str = "0.01", side: str = "buy") -> dict[str, str]:
            return {"ts": str(ts), "price": price, "size": size, "side": side, "tradeId": str(tid)}

        await book(GOOD_BIDS, GOOD_ASKS, seq=10, ts=T0)
        await trades([tr(1002, T0 + 5, side="sell"), tr(1001, T0)], expect=2)  # newest first, as Bitget sends
        await book(levels(("NaN", "1"), ("99.9", "2")), GOOD_ASKS, seq=11, ts=T0 + 100)
        await book(GOOD_BIDS, levels(("100.1", "-1.2"), ("100.2", "3")), seq=12, ts=T0 + 200)
        await book(levels(("100.2", "1"), ("100.0", "2")), GOOD_ASKS, seq=13, ts=T0 + 300)
        await book(GOOD_BIDS, GOOD_ASKS, seq=14, ts=T0 + 400)
        await book(GOOD_BIDS, GOOD_ASKS, seq=15, ts=T0 + 250)  # earlier than the last accepted book
        await book(GOOD_BIDS, GOOD_ASKS, seq=9, ts=T0 + 500)  # rewound update id
        await book(GOOD_BIDS, GOOD_ASKS, seq=16, ts=T0 - 60_000)  # 70 s old at the feed's clock
        await book(GOOD_BIDS, GOOD_ASKS, seq=17, ts=T0 + 600)
        await trades([tr(1003, T0 + 10, size="-0.5")], expect=1)
        await trades([tr(1004, T0 + 1)], expect=1)  # earlier than trade 1002, the last accepted (1003 was rejected)
        # ccxt's own parser raises on this one; the feed dead-letters the raw frame and the connection lives on.
        await trades([tr(1005, T0 + 20, price="NaN")], expect=1)
        await until(lambda: sink.records(FUNDING_TOPIC) and sink.records(CANDLE_TOPIC))
        # ccxt pings every 0.3 s here and gives up after 0.6 s without a pong: three pings on one
        # connection mean the server's pongs were understood.
        await until(lambda: server.pings >= 3)
        assert server.accepted == 1

        # The network fails mid-stream: ccxt notices, the feed backs off, reconnects and resubscribes.
        await conn.drop()
        conn2 = await server.next_connection()
        await conn2.subscribed("books15")
        await conn2.subscribed("trade")
        # Bitget's trade snapshot on subscribe repeats trades already published: they are skipped.
        n_trades = len(sink.records(TRADE_TOPIC))
        await conn2.trades("snapshot", [tr(1006, T0 + 30), tr(1002, T0 + 5, side="sell")], ts_ms=T0 + 30)
        await until(lambda: len(sink.records(TRADE_TOPIC)) == n_trades + 1)
        await book(GOOD_BIDS, GOOD_ASKS, seq=18, ts=T0 + 700, on=conn2)
        await book(levels(("100.1", "1")), levels(("100.2", "1")), seq=19, ts=T0 + 800, on=conn2)

    # Act
    sink, feed, server = run(with_feed(cfg, script, rest_calls))

    # Assert: good data before and after the reconnection, in order, schema-valid
    books = sink.records(BOOK_TOPIC)
    assert [b["sequence"] for b in books] == [10, 14, 17, 18, 19]
    assert [b["event_time"] for b in books] == [(T0 + d) * 1000 for d in (0, 400, 600, 700, 800)]
    assert books[0]["bids"] == [{"price": 100.0, "size": 1.5}, {"price": 99.9, "size": 2.0}, {"price": 99.8, "size": 4.0}]
    assert books[0]["asks"][0] == {"price": 100.1, "size": 1.2}
    assert books[0]["mid"] == pytest.approx(100.05) and books[0]["spread_bps"] == pytest.approx(0.1 / 100.05 * 1e4)
    assert books[-1]["bids"] == [{"price": 100.1, "size": 1.0}]
    assert {b["market"] for b in books} == {"bitget:BTC/USDT:USDT"} and {b["source"] for b in books} == {"live"}
    assert len({b["event_id"] for b in books}) == len(books)
    trades = sink.records(TRADE_TOPIC)
    assert [t["trade_id"] for t in trades] == ["1001", "1002", "1006"]
    assert [t["aggressor_side"] for t in trades] == ["BUY", "SELL", "BUY"]
    assert trades[0]["sequence"] == 1001 and trades[0]["price"] == 100.1 and trades[0]["size"] == 0.01
    assert feed.stats.duplicates >= 1
    for topic, record in sink.published:
        assert schema_valid(topic, record)
    # Assert: every bad frame reached the dead-letter callback with its reason
    assert sink.reasons(BOOK_TOPIC) == ["nan_price", "negative_size", "crossed_book", "out_of_order",
                                        "sequence_regression", "stale_book"]
    assert sink.reasons(TRADE_TOPIC) == ["negative_size", "out_of_order", "unparsable"]
    assert b'"price": "NaN"' in sink.dead[-1]["value"]
    for dead in sink.dead:
        assert dlq_valid(dead)
        assert dead["processor"] == "market_data.live" and dead["error_type"] == "invalid"
        assert dead["key"] == b"bitget:BTC/USDT:USDT" and dead["value"]
    assert len({d["event_id"] for d in sink.dead}) == len(sink.dead)
    # Assert: one reconnection, after backing off
    assert server.accepted == 2
    assert feed.stats.reconnects >= 1
    # Assert: funding and closed candles from the recorded REST payloads, requested as ccxt is recorded to
    funding = sink.records(FUNDING_TOPIC)
    assert funding[0]["funding_rate"] == pytest.approx(-0.000014)
    assert funding[0]["next_funding_time"] == 1745510400000 * 1000
    assert funding[0]["event_time"] == NOW_US  # Bitget's current rate has no timestamp: receive time
    assert len(funding) == 1  # the same observation polled again is a duplicate
    candles = sink.records(CANDLE_TOPIC)
    assert len(candles) == 1
    assert candles[0]["open_time"] == 1703762100000 * 1000 and candles[0]["event_time"] == 1703762160000 * 1000
    assert (candles[0]["open"], candles[0]["high"], candles[0]["low"], candles[0]["close"], candles[0]["volume"]) == (
        43094.7, 43095.8, 43080.4, 43084.2, 90.097)
    assert recorded_request_url("fetchFundingRate", ["BTC/USDT:USDT"]) in rest_calls
    ohlcv_calls = [u for u in rest_calls if "/candles" in u]
    assert ohlcv_calls and query(ohlcv_calls[0]) == {"symbol": ["BTCUSDT"], "granularity": ["1m"], "limit": ["3"],
                                                     "productType": ["USDT-FUTURES"]}


def test_when_the_incremental_book_checksum_mismatches_then_it_is_dead_lettered_and_resubscribed_from_a_snapshot() -> None:
    # Arrange: depth 10 has no fixed-depth channel, so ccxt maintains Bitget's full 'books' incrementally
    cfg = LiveFeedConfig(book_depth=10, trades=False, funding=False, candles=False, **FAST)

    async def script(server: FakeBitgetWs, sink: Sink, feed: LiveFeed) -> None:
        conn = await server.next_connection()
        await conn.subscribed("books")
        exchange_book = ServerBook()

        async def send(action: str, bids: list[list[str]], asks: list[list[str]], seq: int, ts: int,
                       corrupt: bool = False) -> None:
            if action == "snapshot":
                exchange_book.bids.clear()
                exchange_book.asks.clear()
            exchange_book.apply(bids, asks)
            checksum = exchange_book.checksum() + (1 if corrupt else 0)
            n = sink.outcomes(BOOK_TOPIC)
            await conn.book("books", action, bids, asks, seq=seq, ts_ms=ts, checksum=checksum)
            await until(lambda: sink.outcomes(BOOK_TOPIC) == n + 1)

        await send("snapshot", GOOD_BIDS, GOOD_ASKS, seq=100, ts=T0)
        await send("update", levels(("100.05", "0.7")), levels(("100.1", "0")), seq=101, ts=T0 + 100)
        await send("update", levels(("99.9", "2.5")), levels(("100.15", "0.3")), seq=102, ts=T0 + 200)
        # A corrupted update: ccxt's CRC32 disagrees, unsubscribes the book and fails the watch.
        await send("update", levels(("99.95", "9")), [], seq=103, ts=T0 + 300, corrupt=True)
        assert (await asyncio.wait_for(conn.unsubscribed.get(), 5))["channel"] == "books"
        await conn.subscribed("books")  # the feed subscribes again on the same connection
        await send("snapshot", levels(("101.0", "1"), ("100.9", "2")), levels(("101.1", "1")), seq=110, ts=T0 + 400)
        await send("update", levels(("100.9", "0")), levels(("101.2", "4")), seq=111, ts=T0 + 500)

    # Act
    sink, feed, server = run(with_feed(cfg, script))

    # Assert
    books = sink.records(BOOK_TOPIC)
    assert [b["sequence"] for b in books] == [100, 101, 102, 110, 111]
    assert [lv["price"] for lv in books[1]["asks"]] == [100.2, 100.3]  # size 0 deleted the level
    assert books[1]["bids"][0] == {"price": 100.05, "size": 0.7}
    assert books[2]["bids"][:3] == [{"price": 100.05, "size": 0.7}, {"price": 100.0, "size": 1.5},
                                    {"price": 99.9, "size": 2.5}]
    # after the resubscription the book is the new snapshot only: nothing left over from the old one
    assert books[3]["bids"] == [{"price": 101.0, "size": 1.0}, {"price": 100.9, "size": 2.0}]
    assert books[3]["asks"] == [{"price": 101.1, "size": 1.0}]
    assert books[4]["bids"] == [{"price": 101.0, "size": 1.0}]
    assert books[4]["asks"] == [{"price": 101.1, "size": 1.0}, {"price": 101.2, "size": 4.0}]
    assert sink.reasons(BOOK_TOPIC) == ["checksum_mismatch"]
    assert "checksum" in sink.dead[0]["reason"] and sink.dead[0]["value"] is None
    assert dlq_valid(sink.dead[0])
    assert server.accepted == 1
    for topic, record in sink.published:
        assert schema_valid(topic, record)


def test_when_the_symbol_is_unknown_then_the_feed_fails_fast() -> None:
    cfg = LiveFeedConfig(symbol="DOGE/USDT:USDT", **FAST)

    async def go() -> None:
        server = await FakeBitgetWs().start()
        exchange = bitget_exchange(server.url, [])
        try:
            await asyncio.wait_for(run_live_feed(cfg, lambda t, r: None, lambda r: None, asyncio.Event(),
                                                 exchange=exchange), 5)
        finally:
            await exchange.close()
            await server.stop()

    with pytest.raises(ccxt.BadSymbol):
        run(go())


def test_when_the_exchange_is_unreachable_then_the_feed_keeps_retrying_with_backoff_until_stopped() -> None:
    # Arrange: nothing listens on the websocket URL
    cfg = LiveFeedConfig(trades=False, funding=False, candles=False, **FAST)

    async def go() -> tuple[Any, int]:
        server = await FakeBitgetWs().start()
        url = server.url
        await server.stop()
        exchange = bitget_exchange(url, [])
        stop = asyncio.Event()
        sink = Sink()
        try:
            task = asyncio.ensure_future(run_live_feed(cfg, sink.publish, sink.dead_letter, stop, exchange=exchange))
            await asyncio.sleep(1.0)
            assert not task.done()  # a network failure never ends the feed
            stop.set()
            return await asyncio.wait_for(task, 5), len(sink.published) + len(sink.dead)
        finally:
            await exchange.close()

    # Act
    stats, outcomes = run(go())
    # Assert
    assert stats.reconnects >= 2 and outcomes == 0


def test_when_the_book_stream_goes_silent_then_the_feed_reconnects_and_both_streams_resume() -> None:
    # Arrange: the connection stays up (pings answered) but no book arrives for longer than stale_after_s
    cfg = LiveFeedConfig(stale_after_s=0.5, funding=False, candles=False, **FAST)
    fresh_ms = NOW_US // 1000 - 100

    async def script(server: FakeBitgetWs, sink: Sink, feed: LiveFeed) -> None:
        conn = await server.next_connection()
        await conn.subscribed("books15")
        await conn.subscribed("trade")
        conn2 = await server.next_connection(timeout=3)
        await conn2.subscribed("books15")
        await conn2.subscribed("trade")
        await conn2.trades("update", [{"ts": str(fresh_ms), "price": "100.1", "size": "0.2", "side": "buy",
                                       "tradeId": "5001"}], ts_ms=fresh_ms)
        await until(lambda: len(sink.records(TRADE_TOPIC)) == 1)
        await conn2.book("books15", "snapshot", GOOD_BIDS, GOOD_ASKS, seq=1, ts_ms=fresh_ms)
        await until(lambda: len(sink.records(BOOK_TOPIC)) == 1)

    # Act
    sink, feed, server = run(with_feed(cfg, script))
    # Assert
    assert server.accepted == 2 and feed.stats.reconnects >= 1
    assert sink.records(TRADE_TOPIC)[0]["trade_id"] == "5001" and sink.records(BOOK_TOPIC)[0]["sequence"] == 1
    assert sink.dead == []
