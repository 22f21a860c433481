"""The sink's insert pipeline and batch decoder, without broker or ClickHouse."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from sinks.clickhouse.columnar import ColumnDecoder, Columns
from sinks.clickhouse.decoding import SinkDecoder
from sinks.clickhouse.pipeline import InsertFailed, InsertPipeline, Offsets
from streams.catalog import CATALOG, SINK_TOPICS
from streams.serde import DecodeError, SingleObjectSerde
from tests.samples import sample


class Msg:
    """What the decoder reads of a confluent-kafka message."""

    def __init__(self, value: bytes | None, partition: int, offset: int) -> None:
        self._value, self._partition, self._offset = value, partition, offset

    def value(self) -> bytes | None:
        return self._value

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


def test_when_an_insert_fails_then_neither_its_offsets_nor_any_later_batchs_are_committed() -> None:
    committed: list[Offsets] = []
    pipeline = InsertPipeline(committed.append)
    release = threading.Event()
    pipeline.submit(lambda: release.wait(5), {("t", 0): 10})

    def fails() -> None:
        raise ConnectionError("ClickHouse went away")

    assert committed == []  # the first insert has not returned yet
    release.set()
    pipeline.submit(fails, {("t", 0): 20})  # waits for the first, commits it, starts the failing one
    assert committed == [{("t", 0): 10}]
    with pytest.raises(ConnectionError):
        pipeline.drain()
    with pytest.raises(InsertFailed):
        pipeline.submit(lambda: None, {("t", 0): 30})
    with pytest.raises(InsertFailed):
        pipeline.drain()
    pipeline.close()
    assert committed == [{("t", 0): 10}]


def test_when_batches_are_submitted_then_one_insert_runs_at_a_time_and_commits_follow_their_order() -> None:
    committed: list[int] = []
    running: list[int] = []
    overlap: list[bool] = []
    pipeline = InsertPipeline(lambda offsets: committed.append(offsets[("t", 0)]))

    def insert(i: int) -> None:
        overlap.append(bool(running))
        running.append(i)
        threading.Event().wait(0.01)
        running.remove(i)

    for i in range(5):
        pipeline.submit(lambda i=i: insert(i), {("t", 0): i})
        pipeline.drain(block=False)
    pipeline.drain()
    pipeline.close()
    assert committed == [0, 1, 2, 3, 4] and not any(overlap)


def _plain(col: Any) -> list[Any]:
    values = col.tolist() if isinstance(col, np.ndarray) else list(col)
    return [v.decode() if isinstance(v, bytes) else v for v in values]


@pytest.mark.parametrize("topic", SINK_TOPICS)
def test_when_a_batch_is_decoded_at_once_then_it_matches_the_serde_record_by_record(topic: str) -> None:
    serde = SingleObjectSerde()
    schema = CATALOG[topic].schema
    decoder = ColumnDecoder(schema, SinkDecoder(serde, [schema]))
    good = [serde.encode(schema, sample(schema, seed=i)) for i in range(50)]
    other = "market_candle" if schema == "market_trade" else "market_trade"
    bad = [None, b"\xc3\x01junk", good[0] + b"\x00", good[1][:-1], serde.encode(other, sample(other))]
    msgs = [Msg(v, i % 3, i) for i, v in enumerate(good[:25] + bad + good[25:])]
    dead: list[tuple[int, str]] = []
    got = decoder.decode(topic, msgs, lambda m, exc: dead.append((m.offset(), exc.kind)))

    expected_dead = []
    for m in msgs:
        try:
            serde.decode(m.value(), schema, topic)
        except DecodeError as exc:
            expected_dead.append((m.offset(), exc.kind))
    want = decoder.decode_each(topic, msgs, lambda m, exc: None)
    order = np.argsort(got.offsets)
    assert sorted(dead) == expected_dead and len(expected_dead) == len(bad)
    assert got.offsets[order].tolist() == want.offsets.tolist() and got.partitions[order].tolist() == want.partitions.tolist()
    for mine, theirs in zip(Columns(got.partitions, got.offsets, got.data).take(np.ones(len(got), bool)).data, want.data):
        assert [_plain(mine)[i] for i in order.tolist()] == _plain(theirs)


def test_when_strings_are_not_ascii_or_not_utf8_then_the_batch_decoder_agrees_with_the_serde() -> None:
    serde = SingleObjectSerde()
    topic, schema = "hb.market.trade.v1", "market_trade"
    decoder = ColumnDecoder(schema, SinkDecoder(serde, [schema]))
    assert decoder.vectorised
    fine = serde.encode(schema, sample(schema, overrides={"event_id": "ünïcödé-€-" + "x" * 80, "market": "t:€"}))
    marked = serde.encode(schema, sample(schema, overrides={"event_id": "QQQQ"}))
    broken = marked.replace(b"QQQQ", b"\xff\xfe\xfd\xfc")  # same length, not UTF-8
    split = marked.replace(b"QQQQ", b"\x80abc")  # starts inside a character
    dead: list[tuple[int, str]] = []
    got = decoder.decode(topic, [Msg(fine, 0, 0), Msg(broken, 0, 1), Msg(split, 0, 2), Msg(marked, 0, 3)],
                         lambda m, exc: dead.append((m.offset(), exc.kind)))
    assert dead == [(1, "undecodable"), (2, "undecodable")]
    assert got.offsets.tolist() == [0, 3]
    assert _plain(got.data[0]) == ["ünïcödé-€-" + "x" * 80, "QQQQ"] and _plain(got.data[3])[0] == "t:€"


def test_when_an_insert_hangs_then_the_consumer_thread_keeps_being_called_back_and_nothing_is_committed() -> None:
    committed: list[Offsets] = []
    calls: list[str] = []
    release = threading.Event()
    pipeline = InsertPipeline(committed.append, lambda: calls.append(threading.current_thread().name), every_s=0.01)
    pipeline.submit(lambda: release.wait(5), {("t", 0): 1})
    waiter = threading.Timer(0.1, release.set)
    waiter.start()
    pipeline.drain()  # blocks until the insert returns, calling back meanwhile
    assert committed == [{("t", 0): 1}] and calls and set(calls) == {threading.current_thread().name}
    waiter.join()
    pipeline.close()
