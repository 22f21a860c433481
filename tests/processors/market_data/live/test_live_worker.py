"""``HBOT_MARKET_SOURCE=live``: the market_data worker streams each instance's market to the broker.

The worker is the real ``hbot worker --role market_data`` in a child process (``live_worker.py``
only points ccxt.pro's Bitget websocket at the loopback :class:`FakeBitgetWs`, run here in a
thread); what it publishes is read back from the session's broker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from processors.ids import make_id
from processors.market_data.topics import BOOK_TOPIC, TRADE_TOPIC
from streams.catalog import DLQ_TOPIC
from streams.serde import SingleObjectSerde
from tests.processors.market_data.live.fake_bitget import Connection, FakeBitgetWs

REPO = Path(__file__).resolve().parents[4]
MARKET = "bitget:BTC/USDT:USDT"
BIDS = [["100.0", "1.5"], ["99.9", "2"]]
ASKS = [["100.1", "1.2"], ["100.2", "3"]]
SERDE = SingleObjectSerde()


class LoopbackBitget:
    """The loopback Bitget websocket server on its own event loop in a thread; ``call`` runs a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-bitget", daemon=True)
        self.thread.start()

        async def start() -> FakeBitgetWs:
            return await FakeBitgetWs().start()

        self.server = self.call(start())

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class TopicReader:
    """Reads the topics from where they ended when it was made, collecting records by event id."""

    def __init__(self, conf: dict[str, Any], topics: list[str]) -> None:
        self.consumer = Consumer({**conf, "group.id": f"live-worker-{time.time_ns()}", "enable.auto.commit": False})
        parts = []
        for t in topics:
            for p in self.consumer.list_topics(t, timeout=10).topics[t].partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)
                parts.append(TopicPartition(t, p, high))
        self.consumer.assign(parts)
        self.found: dict[str, dict[str, Any]] = {}

    def wait_for(self, ids: set[str], timeout: float = 30) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not ids <= set(self.found) and time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            rec = SERDE.decode(msg.value(), topic=msg.topic())
            self.found[rec["event_id"]] = {**rec, "_topic": msg.topic(), "_key": msg.key()}
        return {i: self.found[i] for i in ids if i in self.found}


def start_worker(server: LoopbackBitget, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.processors.market_data.live.live_worker", server.server.url,
                             "--role", "market_data"], env=env, cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def instances_env(hbot_env: dict[str, str], tmp_path: Path, instance: str, exchange: str = "bitget",
                  symbol: str = "BTC/USDT:USDT") -> dict[str, str]:
    path = tmp_path / "instances.yaml"
    path.write_text(f"instances:\n  - id: {instance}\n    exchange: {exchange}\n    symbol: {symbol}\n")
    return {**hbot_env, "HBOT_MARKET_SOURCE": "live", "HBOT_INSTANCES_FILE": str(path), "HBOT_TRACE_EXPORTER": "none"}


