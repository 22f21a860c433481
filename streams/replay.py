"""Read any window of any topic back from Kafka: the forensics tool ("what did the desk see and decide").

Time basis (shared with :mod:`streams.archive`): a record's time is the ``event_time`` of its
decoded value (microseconds, UTC); only when the value does not decode (DLQ-worthy bytes, a
tombstone, a foreign schema) is the Kafka timestamp used instead. Each :class:`RawRecord` says which
one it got (``time_source``), so a window is always "what happened between A and B", not "what
reached the broker between A and B".

Finding the start: the reader asks the broker for the first offset whose Kafka timestamp is at or
after ``start - clock_skew`` (``offsets_for_times``) and reads every partition from there up to the
end offsets taken when the read began. A record whose event time lies in the window but whose
Kafka timestamp is earlier than ``start - clock_skew`` (an event stamped in the future by more than
the skew) is not seen; late records (Kafka time after the window) are always seen, because the read
goes to the end. The embedded Tansu broker answers every timestamp lookup with the log start, so
on Tansu the read is a scan from the beginning; on Apache Kafka it seeks.

Pure parts (no I/O, no clock): :func:`parse_time`, :func:`select_window`, :func:`pacing_offsets`,
:func:`summary_fields`, :func:`jsonable`. The I/O parts (:func:`plan_reads`, :func:`read_records`,
:func:`republish`) take a librdkafka configuration and a serde.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Iterable, Iterator, Literal, Protocol, Sequence

from streams.catalog import CATALOG
from streams.serde import HEADER_LEN, MAGIC, DecodeError, Serde

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DEFAULT_CLOCK_SKEW_S = 3600.0
TimeSource = Literal["event", "kafka"]
Headers = tuple[tuple[str, bytes | None], ...]


class WindowError(ValueError):
    """A bad window argument (unparseable time, empty window, bad speed); the message is one line."""


class ReadError(Exception):
    """The broker could not be read (missing topic, stalled partition); the message is one line."""


# --------------------------------------------------------------------------------------- pure parts


def to_micros(value: Any) -> int | None:
    """Microseconds since the epoch from a decoded ``timestamp-micros`` (datetime or int); else None."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def parse_time(text: str, name: str = "time") -> int:
    """An ISO 8601 time (``2026-03-01T12:00:00Z``, ``2026-03-01 12:00``, ``2026-03-01``) as UTC micros.

    A time without an offset is taken as UTC (the desk runs on UTC). Raises :class:`WindowError`
    naming ``name`` when the text is not a time.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            dt = datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=timezone.utc)
        else:
            dt = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise WindowError(f"{name} {text!r} is not an ISO 8601 time; use e.g. 2026-03-01T12:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    micros = to_micros(dt)
    assert micros is not None
    return micros


def format_time(micros: int) -> str:
    """``2026-03-01T12:00:00.000123Z`` for UTC micros."""
    dt = datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc).replace(microsecond=micros % 1_000_000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_window(start_us: int, end_us: int) -> None:
    """Raise :class:`WindowError` unless ``start < end``."""
    if end_us <= start_us:
        raise WindowError(f"the window is empty: end {format_time(end_us)} is not after start {format_time(start_us)}")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka record exactly as stored, plus the time and market hbot reads from it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    timestamp_type: int          # confluent_kafka TIMESTAMP_* (0 none, 1 create time, 2 log append time)
    key: bytes | None
    value: bytes | None
    headers: Headers
    event_time_us: int           # event time of the decoded value, else the Kafka timestamp (see module doc)
    time_source: TimeSource
    market: str | None           # the decoded record's market, None when absent or undecodable
    writer: str                  # writer schema id: single-object fingerprint hex, registry:<id>, or raw
    decoded: dict[str, Any] | None = field(default=None, compare=False)


def select_window(records: Iterable[RawRecord], start_us: int, end_us: int, market: str | None = None,
                  order: Literal["event", "log"] = "event") -> list[RawRecord]:
    """The records whose time is in ``[start_us, end_us)`` (and of ``market``), in a stable order.

    ``order="event"`` sorts by (event time, partition, offset): the merged timeline of what the desk
    saw. ``order="log"`` keeps each partition's log order, partitions one after another: what one
    consumer of each partition saw. A record matches ``market`` by its decoded ``market`` field, or,
    when it has none, by its Kafka key (topics are keyed by market).
    """
    check_window(start_us, end_us)
    mkey = market.encode("utf-8") if market is not None else None
    out = [r for r in records
           if start_us <= r.event_time_us < end_us
           and (market is None or r.market == market or (r.market is None and r.key == mkey))]
    if order == "event":
        out.sort(key=lambda r: (r.event_time_us, r.partition, r.offset))
    elif order == "log":
        out.sort(key=lambda r: (r.partition, r.offset))
    else:
        raise WindowError(f"order must be 'event' or 'log', not {order!r}")
    return out


def pacing_offsets(event_times_us: Sequence[int], speed: float) -> list[float]:
    """Seconds after the first send at which each record is due when replaying at ``speed``.

    ``speed`` 1 is real time, 10 ten times faster, 0 as fast as possible. Offsets never go backwards
    (a record with an earlier event time than its predecessor is sent right after it).
    """
    if speed < 0:
        raise WindowError(f"speed must be >= 0 (0 = as fast as possible), not {speed}")
    if not event_times_us or speed == 0:
        return [0.0] * len(event_times_us)
    t0 = event_times_us[0]
    out: list[float] = []
    due = 0.0
    for t in event_times_us:
        due = max(due, (t - t0) / 1e6 / speed)
        out.append(due)
    return out


# A few fields per schema that say what a record is about; `--fields` overrides them.
SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "market_book": ("sequence", "mid", "spread_bps"),
    "market_trade": ("price", "size", "aggressor_side"),
    "market_candle": ("open", "high", "low", "close", "volume"),
    "market_funding": ("funding_rate", "mark_price", "is_settlement"),
    "signal": ("signal_name", "signal_value", "confidence", "producer"),
    "execution_intent": ("action", "target_base_pct", "regime", "reason"),
    "quote": ("decision_seq", "regime", "mid", "derisk_only"),
    "order": ("action", "side", "price", "size", "client_order_id", "reason"),
    "order_update": ("status", "side", "price", "filled_size", "reason"),
    "fill": ("side", "price", "size", "fee_quote", "liquidity"),
    "strategy_state": ("decision_seq", "regime", "mid", "net_edge", "base_pct", "risk_reasons", "guard_state"),
    "guard": ("previous_state", "state", "reasons"),
    "audit": ("actor", "action", "severity"),
    "reconciliation": ("drift_pct", "status"),
    "dlq": ("source_topic", "source_offset", "error_type", "reason"),
    "sequenced": ("source_topic", "source_offset", "source_event_id"),
}
_ENVELOPE_FIELDS = ("event_id", "event_time", "produce_time")


def summary_fields(topic: str, decoded: dict[str, Any] | None, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The selected fields of a decoded record (``fields``, else the schema's summary fields)."""
    if decoded is None:
        return {}
    if not fields:
        spec = CATALOG.get(topic)
        fields = SUMMARY_FIELDS.get(spec.schema, ()) if spec is not None else ()
        if not fields:
            fields = [k for k in decoded if k not in _ENVELOPE_FIELDS][:6]
    return {f: decoded.get(f) for f in fields}


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO strings, bytes as base64, enums and decimals as plain values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        micros = to_micros(value)
        return format_time(micros) if micros is not None else value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def key_text(key: bytes | None) -> str:
    """A Kafka key for display: UTF-8 when it is text, else hex."""
    if key is None:
        return ""
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + key.hex()


