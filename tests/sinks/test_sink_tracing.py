"""The sink's per-record consume span: skipped when no tracer records it, without changing what is written."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer

import sinks.clickhouse.writer as writer
from sinks.clickhouse.writer import ClickHouseSink
from streams.catalog import DLQ_TOPIC
from streams.dlq import DeadLetterQueue
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from streams.tracing import traceparent
from tests.kafka_offsets import commit_at_end, log_ends
from tests.samples import sample

pytestmark = [pytest.mark.broker, pytest.mark.clickhouse]

TOPIC = "hb.market.trade.v1"


@pytest.mark.parametrize("recorded", [False, True], ids=["no tracer: fast path", "span per record"])
def test_when_no_tracer_records_spans_then_rows_land_and_dead_letters_still_carry_the_trace(
        kafka_conf: dict[str, Any], clickhouse: Any, unique: str, recorded: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "_spans_recorded", lambda: recorded)
    group = f"sink-trace-{unique}"
    commit_at_end(kafka_conf, group, [TOPIC])  # this test's records only (Tansu may hand back a few old ones)
    dlq_start = log_ends(kafka_conf, DLQ_TOPIC)
    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    market = f"test:{unique}"
    good = sample("market_trade", seed=3, overrides={"event_id": f"{unique}-good", "market": market})
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    producer.send(TOPIC, good)
    producer.send_raw(TOPIC, b"\x00 not avro", key=market.encode(), headers=[("traceparent", parent.encode())])
    producer.flush()

    sink = ClickHouseSink(kafka_conf, lambda: clickhouse, serde, DeadLetterQueue(EventProducer(kafka_conf, serde), "sink"),
                          batch_size=500, flush_interval_s=0.2, topics=[TOPIC], group=group)
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (sink.stats.rows[TOPIC] >= 1 and sink.stats.dead_letters >= 1):
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    rows = clickhouse.query("SELECT count() FROM hb_market_trade_v1 WHERE event_id = {e:String}",
                            parameters={"e": good["event_id"]}).result_rows[0][0]
    assert rows == 1

    c = Consumer({**kafka_conf, "group.id": f"read-{unique}", "enable.auto.commit": False})
    c.assign(dlq_start)
    found = None
    deadline = time.monotonic() + 30
    try:
        while found is None and time.monotonic() < deadline:
            for m in c.consume(500, timeout=0.5):
                if m.error() is None:
                    rec = serde.decode(m.value(), "dlq")
                    if rec["key"] == market.encode() and rec["processor"] == "sink":
                        found = (rec, m.headers())
    finally:
        c.close()
    assert found is not None, "no dead letter for the bad record"
    rec, headers = found
    assert rec["error_type"] == "undecodable" and rec["source_topic"] == TOPIC
    sent = traceparent(headers)
    assert sent is not None and sent.split("-")[1] == trace_id  # the dead letter continues the producer's trace
