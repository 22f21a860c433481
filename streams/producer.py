"""Producing hbot events: encode with the topic's schema, key by market, trace, stamp produce time."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Producer

from streams.catalog import TopicSpec, topic
from streams.serde import Serde
from streams.tracing import Headers, inject_context, produce_span, spans_recorded


class ProduceError(Exception):
    """A record could not be delivered to Kafka."""


def record_key(spec: TopicSpec, record: dict[str, Any]) -> bytes | None:
    """The Kafka key of ``record`` on ``spec``: its market (or instance, or source topic)."""
    value = record.get(spec.key)
    if value is None and spec.key == "instance":
        value = record.get("instance_id")
    return None if value is None else str(value).encode("utf-8")


class EventProducer:
    """Encodes and sends hbot events; every send is a PRODUCER span with trace context in headers.

    Without an OpenTelemetry SDK installed (``HBOT_TRACE_EXPORTER=none``, ``hbot demo``'s own
    publisher, benches) the span would record nothing; it is skipped and only the current trace
    context, if any, goes into the headers (the same headers the no-op span would give). The span
    cost about as much as the librdkafka produce itself (bench/bench_synthetic_publish.py).
    """

    def __init__(self, conf: dict[str, Any], serde: Serde, extra: dict[str, Any] | None = None) -> None:
        self._serde = serde
        self._errors: list[str] = []
        self._producer = Producer({"linger.ms": 5, "batch.num.messages": 10_000, "queue.buffering.max.messages": 1_000_000,
                                   **conf, **(extra or {})})

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")

    def send(self, topic_name: str, record: dict[str, Any], key: bytes | None = None,
             headers: Headers | None = None) -> None:
        """Encode ``record`` with the topic's schema and send it (asynchronously; see :meth:`flush`)."""
        spec = topic(topic_name)
        if record.get("produce_time") is None:
            record = {**record, "produce_time": time.time_ns() // 1000}
        if key is None:
            key = record_key(spec, record)
        hdrs: Headers = list(headers or [])
        if not spans_recorded():
            inject_context(hdrs)
            self._produce(topic_name, self._serde.encode(spec.schema, record, topic_name), key, hdrs)
            return
        with produce_span(topic_name, key, hdrs):
            value = self._serde.encode(spec.schema, record, topic_name)
            self._produce(topic_name, value, key, hdrs)

    def send_raw(self, topic_name: str, value: bytes | None, key: bytes | None = None, headers: Headers | None = None) -> None:
        """Send bytes as they are (tests, replay of archived records, forwarding)."""
        hdrs: Headers = list(headers or [])
        if not spans_recorded():
            inject_context(hdrs)
            self._produce(topic_name, value, key, hdrs)
            return
        with produce_span(topic_name, key, hdrs):
            self._produce(topic_name, value, key, hdrs)

    def _produce(self, topic_name: str, value: bytes | None, key: bytes | None, headers: Headers) -> None:
        while True:
            try:
                self._producer.produce(topic_name, value=value, key=key, headers=headers, on_delivery=self._on_delivery)
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain, then retry
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every record to be acknowledged; raise :class:`ProduceError` on any failure."""
        left = self._producer.flush(timeout_s)
        if left:
            raise ProduceError(f"{left} records not delivered within {timeout_s:.0f} s")
        if self._errors:
            errs, self._errors = self._errors, []
            raise ProduceError(f"{len(errs)} records failed: {errs[0]}")