def writer_id(value: bytes | None) -> str:
    """Which writer schema produced ``value``: single-object fingerprint hex, ``registry:<id>``, or ``raw``."""
    if value is not None and len(value) >= HEADER_LEN and value[:2] == MAGIC:
        return value[2:HEADER_LEN].hex()
    if value is not None and len(value) >= 5 and value[0] == 0:
        return f"registry:{int.from_bytes(value[1:5], 'big')}"
    return "raw"


def classify(serde: Serde, topic: str, value: bytes | None, timestamp_ms: int
             ) -> tuple[int, TimeSource, str | None, dict[str, Any] | None]:
    """(time in micros, where it came from, market, decoded record or None) for one record value."""
    spec = CATALOG.get(topic)
    try:
        decoded = serde.decode(value, spec.schema if spec is not None else None, topic)
    except DecodeError:
        decoded = None
    if decoded is not None:
        micros = to_micros(decoded.get("event_time"))
        if micros is not None:
            market = decoded.get("market")
            return micros, "event", market if isinstance(market, str) else None, decoded
    return timestamp_ms * 1000, "kafka", None, decoded


# --------------------------------------------------------------------------------------- broker I/O


class ReadProgress(Protocol):
    """Progress callbacks of a read (the CLI draws a progress bar from them)."""

    def planned(self, topic: str, total: int) -> None: ...

    def advanced(self, topic: str, n: int) -> None: ...


class _NoProgress:
    def planned(self, topic: str, total: int) -> None:
        pass

    def advanced(self, topic: str, n: int) -> None:
        pass


