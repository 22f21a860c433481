"""The sink loop: every catalog topic into its own ClickHouse table, batched and idempotent.

Like a Quix Streams sink: records are buffered per table, a flush writes each table's batch, and
offsets are committed only after the insert succeeded. Idempotence has two layers:
- on partition assignment the sink reads ``max(_offset)`` per partition from the table and skips
  records at or below it (a crash between insert and commit re-delivers them). That watermark is
  checked against the broker first: if the record there is missing or another event, the topic was
  recreated (the embedded broker keeps its log in memory only) and the watermark is dropped, or it
  would hide the new log's records;
- tables are ReplacingMergeTree on ``event_id``, so even a record produced twice collapses.
ClickHouse unavailable: the batch is kept, consumption pauses, inserts are retried with backoff and
the log says so; nothing is lost and no offset moves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Container, Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from sinks.clickhouse.ddl import row_converter
from sinks.clickhouse.migrations import migrate
from streams.catalog import CATALOG, DLQ_TOPIC, SINK_TOPICS, TopicSpec
from streams.dlq import DeadLetterQueue
from streams.metrics import desk_metrics
from streams.serde import DecodeError, Serde
from streams import tracing
from streams.tracing import consume_span

log = logging.getLogger(__name__)

SINK_GROUP = "hbot-sink"


def _spans_recorded() -> bool:
    """Whether a consume span would be recorded: a real tracer is installed, not OpenTelemetry's no-op."""
    from opentelemetry import trace

    return not isinstance(tracing.tracer(), (trace.ProxyTracer, trace.NoOpTracer))


@dataclass
class SinkStats:
    """Counters a sink exposes (rows written, dead letters, retries, batches)."""

    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped_duplicates: int = 0
    dead_letters: int = 0
    insert_retries: int = 0
    batches: int = 0


def foreign_watermarks(kafka_conf: dict[str, Any], last: dict[tuple[str, int], tuple[int, str]], serde: Serde,
                       timeout_s: float = 5.0) -> set[tuple[str, int]]:
    """Partitions whose table watermark does not belong to the broker's log.

    ``last`` maps (topic, partition) to the table's highest offset there and that row's event id. The
    broker's record at that offset must exist and carry the same event id; if the offset is past the
    log's end or holds another event, the topic was recreated (the embedded broker keeps its log in
    memory only) and skipping up to that offset would drop the new log's records. A partition the
    broker does not answer for in time keeps its watermark (logged).
    """
    if not last:
        return set()
    c = Consumer({**kafka_conf, "group.id": "hbot-sink-watermark-check", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "error"})
    pending = dict(last)
    foreign: set[tuple[str, int]] = set()
    try:
        c.assign([TopicPartition(t, p, off) for (t, p), (off, _) in last.items()])
        deadline = time.monotonic() + timeout_s  # wall-clock ok: an I/O timeout, not a decision
        while pending and time.monotonic() < deadline:  # wall-clock ok: the same I/O timeout
            m = c.poll(0.2)
            if m is None or (m.topic(), m.partition()) not in pending:
                continue
            tp = (m.topic(), m.partition())
            want_offset, want_id = pending[tp]
            err = m.error()
            if err is not None:
                if err.code() in (KafkaError._PARTITION_EOF, KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET):
                    foreign.add(tp)
                    pending.pop(tp)
                continue
            try:
                same = m.offset() == want_offset and serde.decode(m.value(), CATALOG[tp[0]].schema, tp[0])["event_id"] == want_id
            except DecodeError:
                same = False
            if not same:
                foreign.add(tp)
            pending.pop(tp)
        # Some brokers (Tansu) answer a fetch past the log's end with nothing rather than an error:
        # a partition whose log ends at or before the table's offset holds no such record.
        for tp in list(pending):
            try:
                end = c.get_watermark_offsets(TopicPartition(*tp), timeout=5)[1]
            except Exception:  # noqa: BLE001 - no answer: the table's watermark stays
                continue
            if 0 <= end <= pending[tp][0]:
                foreign.add(tp)
                pending.pop(tp)
    finally:
        c.close()
    for t, p in pending:
        log.warning("could not check the table's offsets of %s[%d] against the broker; trusting them", t, p)
    for t, p in sorted(foreign):
        log.warning("ClickHouse holds %s[%d] up to offset %d, which is not this broker's log (the topic was recreated): "
                    "writing its records again from the group's offset", t, p, last[(t, p)][0])
    return foreign


