"""Daily archive of every topic to disk, restore to a (fresh) broker, and verification against the manifest.

Layout: ``HOME/archive/YYYY-MM-DD/<topic>.avro`` plus ``manifest.json``.

Format: one Avro object container file per topic (fastavro writer, deflate codec) whose records
are an envelope (:data:`ENVELOPE_SCHEMA`): partition, offset, Kafka timestamp and type, key,
value **bytes exactly as on the topic**, headers, and the time hbot filed the record under. The
value is kept as bytes, not re-encoded, so DLQ records, undecodable input and records of old
writer schemas round-trip byte for byte in the same file: no sidecar is needed, and a restore puts
back exactly what was there. Any Avro tool reads the files; ``streams.serde`` decodes the values.

Which day a record belongs to: its event time (the decoded value's ``event_time``), or, when the
value does not decode, its Kafka timestamp; see :mod:`streams.replay` (same reader, same rule) for
how the start offset is found and what ``clock_skew_s`` bounds. Archiving COPIES: nothing is
deleted or moved on the broker.

Determinism: records are written in (partition, offset) order, the Avro sync marker is derived from
(date, topic), and the manifest holds no wall-clock time or host, so archiving the same data
again gives byte-identical files. An existing archive is never silently replaced by different
content (retention may have removed records since): that needs ``overwrite=True``.

Manifest per topic: ``count``; ``values_sha256``, the SHA-256 over the values in archive order,
each as an 8-byte big-endian signed length (-1 for a null value) followed by its bytes;
``records_sha256``, the same over partition, Kafka timestamp (type and ms), key, headers and
value, which is what a restore must preserve; first/last offset per partition; min/max time;
how many times came from the event vs the Kafka timestamp; the writer schema fingerprints seen;
and the file's own SHA-256. The top level lists the current fingerprint of every hbot schema.

At UTC rollover a worker calls :func:`archive_day` for :func:`previous_utc_date` of the current
time (e.g. a Faust ``@app.crontab("5 0 * * *", timezone=timezone.utc)`` timer in the sink role);
``hbot archive --date`` is the same function from the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import fastavro

import schemas as schema_files
from streams.catalog import CATALOG
from streams.replay import (DEFAULT_CLOCK_SKEW_S, RawRecord, ReadProgress, _NoProgress, format_time, plan_reads,
                            read_records)
from streams.serde import Serde, fingerprint

ARCHIVE_FORMAT = "hbot-archive/1"
MANIFEST = "manifest.json"
DAY_US = 86_400_000_000
TIME_BASIS = ("event_time of the decoded value (UTC microseconds); the Kafka timestamp when the value does not decode")

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "record", "name": "ArchivedRecord", "namespace": "hbot.archive.v1",
    "doc": "One Kafka record as it was on the topic; value and key are the original bytes.",
    "fields": [
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp_ms", "type": "long", "doc": "Kafka timestamp (ms)."},
        {"name": "timestamp_type", "type": "int", "doc": "0 none, 1 create time, 2 log append time."},
        {"name": "event_time_us", "type": "long", "doc": "The time the record is filed under (see time_source)."},
        {"name": "time_source", "type": {"type": "enum", "name": "TimeSource", "symbols": ["event", "kafka"]}},
        {"name": "key", "type": ["null", "bytes"], "default": None},
        {"name": "value", "type": ["null", "bytes"], "default": None},
        {"name": "headers", "type": {"type": "array", "items": {
            "type": "record", "name": "Header",
            "fields": [{"name": "key", "type": "string"}, {"name": "value", "type": ["null", "bytes"], "default": None}]}}},
    ],
}
_PARSED_ENVELOPE = fastavro.parse_schema(ENVELOPE_SCHEMA)


class ArchiveError(Exception):
    """An archive or restore that cannot go on; the message is one line and says what to do."""


# --------------------------------------------------------------------------------------- pure parts


def parse_date(text: str, today: date | None = None) -> date:
    """``YYYY-MM-DD`` as a date, or ``yesterday`` / ``today`` relative to ``today`` (a UTC day, given by
    the caller: the scheduled archive runs ``--date yesterday`` after the UTC rollover); :class:`ArchiveError` otherwise."""
    word = text.strip().lower()
    if word in ("yesterday", "today") and today is not None:
        return today - timedelta(days=1) if word == "yesterday" else today
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ArchiveError(f"--date {text!r} is not a day; use YYYY-MM-DD, e.g. 2026-03-01"
                           + (", or yesterday / today (UTC)" if today is not None else "")) from None


def day_window(day: date) -> tuple[int, int]:
    """``[start, end)`` of a UTC day in microseconds."""
    start = int((datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc))
                / timedelta(microseconds=1))
    return start, start + DAY_US


def previous_utc_date(now_us: int) -> date:
    """The UTC day that ended most recently before ``now_us``: what a rollover job archives."""
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=now_us)).date() - timedelta(days=1)


def _len_prefixed(data: bytes | None) -> bytes:
    return struct.pack(">q", -1) if data is None else struct.pack(">q", len(data)) + data


def record_identity(rec: RawRecord) -> bytes:
    """The bytes a restore must preserve for one record (everything but the offset)."""
    parts = [struct.pack(">iiq", rec.partition, rec.timestamp_type, rec.timestamp_ms), _len_prefixed(rec.key),
             struct.pack(">i", len(rec.headers))]
    for k, v in rec.headers:
        parts.append(_len_prefixed(k.encode("utf-8")))
        parts.append(_len_prefixed(v))
    parts.append(_len_prefixed(rec.value))
    return b"".join(parts)


@dataclass
class TopicDigest:
    """Running manifest entry of one topic: counts, checksums, offsets, times, writers."""

    topic: str
    count: int = 0
    _values: Any = field(default_factory=hashlib.sha256, repr=False)
    _records: Any = field(default_factory=hashlib.sha256, repr=False)
    partitions: dict[int, list[int]] = field(default_factory=dict)  # partition -> [first, last, count]
    first_time_us: int | None = None
    last_time_us: int | None = None
    time_sources: dict[str, int] = field(default_factory=dict)
    writers: dict[str, int] = field(default_factory=dict)

    def add(self, rec: RawRecord) -> None:
        """Account for one record (call in archive order)."""
        self.count += 1
        self._values.update(_len_prefixed(rec.value))
        self._records.update(record_identity(rec))
        p = self.partitions.get(rec.partition)
        if p is None:
            self.partitions[rec.partition] = [rec.offset, rec.offset, 1]
        else:
            p[1] = rec.offset
            p[2] += 1
        t = rec.event_time_us
        self.first_time_us = t if self.first_time_us is None else min(self.first_time_us, t)
        self.last_time_us = t if self.last_time_us is None else max(self.last_time_us, t)
        self.time_sources[rec.time_source] = self.time_sources.get(rec.time_source, 0) + 1
        self.writers[rec.writer] = self.writers.get(rec.writer, 0) + 1

    @property
    def values_sha256(self) -> str:
        """SHA-256 of the length-prefixed values in order."""
        return self._values.hexdigest()

    @property
    def records_sha256(self) -> str:
        """SHA-256 of partition, timestamp, key, headers and value of every record in order."""
        return self._records.hexdigest()

    def entry(self) -> dict[str, Any]:
        """The manifest entry (JSON-ready, deterministic)."""
        spec = CATALOG.get(self.topic)
        return {
            "schema": spec.schema if spec else None,
            "count": self.count,
            "values_sha256": self.values_sha256,
            "records_sha256": self.records_sha256,
            "partitions": {str(p): {"first_offset": v[0], "last_offset": v[1], "count": v[2]}
                           for p, v in sorted(self.partitions.items())},
            "first_time_us": self.first_time_us,
            "last_time_us": self.last_time_us,
            "first_time": format_time(self.first_time_us) if self.first_time_us is not None else None,
            "last_time": format_time(self.last_time_us) if self.last_time_us is not None else None,
            "time_sources": dict(sorted(self.time_sources.items())),
            "writer_fingerprints": dict(sorted(self.writers.items())),
        }


def schema_fingerprints() -> dict[str, str]:
    """Current single-object fingerprint (hex) of every hbot schema."""
    return {n: fingerprint(schema_files.load_schema_json(n)).hex() for n in schema_files.schema_names()}


def _envelope(rec: RawRecord) -> dict[str, Any]:
    return {"partition": rec.partition, "offset": rec.offset, "timestamp_ms": rec.timestamp_ms,
            "timestamp_type": rec.timestamp_type, "event_time_us": rec.event_time_us, "time_source": rec.time_source,
            "key": rec.key, "value": rec.value, "headers": [{"key": k, "value": v} for k, v in rec.headers]}


def _from_envelope(topic: str, env: dict[str, Any]) -> RawRecord:
    from streams.replay import writer_id

    return RawRecord(topic, env["partition"], env["offset"], env["timestamp_ms"], env["timestamp_type"], env["key"],
                     env["value"], tuple((h["key"], h["value"]) for h in env["headers"]), env["event_time_us"],
                     env["time_source"], None, writer_id(env["value"]))


def write_topic_file(path: Path, day: date, topic: str, records: Iterable[RawRecord], digest: TopicDigest,
                     codec: str = "deflate") -> None:
    """Write ``records`` as an Avro container file at ``path``, feeding ``digest`` on the way.

    The sync marker is derived from (day, topic) instead of random bytes so the file is reproducible.
    """
    def envelopes() -> Iterator[dict[str, Any]]:
        for rec in records:
            digest.add(rec)
            yield _envelope(rec)

    sync = hashlib.sha256(f"{ARCHIVE_FORMAT}/{day.isoformat()}/{topic}".encode()).digest()[:16]
    with open(path, "wb") as fo:
        fastavro.writer(fo, _PARSED_ENVELOPE, envelopes(), codec=codec, sync_marker=sync,
                        metadata={"hbot.format": ARCHIVE_FORMAT, "hbot.date": day.isoformat(), "hbot.topic": topic})


def read_topic_file(path: Path, topic: str) -> Iterator[RawRecord]:
    """The records of one archived topic file, in archive order."""
    with open(path, "rb") as fo:
        for env in fastavro.reader(fo):
            yield _from_envelope(topic, env)  # type: ignore[arg-type]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fo:
        for chunk in iter(lambda: fo.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _topic_names(topics: Sequence[str] | None) -> list[str]:
    if not topics:
        return list(CATALOG)
    unknown = [t for t in topics if t not in CATALOG]
    if unknown:
        raise ArchiveError(f"unknown topic {unknown[0]!r}; the archive covers catalog topics: {', '.join(CATALOG)}")
    return list(dict.fromkeys(topics))


def archive_dir(home: Path, day: date) -> Path:
    """``HOME/archive/YYYY-MM-DD``."""
    return Path(home) / "archive" / day.isoformat()


def load_manifest(home: Path, day: date) -> dict[str, Any]:
    """The manifest of an archived day; :class:`ArchiveError` when there is none."""
    path = archive_dir(home, day) / MANIFEST
    if not path.exists():
        raise ArchiveError(f"no archive for {day.isoformat()} under {archive_dir(home, day)}; run hbot archive --date {day.isoformat()} first")
    return json.loads(path.read_text())


def _dump(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------------------- archive


@dataclass(frozen=True)
class TopicOutcome:
    """What happened to one topic's file: ``new``, ``unchanged`` or ``replaced``."""

    topic: str
    count: int
    scanned: int
    status: str


