"""A real Faust worker routes bad records to the DLQ and keeps going; trace context crosses hops."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from streams.broker import free_port
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.samples import sample

pytestmark = pytest.mark.broker


def _dlq_records(conf: dict[str, Any], key: bytes, want: int, timeout: float = 60) -> list[dict[str, Any]]:
    serde = SingleObjectSerde()
    c = Consumer({**conf, "group.id": f"dlq-reader-{time.monotonic_ns()}", "auto.offset.reset": "earliest"})
    c.subscribe(["hb.dlq.v1"])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < want and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        rec = serde.decode(m.value(), "dlq")
        if rec["key"] == key:
            found.append(rec)
    c.close()
    return found


def test_when_a_faust_agent_meets_bad_records_then_they_go_to_the_dlq_and_the_agent_keeps_going(
        kafka_conf: dict[str, Any], unique: str, tmp_path: Path) -> None:
    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    market = f"probe:{unique}"
    key = market.encode()
    log_path = tmp_path / "probe.log"
    worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("faust_probe_app.py")),
                               kafka_conf["bootstrap.servers"], unique, str(free_port())],
                              stdout=open(log_path, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        ids = []
        for i in range(6):
            rec = sample("market_trade", seed=i, overrides={"event_id": f"{unique}-{i}", "market": market})
            producer.send("hb.market.trade.v1", rec)
            ids.append(rec["event_id"])
            if i == 1:
                producer.send_raw("hb.market.trade.v1", b"not avro at all", key=key)
            if i == 3:
                producer.send_raw("hb.market.trade.v1", serde.encode("fill", sample("fill", overrides={"market": market})), key=key)
        producer.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(f"PROCESSED {i}" in log_path.read_text() for i in ids):
            time.sleep(0.3)
        assert all(f"PROCESSED {i}" in log_path.read_text() for i in ids), log_path.read_text()[-2000:]
        dead = _dlq_records(kafka_conf, key, 2)
        assert sorted(d["error_type"] for d in dead) == ["undecodable", "wrong_schema"]
        assert all(d["processor"] == "probe" and d["source_topic"] == "hb.market.trade.v1" and d["reason"] for d in dead)
        assert worker.poll() is None  # still running
    finally:
        worker.terminate()
        worker.wait(30)


def test_when_an_event_crosses_a_hop_then_the_consumer_span_continues_the_producer_trace(
        kafka_conf: dict[str, Any], unique: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from streams.tracing import consume_span, traceparent

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    import streams.tracing as tracing_mod

    original = tracing_mod.tracer
    tracing_mod.tracer = lambda: tracer  # the SDK's global provider can be set once per process
    try:
        producer = EventProducer(kafka_conf, SingleObjectSerde())
        market = f"trace:{unique}"
        producer.send("hb.market.funding.v1", sample("market_funding", overrides={"event_id": f"{unique}-f", "market": market}))
        producer.flush()
        c = Consumer({**kafka_conf, "group.id": f"trace-{unique}", "auto.offset.reset": "earliest"})
        c.subscribe(["hb.market.funding.v1"])
        msg = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error() and m.key() == market.encode():
                msg = m
                break
        c.close()
        assert msg is not None
        assert traceparent(msg.headers()) is not None
        with consume_span(msg.topic(), msg.partition(), msg.offset(), msg.headers(), "g"):
            pass
    finally:
        tracing_mod.tracer = original
    spans = {s.name: s for s in exporter.get_finished_spans()}
    send, process = spans["send hb.market.funding.v1"], spans["process hb.market.funding.v1"]
    assert process.context.trace_id == send.context.trace_id
    assert process.parent is not None and process.parent.span_id == send.context.span_id
    assert send.kind.name == "PRODUCER" and process.kind.name == "CONSUMER"
    assert process.attributes["messaging.system"] == "kafka"
    assert process.attributes["messaging.kafka.offset"] == msg.offset()


def test_when_no_tracer_records_spans_then_a_send_carries_the_current_trace_context_and_nothing_else(
        kafka_conf: dict[str, Any], unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    import streams.tracing as tracing_mod
    from streams.tracing import consume_span, traceparent

    # No SDK: EventProducer skips the (non-recording) span and injects the current context directly.
    monkeypatch.setattr(tracing_mod, "tracer", lambda: trace.NoOpTracer())
    c = Consumer({**kafka_conf, "group.id": f"notrace-{unique}", "enable.auto.commit": False})
    parts = c.list_topics("hb.market.funding.v1", timeout=10).topics["hb.market.funding.v1"].partitions
    c.assign([TopicPartition("hb.market.funding.v1", p, c.get_watermark_offsets(TopicPartition("hb.market.funding.v1", p),
                                                                                 timeout=10)[1]) for p in parts])
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    market = f"notrace:{unique}"
    parent = f"00-{unique}{'0' * 22}-{'1' * 16}-01"
    with consume_span("hb.market.trade.v1", 0, 0, [("traceparent", parent.encode())]):
        producer.send("hb.market.funding.v1", sample("market_funding", overrides={"event_id": f"{unique}-in", "market": market}))
    producer.send("hb.market.funding.v1", sample("market_funding", overrides={"event_id": f"{unique}-out", "market": market}))
    producer.flush()

    headers: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while len(headers) < 2 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error() and m.key() == market.encode():
            headers[SingleObjectSerde().decode(m.value(), "market_funding")["event_id"]] = m.headers()
    c.close()

    assert traceparent(headers[f"{unique}-in"]) == parent  # the upstream trace continues through the send
    assert not headers[f"{unique}-out"]  # outside any trace: no headers at all