class TableWriter:
    """Batched inserts for the catalog tables, skipping offsets a table already holds."""

    def __init__(self, client: Any, specs: Iterable[TopicSpec] = tuple(CATALOG[t] for t in SINK_TOPICS)) -> None:
        self._client = client
        self._specs = {s.name: s for s in specs}
        self._conv = {name: row_converter(s.schema) for name, s in self._specs.items()}
        self._written: dict[tuple[str, int], int] = {}

    def last_rows(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, str]]:
        """The highest offset each (topic, partition) has in its table, with that row's event id."""
        found: dict[tuple[str, int], tuple[int, str]] = {}
        for t, parts in self._by_topic(partitions).items():
            rows = self._client.query(
                f"SELECT _partition, max(_offset), argMax(event_id, _offset) FROM {self._specs[t].table} "
                "WHERE _topic = {t:String} GROUP BY _partition", parameters={"t": t}).result_rows
            found.update({(t, int(p)): (int(o), str(e)) for p, o, e in rows if int(p) in parts})
        return found

    def load_watermarks(self, partitions: Iterable[tuple[str, int]], foreign: Container[tuple[str, int]] = frozenset(),
                        last: dict[tuple[str, int], tuple[int, str]] | None = None) -> None:
        """Read ``max(_offset)`` for each (topic, partition) from its table; ``foreign`` ones skip nothing.

        ``last`` is a :meth:`last_rows` answer already read for these partitions (saves the query).
        """
        partitions = list(partitions)
        last = self.last_rows(partitions) if last is None else last
        for tp in partitions:
            if tp[0] in self._specs:
                self._written[tp] = -1 if tp in foreign else last.get(tp, (-1, ""))[0]

    def _by_topic(self, partitions: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
        by_topic: dict[str, list[int]] = defaultdict(list)
        for t, p in partitions:
            if t in self._specs:
                by_topic[t].append(p)
        return by_topic

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop watermarks of partitions this sink no longer owns."""
        for tp in partitions:
            self._written.pop(tp, None)

    def write(self, topic: str, records: list[tuple[int, int, dict[str, Any]]], stats: SinkStats) -> int:
        """Insert ``(partition, offset, record)`` for one topic; returns rows written."""
        names, convert = self._conv[topic]
        rows = []
        high: dict[int, int] = {}
        for partition, offset, rec in records:
            if offset <= self._written.get((topic, partition), -1):
                stats.skipped_duplicates += 1
                continue
            rows.append((*convert(rec), topic, partition, offset))
            high[partition] = max(high.get(partition, -1), offset)
        if rows:
            self._client.insert(self._specs[topic].table, rows, column_names=[*names, "_topic", "_partition", "_offset"])
            desk_metrics().sink_rows(self._specs[topic].table, len(rows))
        for p, o in high.items():
            self._written[(topic, p)] = o
        stats.rows[topic] += len(rows)
        return len(rows)


class ClickHouseSink:
    """Consumes every catalog topic and writes it to ClickHouse; run it with :meth:`run`."""

    def __init__(self, kafka_conf: dict[str, Any], client_factory: Callable[[], Any], serde: Serde,
                 dlq: DeadLetterQueue, batch_size: int = 20_000, flush_interval_s: float = 0.5,
                 topics: Iterable[str] | None = None, group: str = SINK_GROUP,
                 max_backoff_s: float = 30.0) -> None:
        self._conf = {**kafka_conf, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "fetch.wait.max.ms": 100,
                      "partition.assignment.strategy": "cooperative-sticky"}
        self._group = group
        self._client_factory = client_factory
        self._serde = serde
        self._dlq = dlq
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._topics = list(topics) if topics is not None else list(SINK_TOPICS)
        self._max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self.ready = threading.Event()
        self._client: Any = None
        self._writer: TableWriter | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._foreign: set[tuple[str, int]] = set()
        self._kafka_conf = kafka_conf
        self._consumer: Consumer | None = None
        self._committed: dict[tuple[str, int], int] = {}

    # -- ClickHouse, with retry -------------------------------------------------
    def _with_retry(self, what: str, fn: Callable[[], Any], stop: threading.Event, table: str | None = None) -> Any:
        delay = 0.5
        while True:
            try:
                if self._writer is None:
                    self._client = self._client_factory()
                    migrate(self._client)
                    writer = TableWriter(self._client)
                    # After a reconnect, what the table holds is the truth (a failed insert may
                    # have landed server-side): reload every owned partition's watermark.
                    writer.load_watermarks(self._assigned, self._foreign)
                    self._writer = writer
                return fn()
            except Exception as exc:  # any driver/engine error: keep the batch, retry
                self.stats.insert_retries += 1
                if table is not None:  # an insert attempt that failed, reconnect included
                    desk_metrics().sink_insert_failure(table)
                self._writer = None
                self._report_lag()  # the lag grows while ClickHouse is down: that is when it must be seen
                log.warning("ClickHouse unavailable during %s (%s); retrying in %.1f s — nothing is lost, offsets are not committed",
                            what, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__, delay)
                if stop.wait(delay):
                    raise
                delay = min(delay * 2, self._max_backoff_s)

    def run(self, stop: threading.Event) -> None:
        """Consume and write until ``stop`` is set; flushes and commits what it holds before returning."""
        consumer = self._consumer = Consumer(self._conf)
        assigned = self._assigned

        def on_assign(c: Consumer, parts: list[TopicPartition]) -> None:
            tps = [(p.topic, p.partition) for p in parts]
            assigned.update(tps)
            try:  # the lag's starting points; without them the lag shows from the first commit on
                self._committed.update({(p.topic, p.partition): max(p.offset, 0) for p in c.committed(parts, timeout=10)})
            except KafkaException as exc:
                log.warning("sink: committed offsets not readable at assignment (%s); lag is reported from the first commit", exc)
            last = self._with_retry("loading offsets", lambda: self._writer.last_rows(tps), stop)  # type: ignore[union-attr]
            self._foreign.update(foreign_watermarks(self._kafka_conf, last, self._serde))
            self._writer.load_watermarks(tps, self._foreign, last)  # type: ignore[union-attr]
            self.ready.set()

        def on_revoke(c: Consumer, parts: list[TopicPartition]) -> None:
            self._flush(consumer, buffer, pending, stop)
            tps = [(p.topic, p.partition) for p in parts]
            assigned.difference_update(tps)
            self._foreign.difference_update(tps)
            for tp in tps:
                self._committed.pop(tp, None)
            if self._writer is not None:
                self._writer.forget(tps)

        buffer: dict[str, list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)
        pending: dict[tuple[str, int], int] = {}
        desk_metrics().declare_tables(CATALOG[t].table for t in self._topics if t in CATALOG)
        desk_metrics().declare_dlq((t for t in self._topics if t != DLQ_TOPIC), self._dlq.processor)
        self._with_retry("connecting", lambda: None, stop)
        consumer.subscribe(self._topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
        log.info("sink joining consumer group %s for %d topics (the first join can take a few seconds)", self._group, len(self._topics))
        last_flush = time.monotonic()  # wall-clock ok: batching timer of an I/O adapter, not a core
        held = 0
        try:
            while not stop.is_set():
                msgs = consumer.consume(min(self._batch_size, 10_000), timeout=0.1)
                traced = _spans_recorded()  # per batch: tracing may be set up after the sink started
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() != KafkaError._PARTITION_EOF:
                            log.warning("consumer error: %s", err)
                        continue
                    self._accept(m, buffer, traced)
                    pending[(m.topic(), m.partition())] = m.offset() + 1
                    held += 1
                if held >= self._batch_size or (held and time.monotonic() - last_flush >= self._flush_interval_s):  # wall-clock ok
                    self._flush(consumer, buffer, pending, stop)
                    held = 0
                    last_flush = time.monotonic()  # wall-clock ok: batching timer of an I/O adapter, not a core
        finally:
            try:
                if held:
                    self._flush(consumer, buffer, pending, stop)
            finally:
                self._consumer = None
                consumer.close()

    def _accept(self, m: Any, buffer: dict[str, list[tuple[int, int, dict[str, Any]]]], traced: bool = True) -> None:
        topic = m.topic()
        spec = CATALOG.get(topic)
        if not traced:
            # No tracer installed: a per-record span would record nothing and costs about as much as
            # the Avro decode. Its one effect, carrying the producer's trace context into what is
            # produced inside it, only matters for a dead letter, which still gets the span.
            if spec is None:
                return
            try:
                rec = self._serde.decode(m.value(), spec.schema, topic)
            except DecodeError as exc:
                with consume_span(topic, m.partition(), m.offset(), m.headers(), self._group):
                    self._dead_letter(m, topic, exc)
                return
            buffer[topic].append((m.partition(), m.offset(), rec))
            return
        with consume_span(topic, m.partition(), m.offset(), m.headers(), self._group):
            if spec is None:
                return
            try:
                rec = self._serde.decode(m.value(), spec.schema, topic)
            except DecodeError as exc:
                self._dead_letter(m, topic, exc)
                return
            buffer[topic].append((m.partition(), m.offset(), rec))

    def _dead_letter(self, m: Any, topic: str, exc: DecodeError) -> None:
        self.stats.dead_letters += 1
        if topic == DLQ_TOPIC:
            log.error("undecodable record on the DLQ itself at %s[%d]@%d: %s (left in place)", topic, m.partition(), m.offset(), exc)
            return
        self._dlq.send(topic, m.partition(), m.offset(), m.key(), m.value(), exc.kind, exc.reason, m.headers())

    def _flush(self, consumer: Consumer, buffer: dict[str, list[tuple[int, int, dict[str, Any]]]],
               pending: dict[tuple[str, int], int], stop: threading.Event) -> None:
        if not pending:
            return
        for topic in list(buffer):
            records = buffer[topic]
            if records:
                self._with_retry(f"insert into {CATALOG[topic].table}",
                                 lambda: self._writer.write(topic, records, self.stats), stop, CATALOG[topic].table)  # type: ignore[union-attr]
        buffer.clear()
        # Dead letters must be durable before the offsets of their sources move on.
        self._dlq.flush()
        offsets = [TopicPartition(t, p, o) for (t, p), o in pending.items()]
        consumer.commit(offsets=offsets, asynchronous=False)
        self._committed.update(pending)
        pending.clear()
        self.stats.batches += 1
        self._report_lag()

    def _report_lag(self) -> None:
        """``hbot_consumer_lag{group, topic}``: records on the broker not yet committed, i.e. not yet in ClickHouse.

        High watermarks come from the consumer's last fetch responses (no broker round trip).
        """
        if self._consumer is None:
            return
        lags: dict[str, int] = {}
        for (topic, partition), done in list(self._committed.items()):
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if high >= 0:
                lags[topic] = lags.get(topic, 0) + max(0, high - done)
        for topic, lag in lags.items():
            desk_metrics().consumer_lag(self._group, topic, lag)