@dataclass(frozen=True)
class ArchiveResult:
    """Result of :func:`archive_day`."""

    day: date
    directory: Path
    topics: tuple[TopicOutcome, ...]
    manifest: dict[str, Any]

    @property
    def records(self) -> int:
        """Records archived over all topics."""
        return sum(t.count for t in self.topics)


class _Counting:
    """Wraps a progress sink and counts scanned records per topic."""

    def __init__(self, inner: ReadProgress) -> None:
        self.inner = inner
        self.scanned: dict[str, int] = {}

    def planned(self, topic: str, total: int) -> None:
        self.inner.planned(topic, total)

    def advanced(self, topic: str, n: int) -> None:
        self.scanned[topic] = self.scanned.get(topic, 0) + n
        self.inner.advanced(topic, n)


def digest_broker_day(conf: dict[str, Any], serde: Serde, day: date, topics: Sequence[str] | None = None, *,
                      clock_skew_s: float = DEFAULT_CLOCK_SKEW_S, progress: ReadProgress | None = None) -> dict[str, TopicDigest]:
    """Manifest digests of what the broker holds for ``day`` (nothing written): for verification."""
    names = _topic_names(topics)
    start, end = day_window(day)
    plans = plan_reads(conf, names, start - int(clock_skew_s * 1e6))
    progress = progress or _NoProgress()
    out = {}
    for t in names:
        progress.planned(t, plans[t].total)
        d = TopicDigest(t)
        for rec in read_records(conf, serde, plans[t], start, end, progress=progress):
            d.add(rec)
        out[t] = d
    return out


