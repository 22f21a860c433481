"""Commit a consumer group at the current ends of topics, so it reads only what a test produces next.

The broker is shared by the whole test session; without this a fresh group would first read every
record earlier tests left there (and count their bad records as its own). Tansu's high watermark
can sit a few records before the true end; on market topics a nudge uncovers them first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from streams.catalog import CATALOG, MARKET_TOPICS


def log_ends(kafka_conf: dict[str, Any], topic: str) -> list[TopicPartition]:
    """Each partition of catalog ``topic`` at its high watermark."""
    c = Consumer({**kafka_conf, "group.id": "hbot-tests-log-ends", "enable.auto.commit": False})
    try:
        return [TopicPartition(topic, p, max(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1], 0))
                for p in range(CATALOG[topic].partitions)]
    finally:
        c.close()


def commit_at_end(kafka_conf: dict[str, Any], group: str, topics: Iterable[str] = CATALOG) -> None:
    """Commit ``group`` at each partition's high watermark of ``topics`` (catalog topics; default all).

    Market topics are nudged first (:func:`tests.tansu_tails.nudge`), so that records Tansu still
    hides under the watermark are below the commit too, not read later as if this test's own.
    """
    from tests.tansu_tails import nudge

    names = list(topics)
    if set(names) & set(MARKET_TOPICS):
        nudge(kafka_conf)
    commit_offsets(kafka_conf, group, [tp for name in names for tp in log_ends(kafka_conf, name)])


def commit_offsets(kafka_conf: dict[str, Any], group: str, offsets: list[TopicPartition]) -> None:
    """Commit ``group`` at ``offsets`` (e.g. log ends taken earlier, so it reads what came after them)."""
    c = Consumer({**kafka_conf, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=offsets, asynchronous=False)
    finally:
        c.close()


def committed_at_least(kafka_conf: dict[str, Any], group: str, ends: list[TopicPartition]) -> bool:
    """``group`` has committed at least ``ends`` (a desk worker acks only what its checkpoints cover)."""
    c = Consumer({**kafka_conf, "group.id": group, "enable.auto.commit": False})
    try:
        got = {(tp.topic, tp.partition): tp.offset for tp in c.committed(ends, timeout=10)}
    finally:
        c.close()
    return all(got.get((tp.topic, tp.partition), -1) >= tp.offset for tp in ends)
