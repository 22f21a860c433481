"""The ClickHouse sink against a real broker and the real ClickHouse engine (chDB)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition

import schemas as schema_files
from processors.clock import to_micros
from sinks.clickhouse.writer import ClickHouseSink
from streams.catalog import CATALOG, DLQ_TOPIC, topic_for_schema
from streams.dlq import DeadLetterQueue
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.kafka_offsets import commit_at_end
from tests.samples import sample

pytestmark = [pytest.mark.broker, pytest.mark.clickhouse]


@contextmanager
def running_sink(kafka_conf: dict[str, Any], factory: Callable[[], Any], group: str, **kw: Any) -> Iterator[ClickHouseSink]:
    serde = SingleObjectSerde()
    sink = ClickHouseSink(kafka_conf, factory, serde, DeadLetterQueue(EventProducer(kafka_conf, serde), "sink"),
                          batch_size=500, flush_interval_s=0.2, group=group, **kw)
    stop = threading.Event()
    t = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield sink
    finally:
        stop.set()
        t.join(30)


def start_at_end(kafka_conf: dict[str, Any], group: str) -> None:
    """Commit the sink ``group`` at the current ends, so its sink reads only what the test produces next."""
    from streams.catalog import SINK_TOPICS

    commit_at_end(kafka_conf, group, SINK_TOPICS)


def wait_for(pred: Callable[[], bool], timeout: float = 240.0) -> None:
    # Generous: a fresh sink group first ingests everything earlier tests left in the shared broker.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def count(client: Any, table: str, where: str, params: dict[str, Any]) -> int:
    return int(client.query(f"SELECT count() FROM {table} WHERE {where}", parameters=params).result_rows[0][0])


def _norm(v: Any) -> Any:
    if hasattr(v, "timestamp"):
        return to_micros(v)
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    return v


def test_when_every_sinkable_schema_is_produced_then_each_lands_in_clickhouse_with_identical_values(
        kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    start_at_end(kafka_conf, f"sink-{unique}")
    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    sent = {}
    for name in schema_files.schema_names():
        if not topic_for_schema(name).sink:
            continue
        rec = sample(name, seed=11, overrides={"event_id": f"{unique}-{name}"})
        if "market" in rec:
            rec["market"] = f"test:{unique}"
        sent[name] = rec
        producer.send(topic_for_schema(name).name, rec)
    producer.flush()
    with running_sink(kafka_conf, lambda: clickhouse, group=f"sink-{unique}"):
        wait_for(lambda: all(count(clickhouse, topic_for_schema(n).table, "event_id = {e:String}", {"e": r["event_id"]}) == 1
                             for n, r in sent.items()))
    for name, rec in sent.items():
        res = clickhouse.query(f"SELECT * FROM {topic_for_schema(name).table} WHERE event_id = {{e:String}}",
                               parameters={"e": rec["event_id"]})
        row = dict(zip(res.column_names, res.result_rows[0]))
        for field, value in rec.items():
            assert _norm(row[field]) == _norm(value), f"{name}.{field}"


def test_when_the_sink_runs_then_derived_logs_get_no_table(clickhouse: Any) -> None:
    from streams.catalog import SEQUENCED_TOPIC, SINK_TOPICS

    assert SEQUENCED_TOPIC not in SINK_TOPICS and len(SINK_TOPICS) == len(CATALOG) - 1
    tables = {r[0] for r in clickhouse.query("SHOW TABLES").result_rows}
    assert topic_for_schema("sequenced").table not in tables


def test_when_bad_records_arrive_then_they_go_to_the_dlq_with_reasons_and_good_ones_land(
        kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    start_at_end(kafka_conf, f"sink-{unique}")
    import fastavro  # noqa: F401 - the writer below is an independent encoder
    import io
    import json

    import avro.io
    import avro.schema

    from streams.serde import MAGIC, fingerprint

    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    market = f"test:{unique}"
    topic = "hb.market.book.v1"
    good = [sample("market_book", seed=i, overrides={"event_id": f"{unique}-g{i}", "market": market, "produce_time": 1})
            for i in range(6)]
    js = schema_files.load_schema_json("market_book")
    no_mid = {**js, "fields": [f for f in js["fields"] if f["name"] != "mid"]}
    buf = io.BytesIO()
    rec = {k: v for k, v in good[0].items() if k != "mid"}
    from tests.streams.test_serde import _for_apache
    avro.io.DatumWriter(avro.schema.parse(json.dumps(no_mid))).write(_for_apache(rec, no_mid), avro.io.BinaryEncoder(buf))
    bad = [b"\xde\xad\xbe\xef corrupted", serde.encode("market_trade", sample("market_trade", overrides={"market": market, "produce_time": 1})),
           MAGIC + fingerprint(no_mid) + buf.getvalue()]
    key = market.encode()
    for i, g in enumerate(good):
        producer.send(topic, g)
        if i < len(bad):
            producer.send_raw(topic, bad[i], key=key)
    producer.flush()
    with running_sink(kafka_conf, lambda: clickhouse, group=f"sink-{unique}"):
        wait_for(lambda: count(clickhouse, "hb_market_book_v1", "market = {m:String}", {"m": market}) == 6
                 and count(clickhouse, "hb_dlq_v1", "key = lower(hex({k:String})) AND source_topic = {t:String}", {"k": market, "t": topic}) == 3)
    res = clickhouse.query("SELECT error_type, reason, source_partition, source_offset, value FROM hb_dlq_v1 "
                           "WHERE key = lower(hex({k:String})) ORDER BY source_offset", parameters={"k": market})
    kinds = [r[0] for r in res.result_rows]
    assert kinds == ["undecodable", "wrong_schema", "unknown_schema"]
    assert all(r[1] for r in res.result_rows)
    assert res.result_rows[0][4] == bad[0].hex()  # the original bytes are kept


def test_when_the_same_offsets_are_consumed_twice_then_one_row_per_event_remains(
        kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    start_at_end(kafka_conf, f"sink-{unique}")
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    market = f"test:{unique}"
    for i in range(200):
        producer.send("hb.market.trade.v1", sample("market_trade", seed=i, overrides={"event_id": f"{unique}-{i}", "market": market}))
    producer.flush()
    group = f"sink-{unique}"
    where, params = "market = {m:String}", {"m": market}
    with running_sink(kafka_conf, lambda: clickhouse, group=group):
        wait_for(lambda: count(clickhouse, "hb_market_trade_v1", where, params) == 200)
    # Rewind the group to the beginning: the sink sees every offset again.
    c = Consumer({**kafka_conf, "group.id": group})
    md = c.list_topics("hb.market.trade.v1", timeout=10).topics["hb.market.trade.v1"]
    c.commit(offsets=[TopicPartition("hb.market.trade.v1", p, 0) for p in md.partitions], asynchronous=False)
    c.close()
    with running_sink(kafka_conf, lambda: clickhouse, group=group) as sink:
        wait_for(lambda: sink.stats.skipped_duplicates >= 200)
    assert count(clickhouse, "hb_market_trade_v1", where, params) == 200


def test_when_clickhouse_is_down_then_the_sink_retries_and_loses_nothing(
        kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    start_at_end(kafka_conf, f"sink-{unique}")
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    market = f"test:{unique}"
    for i in range(50):
        producer.send("hb.market.candle.v1", sample("market_candle", seed=i, overrides={"event_id": f"{unique}-{i}", "market": market}))
    producer.flush()
    failures = {"left": 3}

    def flaky() -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("ClickHouse is down (test)")
        return clickhouse

    with running_sink(kafka_conf, flaky, group=f"sink-{unique}", max_backoff_s=0.5) as sink:
        wait_for(lambda: count(clickhouse, "hb_market_candle_v1", "market = {m:String}", {"m": market}) == 50)
    assert sink.stats.insert_retries >= 3


def test_when_the_table_holds_offsets_past_the_log_end_then_the_recreated_topic_still_lands(
        kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    # The embedded broker keeps its log in memory: after a restart offsets begin again at 0 while
    # ClickHouse still holds the old ones. Those must not hide the new log's records.
    from sinks.clickhouse.ddl import row_converter

    topic, market = "hb.market.candle.v1", f"test:{unique}"
    start_at_end(kafka_conf, f"sink-{unique}")
    names, convert = row_converter("market_candle")
    old = [(*convert(sample("market_candle", seed=p, overrides={"event_id": f"{unique}-old{p}", "market": market})),
            topic, p, 10**12) for p in range(CATALOG[topic].partitions)]
    clickhouse.insert("hb_market_candle_v1", old, column_names=[*names, "_topic", "_partition", "_offset"])
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    for i in range(20):
        producer.send(topic, sample("market_candle", seed=i, overrides={"event_id": f"{unique}-{i}", "market": market}))
    producer.flush()
    with running_sink(kafka_conf, lambda: clickhouse, group=f"sink-{unique}"):
        wait_for(lambda: count(clickhouse, "hb_market_candle_v1", "market = {m:String} AND _offset < 1000000000000",
                               {"m": market}) == 20, timeout=60)