def archive_day(kafka_conf: dict[str, Any], serde: Serde, home: Path, date: date | str, topics: Sequence[str] | None = None,
                *, overwrite: bool = False, clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
                progress: ReadProgress | None = None, codec: str = "deflate") -> ArchiveResult:
    """Copy every record of ``date`` (UTC day, by event time) of the catalog topics (or ``topics``) to disk.

    Idempotent: the same data gives byte-identical files and manifest (status ``unchanged``). If an
    archive of the day already holds different content for a topic, nothing is written and
    :class:`ArchiveError` says so, unless ``overwrite``. Topics not archived this time keep their
    existing manifest entries. This is the function a worker calls at UTC rollover.
    """
    day = parse_date(date) if isinstance(date, str) else date
    names = _topic_names(topics)
    start, end = day_window(day)
    counting = _Counting(progress or _NoProgress())
    plans = plan_reads(kafka_conf, names, start - int(clock_skew_s * 1e6))
    target = archive_dir(home, day)
    staging = Path(home) / "archive" / f".staging-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True, exist_ok=False)
    try:
        entries: dict[str, dict[str, Any]] = {}
        for t in names:
            counting.planned(t, plans[t].total)
            digest = TopicDigest(t)
            fname = f"{t}.avro"
            write_topic_file(staging / fname, day, t, read_records(kafka_conf, serde, plans[t], start, end, progress=counting),
                             digest, codec)
            entry = digest.entry()
            entry.update(file=fname, file_sha256=file_sha256(staging / fname), on_broker=plans[t].exists)
            entries[t] = entry
        old: dict[str, Any] = json.loads((target / MANIFEST).read_text()) if (target / MANIFEST).exists() else {}
        old_topics: dict[str, Any] = old.get("topics", {})
        statuses: dict[str, str] = {}
        for t, entry in entries.items():
            prev = old_topics.get(t)
            if prev is None:
                statuses[t] = "new"
            elif prev == entry and (target / entry["file"]).exists() and file_sha256(target / entry["file"]) == entry["file_sha256"]:
                statuses[t] = "unchanged"
            elif prev.get("records_sha256") == entry["records_sha256"] or overwrite:
                statuses[t] = "replaced"  # same records (file damaged or manifest older), or asked to
            else:
                raise ArchiveError(
                    f"the archive of {day.isoformat()} already holds different content for {t} "
                    f"({prev.get('count')} records, now {entry['count']}); nothing was changed; "
                    "pass --overwrite to replace it")
        manifest = {
            "format": ARCHIVE_FORMAT,
            "date": day.isoformat(),
            "window_us": [start, end],
            "window": [format_time(start), format_time(end)],
            "time_basis": TIME_BASIS,
            "clock_skew_s": clock_skew_s,
            "codec": codec,
            "record_schema": ENVELOPE_SCHEMA,
            "schema_fingerprints": schema_fingerprints(),
            "values_checksum": "sha256 over values in (partition, offset) order, each as int64 big-endian length (-1 = null) + bytes",
            "topics": {**old_topics, **entries},
        }
        target.mkdir(parents=True, exist_ok=True)
        for t, entry in entries.items():
            if statuses[t] != "unchanged":
                os.replace(staging / entry["file"], target / entry["file"])
        text = _dump(manifest)
        mpath = target / MANIFEST
        if not mpath.exists() or mpath.read_text() != text:
            tmp = staging / MANIFEST
            tmp.write_text(text)
            os.replace(tmp, mpath)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    outcomes = tuple(TopicOutcome(t, entries[t]["count"], counting.scanned.get(t, 0), statuses[t]) for t in names)
    return ArchiveResult(day, target, outcomes, manifest)


