"""Topic administration from the catalog: ensure (idempotent), list with counts, describe."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec

from streams.catalog import CATALOG, TopicSpec


@dataclass(frozen=True)
class EnsureResult:
    """What ``ensure_topics`` did."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


def ensure_topics(conf: dict[str, Any], specs: Iterable[TopicSpec] = CATALOG.values(), timeout_s: float = 15.0) -> EnsureResult:
    """Create the topics that do not exist yet; existing ones are left alone (idempotent)."""
    admin = AdminClient(conf)
    present = set(admin.list_topics(timeout=timeout_s).topics)
    specs = list(specs)
    missing = [s for s in specs if s.name not in present]
    created: list[str] = []
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, num_partitions=s.partitions, replication_factor=-1, config=s.kafka_config()) for s in missing],
            operation_timeout=timeout_s, request_timeout=timeout_s,
        )
        for name, fut in futures.items():
            try:
                fut.result()
                created.append(name)
            except KafkaException as exc:
                if exc.args and exc.args[0].name() == "TOPIC_ALREADY_EXISTS":
                    continue  # another process won the race: still idempotent
                raise
    if created:
        _wait_until_served(admin, [s for s in missing if s.name in created], timeout_s)
    return EnsureResult(tuple(created), tuple(s.name for s in specs if s.name in present))


def _wait_until_served(admin: AdminClient, specs: list[TopicSpec], timeout_s: float) -> None:
    """Return once every partition of ``specs`` answers a ListOffsets request.

    Apache Kafka (KRaft) acknowledges CreateTopics before its broker has taken up leadership: for a
    moment reads get NOT_LEADER_FOR_PARTITION. Callers of ``ensure`` expect topics they can use.
    """
    parts = {TopicPartition(s.name, p): OffsetSpec.latest() for s in specs for p in range(s.partitions)}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            for fut in admin.list_offsets(parts, request_timeout=timeout_s).values():
                fut.result()
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass(frozen=True)
class TopicCount:
    """Messages held by one topic (end minus start offset, summed over partitions)."""

    name: str
    partitions: int
    messages: int
    exists: bool


def _exact_ends(consumer: Consumer, bounds: dict[tuple[str, int], tuple[int, int]], idle_s: float = 0.5) -> dict[tuple[str, int], int]:
    """The true end offset of each partition.

    Tansu (the embedded broker) reports the high watermark as the last batch's base offset + 1, not
    the end of that batch, and librdkafka signals end-of-partition there. So: read every non-empty
    partition from ``high - 1`` until the broker has nothing more for ``idle_s`` (one pass for all
    partitions; on Apache Kafka it reads one record per partition).
    """
    ends = {tp: high for tp, (low, high) in bounds.items()}
    start = [TopicPartition(t, p, max(low, high - 1)) for (t, p), (low, high) in bounds.items() if high > low]
    if not start:
        return ends
    consumer.assign(start)
    while True:
        msgs = consumer.consume(10_000, timeout=idle_s)
        if not msgs:
            break
        for m in msgs:
            if m.error() is None:
                key = (m.topic(), m.partition())
                ends[key] = max(ends[key], m.offset() + 1)
    consumer.unassign()
    return ends


def topic_counts(conf: dict[str, Any], names: Iterable[str] | None = None, timeout_s: float = 10.0) -> list[TopicCount]:
    """Message counts per topic of the catalog (or ``names``)."""
    admin = AdminClient(conf)
    md = admin.list_topics(timeout=timeout_s).topics
    names = list(names) if names is not None else list(CATALOG)
    tps = [TopicPartition(n, p) for n in names if n in md for p in md[n].partitions]
    lows: dict[tuple[str, int], int] = {}
    highs: dict[tuple[str, int], int] = {}
    if tps:
        for spec, store in ((OffsetSpec.earliest(), lows), (OffsetSpec.latest(), highs)):
            res = admin.list_offsets({tp: spec for tp in tps}, request_timeout=timeout_s)
            for tp, fut in res.items():
                store[(tp.topic, tp.partition)] = fut.result().offset
    consumer = Consumer({**conf, "group.id": "hbot-admin-count", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50})
    try:
        ends = _exact_ends(consumer, {tp: (lows[tp], highs[tp]) for tp in lows})
    finally:
        consumer.close()
    out = []
    for n in names:
        if n not in md:
            out.append(TopicCount(n, 0, 0, False))
            continue
        total = sum(ends[(n, p)] - lows[(n, p)] for p in md[n].partitions)
        out.append(TopicCount(n, len(md[n].partitions), total, True))
    return out


def describe_topic(conf: dict[str, Any], name: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """Catalog entry plus what the broker says (partitions, config)."""
    spec = CATALOG.get(name)
    admin = AdminClient(conf)
    md = admin.list_topics(timeout=timeout_s).topics
    info: dict[str, Any] = {"name": name, "in_catalog": spec is not None, "exists": name in md}
    if spec is not None:
        info.update(schema=spec.schema, key=spec.key, partitions_catalog=spec.partitions,
                    retention_ms=spec.retention_ms, compacted=spec.compacted, description=spec.description)
    if name in md:
        info["partitions_broker"] = len(md[name].partitions)
        try:
            res = admin.describe_configs([ConfigResource("topic", name)])
            cfg = next(iter(res.values())).result(timeout=timeout_s)
            info["broker_config"] = {k: v.value for k, v in cfg.items() if v.value is not None}
        except KafkaException as exc:
            info["broker_config_error"] = str(exc)
    return info


def committed_total(conf: dict[str, Any], group: str, topics: Iterable[str], timeout_s: float = 10.0) -> int:
    """Sum of a consumer group's committed offsets over ``topics`` (0 before its first commit).

    On topics that start empty this is how many records the group has fully processed; the sink
    commits only after its insert, so it is also how many rows are safely in ClickHouse.
    """
    # A consumer that never subscribes reads the group's commits without joining it. Not the admin
    # API: librdkafka (2.16) segfaults in ListConsumerGroupOffsets when the group coordinator is not
    # up yet (a fresh Apache Kafka before __consumer_offsets exists), and that took CI's process down.
    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    tps = [TopicPartition(t, p) for t in topics for p in range(CATALOG[t].partitions)]
    try:
        return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=timeout_s))
    except KafkaException:
        return 0
    finally:
        consumer.close()