@pytest.mark.broker
def test_when_the_market_data_role_runs_live_then_books_and_trades_reach_the_topics_and_a_bad_frame_the_dlq(
        kafka_conf: dict[str, Any], hbot_env: dict[str, str], unique: str, tmp_path: Path) -> None:
    # Arrange: a loopback Bitget, a worker whose one instance trades its BTC perp, ids unique to this test
    base = int(unique, 16) % 10**12 * 10
    server = LoopbackBitget()
    reader = TopicReader(kafka_conf, [BOOK_TOPIC, TRADE_TOPIC, DLQ_TOPIC])
    log = tmp_path / "worker.log"
    worker = start_worker(server, instances_env(hbot_env, tmp_path, f"live{unique}"), log)
    try:
        conn: Connection = server.call(server.server.next_connection(timeout=90))
        server.call(conn.subscribed("books15", timeout=30))
        server.call(conn.subscribed("trade", timeout=30))
        now_ms = int(time.time() * 1000)
        book_id = lambda seq: make_id("book", MARKET, "live", seq)  # noqa: E731
        trade_id = lambda tid: make_id("trade", MARKET, "live", str(tid))  # noqa: E731

        def tr(tid: int, ts: int, side: str) -> dict[str, str]:
            return {"ts": str(ts), "price": "100.1", "size": "0.01", "side": side, "tradeId": str(tid)}

        # Act: one frame at a time (ccxt hands the feed the latest book, so frames sent together would coalesce)
        server.call(conn.book("books15", "snapshot", BIDS, ASKS, seq=base, ts_ms=now_ms))
        first = reader.wait_for({book_id(base)})
        server.call(conn.trades("update", [tr(base + 2, now_ms + 5, "sell"), tr(base + 1, now_ms, "buy")], ts_ms=now_ms + 5))
        trades = reader.wait_for({trade_id(base + 1), trade_id(base + 2)})
        server.call(conn.book("books15", "snapshot", [["100.2", "1"]], ASKS, seq=base + 1, ts_ms=now_ms + 100))  # crossed
        dlq_id = make_id("dlq", "market_data.live", MARKET, BOOK_TOPIC, book_id(base + 1), "crossed_book")
        dead = reader.wait_for({dlq_id})
        server.call(conn.book("books15", "snapshot", BIDS, ASKS, seq=base + 2, ts_ms=now_ms + 200))
        second = reader.wait_for({book_id(base + 2)})
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    finally:
        if worker.poll() is None:
            worker.kill()
        reader.consumer.close()
        server.close()

    # Assert: books and trades on their topics, keyed by market; the crossed book in the DLQ, not on the book topic
    text = log.read_text(errors="replace")
    assert first and second, text[-3000:]
    assert first[book_id(base)]["_topic"] == BOOK_TOPIC and first[book_id(base)]["_key"] == MARKET.encode()
    assert first[book_id(base)]["bids"] == [{"price": 100.0, "size": 1.5}, {"price": 99.9, "size": 2.0}]
    assert first[book_id(base)]["source"] == "live" and first[book_id(base)]["produce_time"] is not None
    assert second[book_id(base + 2)]["sequence"] == base + 2
    assert {t["_topic"] for t in trades.values()} == {TRADE_TOPIC} and len(trades) == 2
    assert trades[trade_id(base + 2)]["aggressor_side"] == "SELL" and trades[trade_id(base + 1)]["price"] == 100.1
    assert dead[dlq_id]["_topic"] == DLQ_TOPIC and dead[dlq_id]["reason"].startswith("crossed_book")
    assert dead[dlq_id]["source_topic"] == BOOK_TOPIC and dead[dlq_id]["processor"] == "market_data.live"
    assert book_id(base + 1) not in reader.found
    # Assert: a clean stop: exit 0, the feed reported what it did and closed its connection
    assert code == 0, text[-3000:]
    assert f"live feed {MARKET} stopped" in text and "Traceback" not in text


@pytest.mark.broker
@pytest.mark.parametrize(("exchange", "instances", "field"), [
    ("nope", True, "instances[x1].exchange='nope'"),
    ("synthetic", True, "instances[x1].exchange is 'synthetic'"),
    (None, False, "instances[demo].exchange is 'synthetic'"),
])
def test_when_an_instance_has_no_live_exchange_then_the_worker_stops_with_one_line_naming_the_field(
        hbot_env: dict[str, str], tmp_path: Path, exchange: str | None, instances: bool, field: str) -> None:
    env = instances_env(hbot_env, tmp_path, "x1", exchange or "bitget")
    if not instances:
        env.pop("HBOT_INSTANCES_FILE")

    res = subprocess.run([sys.executable, "-m", "hbot.cli", "worker", "--role", "market_data"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)

    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("%")]
    assert len(lines) == 1 and field in lines[0] and "HBOT_MARKET_SOURCE" in lines[0], res.stderr


@pytest.mark.broker
def test_when_the_exchange_does_not_list_the_symbol_then_the_worker_names_it_and_exits_non_zero(
        hbot_env: dict[str, str], tmp_path: Path) -> None:
    server = LoopbackBitget()
    log = tmp_path / "worker.log"
    worker = start_worker(server, instances_env(hbot_env, tmp_path, "doge", symbol="DOGE/USDT:USDT"), log)
    try:
        code = worker.wait(90)
    except subprocess.TimeoutExpired:
        code = None  # reported below with the worker's log, which says where it hung
    finally:
        if worker.poll() is None:
            worker.kill()
        server.close()
    text = log.read_text(errors="replace")
    assert code not in (None, 0), f"exit code {code}; worker log:\n{text[-3000:]}"
    assert "instances[doge].symbol 'DOGE/USDT:USDT' is not a market of bitget" in text