# --------------------------------------------------------------------------------------- restore + verify


@dataclass(frozen=True)
class Comparison:
    """Archive manifest vs broker for one topic."""

    topic: str
    archived: int
    on_broker: int
    values_match: bool
    records_match: bool

    @property
    def ok(self) -> bool:
        """Same count and both checksums equal."""
        return self.archived == self.on_broker and self.values_match and self.records_match


@dataclass(frozen=True)
class RestoreResult:
    """Result of :func:`restore_day`."""

    day: date
    produced: dict[str, int]
    comparisons: tuple[Comparison, ...]

    @property
    def ok(self) -> bool:
        """Every restored topic matches its manifest entry."""
        return all(c.ok for c in self.comparisons)


def compare(manifest: dict[str, Any], digests: dict[str, TopicDigest]) -> tuple[Comparison, ...]:
    """Per-topic comparison of manifest entries with digests of what a broker holds."""
    out = []
    for t, d in digests.items():
        m = manifest["topics"][t]
        out.append(Comparison(t, m["count"], d.count, m["values_sha256"] == d.values_sha256,
                              m["records_sha256"] == d.records_sha256))
    return tuple(out)


def verify_day(kafka_conf: dict[str, Any], serde: Serde, home: Path, date: date | str, topics: Sequence[str] | None = None,
               *, progress: ReadProgress | None = None) -> tuple[Comparison, ...]:
    """Compare what the broker holds for ``date`` with the archive's manifest, topic by topic."""
    day = parse_date(date) if isinstance(date, str) else date
    manifest = load_manifest(home, day)
    names = _archived_topics(manifest, topics)
    digests = digest_broker_day(kafka_conf, serde, day, names, clock_skew_s=manifest.get("clock_skew_s", DEFAULT_CLOCK_SKEW_S),
                                progress=progress)
    return compare(manifest, digests)