@dataclass(frozen=True)
class ReadPlan:
    """Which offsets of one topic a read covers: per partition ``(partition, start, end)``, end exclusive."""

    topic: str
    exists: bool
    partitions: tuple[tuple[int, int, int], ...]
    partition_count: int

    @property
    def total(self) -> int:
        """Records to scan (upper bound: compacted or transactional logs have gaps)."""
        return sum(max(0, end - start) for _, start, end in self.partitions)


def _consumer_conf(conf: dict[str, Any]) -> dict[str, Any]:
    # assign() only, never subscribe or commit: the group id is a formality, unique so that no
    # broker-side group state is shared with anyone.
    return {**conf, "group.id": f"hbot-replay-{uuid.uuid4().hex[:12]}", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False, "fetch.wait.max.ms": 50}


def plan_reads(conf: dict[str, Any], topics: Sequence[str], since_us: int, timeout_s: float = 15.0) -> dict[str, ReadPlan]:
    """Start and end offsets of every partition of ``topics`` for a read of records at or after ``since_us``.

    End offsets are exact (Tansu's high watermark is the last batch's base offset + 1, so the tail is
    read once, as ``streams.admin`` does); start offsets come from ``offsets_for_times`` and are
    only a lower bound: records are still filtered by their own time.
    """
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    from streams.admin import _exact_ends

    admin = AdminClient(conf)
    md = admin.list_topics(timeout=timeout_s).topics
    tps = [TopicPartition(t, p) for t in topics if t in md for p in sorted(md[t].partitions)]
    lows: dict[tuple[str, int], int] = {}
    highs: dict[tuple[str, int], int] = {}
    if tps:
        for spec, store in ((OffsetSpec.earliest(), lows), (OffsetSpec.latest(), highs)):
            res = admin.list_offsets({tp: spec for tp in tps}, request_timeout=timeout_s)
            for tp, fut in res.items():
                store[(tp.topic, tp.partition)] = fut.result().offset
    consumer = Consumer(_consumer_conf(conf))
    try:
        ends = _exact_ends(consumer, {tp: (lows[tp], highs[tp]) for tp in lows})
        starts = dict(lows)
        ask = [TopicPartition(t, p, max(0, since_us // 1000)) for (t, p) in lows if ends[(t, p)] > lows[(t, p)]]
        if ask:
            for tp in consumer.offsets_for_times(ask, timeout=timeout_s):
                key = (tp.topic, tp.partition)
                # -1: no record at or after that time. Clamp: a lookup is a hint, never past the end.
                found = ends[key] if tp.offset < 0 else tp.offset
                starts[key] = min(max(found, lows[key]), ends[key])
    finally:
        consumer.close()
    plans = {}
    for t in topics:
        if t not in md:
            plans[t] = ReadPlan(t, False, (), 0)
            continue
        parts = tuple((p, starts[(t, p)], ends[(t, p)]) for p in sorted(md[t].partitions))
        plans[t] = ReadPlan(t, True, parts, len(parts))
    return plans


def read_records(conf: dict[str, Any], serde: Serde, plan: ReadPlan, start_us: int, end_us: int, *,
                 keep_decoded: bool = False, progress: ReadProgress | None = None,
                 stall_s: float = 20.0, batch: int = 5000) -> Iterator[RawRecord]:
    """Yield the records of ``plan`` whose time is in ``[start_us, end_us)``, partition by partition in log order.

    Constant memory: one partition is read at a time and records are yielded as they arrive.
    Records appended after the plan was made are not read, so two reads of the same plan agree.
    """
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    check_window(start_us, end_us)
    progress = progress or _NoProgress()
    if not plan.exists:
        return
    consumer = Consumer(_consumer_conf(conf))
    try:
        for partition, start, end in plan.partitions:
            if start >= end:
                continue
            consumer.assign([TopicPartition(plan.topic, partition, start)])
            next_offset = start
            last_data = time.monotonic()
            while next_offset < end:
                # Ask for no more than what is left: consume() then returns as soon as the partition is
                # read instead of waiting out its timeout for a full batch.
                msgs = consumer.consume(max(1, min(batch, end - next_offset)), timeout=0.5)
                if not msgs:
                    # Gaps (compaction, transaction markers) leave no record at end - 1: trust the position.
                    pos = consumer.position([TopicPartition(plan.topic, partition)])[0].offset
                    if pos >= end:
                        break
                    if time.monotonic() - last_data > stall_s:
                        raise ReadError(f"reading {plan.topic}[{partition}] stalled at offset {next_offset} of {end} "
                                        f"for {stall_s:.0f} s")
                    continue
                last_data = time.monotonic()
                scanned = 0
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise ReadError(f"reading {plan.topic}[{partition}]: {err.str()}")
                    off = m.offset()
                    if off >= end:
                        next_offset = end
                        break
                    next_offset = off + 1
                    scanned += 1
                    value = m.value()
                    ts_type, ts_ms = m.timestamp()
                    micros, source, market, decoded = classify(serde, plan.topic, value, ts_ms)
                    if start_us <= micros < end_us:
                        yield RawRecord(plan.topic, partition, off, ts_ms, ts_type, m.key(), value,
                                        tuple(m.headers() or ()), micros, source, market, writer_id(value),
                                        decoded if keep_decoded else None)
                progress.advanced(plan.topic, scanned)
            consumer.unassign()
    finally:
        consumer.close()


def read_window(conf: dict[str, Any], serde: Serde, topic: str, start_us: int, end_us: int, *, market: str | None = None,
                order: Literal["event", "log"] = "event", clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
                keep_decoded: bool = True, progress: ReadProgress | None = None) -> list[RawRecord]:
    """The records of ``topic`` in ``[start_us, end_us)`` (of ``market``), ordered (see :func:`select_window`).

    Raises :class:`ReadError` when the topic does not exist on the broker.
    """
    check_window(start_us, end_us)
    plan = plan_reads(conf, [topic], start_us - int(clock_skew_s * 1e6))[topic]
    if not plan.exists:
        raise ReadError(f"topic {topic!r} does not exist on the broker at {conf.get('bootstrap.servers')}")
    if progress is not None:
        progress.planned(topic, plan.total)
    records = read_records(conf, serde, plan, start_us, end_us, keep_decoded=keep_decoded, progress=progress)
    return select_window(records, start_us, end_us, market, order)


REPLAY_HEADER = "hbot-replay-source"


@dataclass(frozen=True)
class RepublishResult:
    """What :func:`republish` sent."""

    to_topic: str
    records: int
    seconds: float
    created_topic: bool


def republish(conf: dict[str, Any], records: Sequence[RawRecord], to_topic: str, speed: float = 0.0, *,
              keep_timestamps: bool = True, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic, partitions: int | None = None) -> RepublishResult:
    """Send ``records`` to ``to_topic`` in order, paced by their event times at ``speed`` (0 = at once).

    Keys, values, headers and (``keep_timestamps``) Kafka timestamps are kept, so the same window
    read from the copy gives the same records; each record also gets a ``hbot-replay-source`` header
    ``topic/partition/offset/kafka-timestamp-ms`` naming its origin. With ``keep_timestamps=False``
    the broker stamps the copy "now" instead: use that when the target's time-based retention
    would otherwise expire an old window at once. The target topic is created when missing
    (``partitions``, default the source's); a record goes to its source partition when the target
    has it, else to the partition of its key.
    """
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    due = pacing_offsets([r.event_time_us for r in records], speed)
    admin = AdminClient(conf)
    md = admin.list_topics(timeout=10).topics
    created = False
    if to_topic not in md:
        n = partitions or (max((r.partition for r in records), default=0) + 1)
        try:
            admin.create_topics([NewTopic(to_topic, num_partitions=n, replication_factor=-1)])[to_topic].result()
            created = True
        except KafkaException as exc:
            if not (exc.args and exc.args[0].name() == "TOPIC_ALREADY_EXISTS"):
                raise ReadError(f"cannot create topic {to_topic!r}: {exc}") from None
        target_parts = n
    else:
        target_parts = len(md[to_topic].partitions)
    errors: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    producer = Producer({**conf, "enable.idempotence": True, "linger.ms": 5, "queue.buffering.max.messages": 1_000_000})
    t0 = clock()
    for rec, at in zip(records, due):
        wait = at - (clock() - t0)
        if wait > 0:
            producer.poll(0)
            sleep(wait)
        headers = [*rec.headers, (REPLAY_HEADER, f"{rec.topic}/{rec.partition}/{rec.offset}/{rec.timestamp_ms}".encode())]
        kwargs: dict[str, Any] = {"value": rec.value, "key": rec.key, "headers": headers, "on_delivery": on_delivery}
        if keep_timestamps and rec.timestamp_type != 0:
            kwargs["timestamp"] = rec.timestamp_ms
        if rec.partition < target_parts:
            kwargs["partition"] = rec.partition
        while True:
            try:
                producer.produce(to_topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(60)
    if left or errors:
        raise ReadError(f"republishing to {to_topic}: {left} undelivered, {len(errors)} failed"
                        + (f" ({errors[0]})" if errors else ""))
    return RepublishResult(to_topic, len(records), clock() - t0, created)
