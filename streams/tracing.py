"""OpenTelemetry: one span per produce and per consume, W3C trace context in Kafka headers.

Span names and attributes follow the messaging semantic conventions (``send <topic>`` /
``process <topic>``, ``messaging.system=kafka``, ``messaging.destination.name``, ...). Exporter:
a JSON-lines file under the hbot home by default, the console on request, OTLP over HTTP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind

TRACER_NAME = "hbot"
Headers = list[tuple[str, bytes]]


class JsonLinesSpanExporter(SpanExporter):
    """Writes finished spans as JSON lines (one object per span) to a file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for s in spans:
            self._fh.write(s.to_json(indent=None) + "\n")
        self._fh.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._fh.close()


_configured = False


def setup_tracing(service: str, exporter: str, home: Path, sample_ratio: float = 1.0) -> TracerProvider | None:
    """Install the global tracer provider once per process; returns it (None when disabled)."""
    global _configured  # process-wide by OpenTelemetry's design; set once at start-up
    if _configured:
        return None
    _configured = True
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        exporter = "otlp"
    if exporter == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}),
                              sampler=ParentBased(TraceIdRatioBased(sample_ratio)))
    exp: SpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exp = OTLPSpanExporter()
    elif exporter == "console":
        exp = ConsoleSpanExporter()
    else:
        exp = JsonLinesSpanExporter(home / "traces" / f"{service}.jsonl")
    provider.add_span_processor(BatchSpanProcessor(exp))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    """The hbot tracer (a no-op one until :func:`setup_tracing` ran)."""
    return trace.get_tracer(TRACER_NAME)


class _HeaderSetter:
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier.append((key, value.encode("ascii")))


class _HeaderGetter:
    def get(self, carrier: Sequence[tuple[str, bytes]] | None, key: str) -> list[str] | None:
        if not carrier:
            return None
        vals = [v.decode("ascii", "replace") for k, v in carrier if k == key and v is not None]
        return vals or None

    def keys(self, carrier: Sequence[tuple[str, bytes]] | None) -> list[str]:
        return [k for k, _ in carrier or ()]


_SETTER, _GETTER = _HeaderSetter(), _HeaderGetter()


def spans_recorded() -> bool:
    """Whether spans are recorded: :func:`tracer` is a real (SDK) tracer, not OpenTelemetry's proxy or no-op one."""
    return not isinstance(tracer(), (trace.ProxyTracer, trace.NoOpTracer))


def inject_context(headers: Headers) -> None:
    """Put the current trace context (if any) into ``headers``: what a no-op span around a send would inject.

    Without an SDK, :func:`produce_span`'s span records nothing and carries its parent's span context,
    so injecting the current context directly writes the same headers for a fraction of the cost.
    """
    if context.get_current():  # an empty context (no span, no baggage) injects nothing
        propagate.inject(headers, setter=_SETTER)


@contextmanager
def produce_span(topic: str, key: bytes | None, headers: Headers) -> Iterator[trace.Span]:
    """A PRODUCER span around one send; injects W3C trace context into ``headers``."""
    with tracer().start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "send", "messaging.operation.name": "send",
        "messaging.destination.name": topic,
        **({"messaging.kafka.message.key": key.decode("utf-8", "replace")} if key else {}),
    }) as span:
        propagate.inject(headers, setter=_SETTER)
        yield span


@contextmanager
def consume_span(topic: str, partition: int, offset: int, headers: Sequence[tuple[str, bytes]] | None,
                 group: str | None = None) -> Iterator[trace.Span]:
    """A CONSUMER span for processing one record, continuing the producer's trace from its headers."""
    ctx = propagate.extract(headers, getter=_GETTER)
    token = context.attach(ctx)
    try:
        attrs: dict[str, Any] = {
            "messaging.system": "kafka", "messaging.operation.type": "process", "messaging.operation.name": "process",
            "messaging.destination.name": topic, "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
        }
        if group:
            attrs["messaging.consumer.group.name"] = group
        with tracer().start_as_current_span(f"process {topic}", kind=SpanKind.CONSUMER, attributes=attrs) as span:
            yield span
    finally:
        context.detach(token)


def traceparent(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    """The W3C ``traceparent`` header value of a record, if any."""
    vals = _GETTER.get(headers, "traceparent")
    return vals[0] if vals else None


def read_spans(path: Path) -> list[dict[str, Any]]:
    """Spans written by :class:`JsonLinesSpanExporter` (for tests and ``hbot`` diagnostics)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