def _archived_topics(manifest: dict[str, Any], topics: Sequence[str] | None) -> list[str]:
    names = list(manifest["topics"]) if not topics else list(dict.fromkeys(topics))
    missing = [t for t in names if t not in manifest["topics"]]
    if missing:
        raise ArchiveError(f"{missing[0]} is not in the archive of {manifest['date']}; archived: {', '.join(manifest['topics'])}")
    return names


def restore_day(kafka_conf: dict[str, Any], serde: Serde, home: Path, date: date | str, topics: Sequence[str] | None = None,
                *, allow_existing: bool = False, progress: ReadProgress | None = None) -> RestoreResult:
    """Publish an archived day back to a broker, then verify counts and checksums against the manifest.

    Keys, values, headers, Kafka timestamps and partitions are preserved (idempotent producer, one
    partition per source partition, so each partition's order is kept). Files are checked against
    their SHA-256 first. The target should not hold records of that day already (a second restore
    would duplicate them): that is refused unless ``allow_existing``.
    """
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    from streams.admin import ensure_topics

    day = parse_date(date) if isinstance(date, str) else date
    manifest = load_manifest(home, day)
    names = _archived_topics(manifest, topics)
    folder = archive_dir(home, day)
    for t in names:
        entry = manifest["topics"][t]
        path = folder / entry["file"]
        if not path.exists():
            raise ArchiveError(f"archive file {path} is missing")
        if file_sha256(path) != entry["file_sha256"]:
            raise ArchiveError(f"archive file {path} does not match its manifest checksum (damaged or edited); not restoring")
    try:
        ensure_topics(kafka_conf, [CATALOG[t] for t in names])
        md = AdminClient(kafka_conf).list_topics(timeout=15).topics
    except KafkaException as exc:
        raise ArchiveError(f"cannot prepare topics on {kafka_conf.get('bootstrap.servers')}: {exc}") from None
    for t in names:
        need = max((int(p) for p in manifest["topics"][t]["partitions"]), default=-1) + 1
        have = len(md[t].partitions)
        if have < need:
            raise ArchiveError(f"{t} has {have} partitions on the target but the archive uses {need}; "
                               "create it with at least as many partitions")
    if not allow_existing:
        existing = digest_broker_day(kafka_conf, serde, day, names, clock_skew_s=manifest.get("clock_skew_s", DEFAULT_CLOCK_SKEW_S))
        busy = [(t, d.count) for t, d in existing.items() if d.count]
        if busy:
            raise ArchiveError(f"the target already holds {busy[0][1]} records of {day.isoformat()} on {busy[0][0]}; "
                               "restore into a fresh broker (or pass --allow-existing to add duplicates)")
    errors: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(f"{msg.topic()}: {err}")

    progress = progress or _NoProgress()
    producer = Producer({**kafka_conf, "enable.idempotence": True, "linger.ms": 20, "batch.num.messages": 10_000,
                         "queue.buffering.max.messages": 1_000_000})
    produced: dict[str, int] = {}
    for t in names:
        entry = manifest["topics"][t]
        progress.planned(t, entry["count"])
        n = 0
        for rec in read_topic_file(folder / entry["file"], t):
            kwargs: dict[str, Any] = {"value": rec.value, "key": rec.key, "partition": rec.partition,
                                      "headers": list(rec.headers), "on_delivery": on_delivery}
            if rec.timestamp_type != 0:
                kwargs["timestamp"] = rec.timestamp_ms
            while True:
                try:
                    producer.produce(t, **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
            n += 1
            if n % 5000 == 0:
                producer.poll(0)
                progress.advanced(t, 5000)
        progress.advanced(t, n % 5000)
        produced[t] = n
    left = producer.flush(120)
    if left or errors:
        raise ArchiveError(f"restore of {day.isoformat()}: {left} records undelivered, {len(errors)} failed"
                           + (f" (first: {errors[0]})" if errors else ""))
    digests = digest_broker_day(kafka_conf, serde, day, names, clock_skew_s=manifest.get("clock_skew_s", DEFAULT_CLOCK_SKEW_S))
    return RestoreResult(day, produced, compare(manifest, digests))
