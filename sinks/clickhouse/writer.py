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

Throughput: a batch is decoded at its flush, a whole topic at once (:mod:`sinks.clickhouse.columnar`),
into columns inserted with ``column_oriented=True``; the insert runs in a worker thread while the
next batch is consumed and decoded, and its offsets are committed, in batch order, only after it
returned (:mod:`sinks.clickhouse.pipeline`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Container, Iterable

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from sinks.clickhouse.columnar import ColumnDecoder, Columns
from sinks.clickhouse.ddl import columns_for_schema
from sinks.clickhouse.decoding import SinkDecoder
from sinks.clickhouse.pipeline import InsertPipeline, Offsets
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
        self._names = {name: [c.name for c in columns_for_schema(s.schema)] for name, s in self._specs.items()}
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

    def write(self, topic: str, cols: Columns, stats: SinkStats) -> int:
        """Insert one topic's rows, minus offsets its table already holds; returns rows written."""
        if not len(cols):
            return 0
        partitions, index = np.unique(cols.partitions, return_inverse=True)
        floor = np.array([self._written.get((topic, int(p)), -1) for p in partitions], dtype=np.int64)
        fresh = cols.offsets > floor[index]
        if not fresh.all():
            stats.skipped_duplicates += int((~fresh).sum())
            cols = cols.take(fresh)
            if not len(cols):
                return 0
        table = self._specs[topic].table
        self._client.insert(table, [*cols.data, [topic] * len(cols), cols.partitions, cols.offsets],
                            column_names=[*self._names[topic], "_topic", "_partition", "_offset"], column_oriented=True)
        desk_metrics().sink_rows(table, len(cols))
        for p in np.unique(cols.partitions).tolist():
            self._written[(topic, p)] = int(cols.offsets[cols.partitions == p].max())
        stats.rows[topic] += len(cols)
        return len(cols)


@dataclass
class _Held:
    """What the sink holds between flushes: records by topic, and the offsets to commit after them."""

    messages: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))  # decoded at the flush
    records: dict[str, list[tuple[int, int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    offsets: Offsets = field(default_factory=dict)
    count: int = 0

    def clear(self) -> None:
        """Forget everything held (it was handed on)."""
        self.messages.clear()
        self.records.clear()
        self.offsets.clear()
        self.count = 0


class ClickHouseSink:
    """Consumes every catalog topic and writes it to ClickHouse; run it with :meth:`run`."""

    def __init__(self, kafka_conf: dict[str, Any], client_factory: Callable[[], Any], serde: Serde,
                 dlq: DeadLetterQueue, batch_size: int = 20_000, flush_interval_s: float = 0.5,
                 topics: Iterable[str] | None = None, group: str = SINK_GROUP,
                 max_backoff_s: float = 30.0) -> None:
        # fetch.queue.backoff.ms: once librdkafka holds queued.min.messages (100k) it pauses fetching
        # for this long (default 1 s); the sink drains 100k records in well under that, then stalled.
        # max.partition.fetch.bytes 8 MiB (default 1): fewer fetch round trips per batch (+3-5 % rows/s).
        self._conf = {**kafka_conf, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "fetch.wait.max.ms": 100,
                      "fetch.queue.backoff.ms": 20, "max.partition.fetch.bytes": 8 << 20, "partition.assignment.strategy": "cooperative-sticky"}
        self._group = group
        self._client_factory = client_factory
        self._serde = serde
        self._dlq = dlq
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._topics = list(topics) if topics is not None else list(SINK_TOPICS)
        self._decoder = SinkDecoder(serde, (CATALOG[t].schema for t in self._topics if t in CATALOG))
        self._column_decoders: dict[str, ColumnDecoder] = {}
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
        self._consumer_thread: threading.Thread | None = None

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
        self._consumer_thread = threading.current_thread()
        # A long insert (ClickHouse down) blocks this thread at the next flush: report the lag meanwhile.
        pipeline = InsertPipeline(lambda offsets: self._commit(consumer, offsets), self._report_lag)
        held = _Held()

        def on_assign(c: Consumer, parts: list[TopicPartition]) -> None:
            pipeline.drain()  # the ClickHouse client is used by one thread at a time
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
            self._flush(pipeline, held, stop, wait=True)
            tps = [(p.topic, p.partition) for p in parts]
            assigned.difference_update(tps)
            self._foreign.difference_update(tps)
            for tp in tps:
                self._committed.pop(tp, None)
            if self._writer is not None:
                self._writer.forget(tps)

        desk_metrics().declare_tables(CATALOG[t].table for t in self._topics if t in CATALOG)
        desk_metrics().declare_dlq((t for t in self._topics if t != DLQ_TOPIC), self._dlq.processor)
        self._with_retry("connecting", lambda: None, stop)
        consumer.subscribe(self._topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
        log.info("sink joining consumer group %s for %d topics (the first join can take a few seconds)", self._group, len(self._topics))
        last_flush = time.monotonic()  # wall-clock ok: batching timer of an I/O adapter, not a core
        try:
            while not stop.is_set():
                msgs = consumer.consume(self._batch_size, timeout=0.1)
                self._accept_all(msgs, held, _spans_recorded())  # per batch: tracing may be set up after the sink started
                # An empty poll (0.1 s without a record) means the sink has caught up: holding the
                # batch longer would only delay it. Under a trickle, the interval bounds the delay.
                if held.count and (held.count >= self._batch_size or not msgs
                                   or time.monotonic() - last_flush >= self._flush_interval_s):  # wall-clock ok
                    self._flush(pipeline, held, stop)
                    last_flush = time.monotonic()  # wall-clock ok: batching timer of an I/O adapter, not a core
                else:
                    pipeline.drain(block=False)  # commit the batch in flight as soon as it is in, not at the next flush
        finally:
            try:
                self._flush(pipeline, held, stop, wait=True)
            finally:
                pipeline.close()
                self._consumer = None
                consumer.close()

    def _accept_all(self, msgs: list[Any], held: _Held, traced: bool) -> None:
        """Take ``msgs`` into ``held``; with a tracer, each is decoded inside its consume span right away."""
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            if topic in CATALOG:
                if traced:
                    with consume_span(topic, partition, offset, m.headers(), self._group):
                        self._accept_traced(m, topic, held)
                else:
                    # No tracer installed: a per-record span would record nothing and cost about as much as
                    # the decode. The batch is decoded at the flush; a dead letter still gets its span.
                    held.messages[topic].append(m)
            held.offsets[(topic, partition)] = offset + 1
            held.count += 1

    def _accept_traced(self, m: Any, topic: str, held: _Held) -> None:
        try:
            rec = self._decoder.decode(m.value(), CATALOG[topic].schema, topic)
        except DecodeError as exc:
            self._dead_letter(m, topic, exc)
            return
        held.records[topic].append((m.partition(), m.offset(), rec))

    def _dead_letter(self, m: Any, topic: str, exc: DecodeError) -> None:
        self.stats.dead_letters += 1
        if topic == DLQ_TOPIC:
            log.error("undecodable record on the DLQ itself at %s[%d]@%d: %s (left in place)", topic, m.partition(), m.offset(), exc)
            return
        self._dlq.send(topic, m.partition(), m.offset(), m.key(), m.value(), exc.kind, exc.reason, m.headers())

    def _dead_letter_in_span(self, m: Any, topic: str, exc: DecodeError) -> None:
        # The span carries the producer's trace context into the dead letter.
        with consume_span(topic, m.partition(), m.offset(), m.headers(), self._group):
            self._dead_letter(m, topic, exc)

    def _column_decoder(self, topic: str) -> ColumnDecoder:
        found = self._column_decoders.get(topic)
        if found is None:
            found = self._column_decoders[topic] = ColumnDecoder(CATALOG[topic].schema, self._decoder)
        return found

    def _columns(self, held: _Held) -> dict[str, Columns]:
        """Each topic's held records as columns; what does not decode is dead-lettered here."""
        out: dict[str, Columns] = {}
        for topic in {*held.messages, *held.records}:
            decoder = self._column_decoder(topic)
            dead = (lambda m, exc, t=topic: self._dead_letter_in_span(m, t, exc))
            parts = [decoder.decode(topic, held.messages.get(topic, []), dead)]
            if held.records.get(topic):
                partitions, offsets, records = zip(*held.records[topic])
                parts.append(decoder.from_records(partitions, offsets, records))
            cols = Columns.join(parts)
            if len(cols):
                out[topic] = cols
        return out

    def _flush(self, pipeline: InsertPipeline, held: _Held, stop: threading.Event, wait: bool = False) -> None:
        """Decode what ``held`` holds and hand it to the insert pipeline; ``wait``: also until it is committed."""
        if held.offsets:
            batch = self._columns(held)
            offsets = dict(held.offsets)
            held.clear()
            pipeline.submit(lambda: self._insert(batch, stop), offsets)
        if wait:
            pipeline.drain()

    def _insert(self, batch: dict[str, Columns], stop: threading.Event) -> None:
        # Runs in the pipeline's thread, the only one using the ClickHouse client meanwhile.
        for topic, cols in batch.items():
            table = CATALOG[topic].table
            self._with_retry(f"insert into {table}",
                             lambda t=topic, c=cols: self._writer.write(t, c, self.stats), stop, table)  # type: ignore[union-attr]

    def _commit(self, consumer: Consumer, offsets: Offsets) -> None:
        # Dead letters must be durable before the offsets of their sources move on.
        self._dlq.flush()
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
        self._committed.update(offsets)
        self.stats.batches += 1
        self._report_lag()

    def _report_lag(self) -> None:
        """``hbot_consumer_lag{group, topic}``: records on the broker not yet committed, i.e. not yet in ClickHouse.

        High watermarks come from the consumer's last fetch responses (no broker round trip). Only the
        consumer's own thread asks it: a call from the insert thread while ``consume()`` runs can hang.
        """
        if self._consumer is None or threading.current_thread() is not self._consumer_thread:
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
