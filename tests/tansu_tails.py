"""Uncover records the embedded Tansu broker hides at the end of a partition.

Tansu sets a partition's high watermark just past the first record of its newest batch, and
consumers read only below it (README, "Broker notes"): after a test publishes a burst and stops,
the end of the burst stays unseen until another batch lands on the same partition, in the market
topics and again in the sequenced log the sequencer writes. :func:`nudge` puts one record of a
market nobody trades on every market-topic partition, keyed so that the sequencer's copies reach
every partition of the sequenced log; :func:`wait_nudging` repeats that while it waits. Harmless
on Apache Kafka, and invisible to the desk under test (it does not trade those markets).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka.partitioner import murmur2
from confluent_kafka import Producer

from streams.catalog import CATALOG, MARKET_TOPICS, SEQUENCED_TOPIC
from streams.serde import SingleObjectSerde
from tests.samples import sample

_SERDE = SingleObjectSerde()


def keys_covering_the_sequenced_log() -> list[str]:
    """Market keys whose sequenced copies land on every partition (Faust's producer partitions by murmur2)."""
    n = CATALOG[SEQUENCED_TOPIC].partitions
    by_partition: dict[int, str] = {}
    for j in itertools.count():
        key = f"nudge:{j}"
        by_partition.setdefault((murmur2(key.encode()) & 0x7FFFFFFF) % n, key)
        if len(by_partition) == n:
            return [by_partition[p] for p in range(n)]
    raise AssertionError("unreachable")


def nudge(conf: dict[str, Any]) -> None:
    """One single-record batch on every partition of every market topic (see the module doc)."""
    keys = keys_covering_the_sequenced_log()
    run = uuid.uuid4().hex[:8]
    producer = Producer(conf)
    i = 0
    for name in MARKET_TOPICS:
        schema = CATALOG[name].schema
        for partition in range(CATALOG[name].partitions):
            market = keys[i % len(keys)]
            rec = sample(schema, seed=i + 1, overrides={"market": market, "event_id": f"nudge-{run}-{i}"})
            producer.produce(name, _SERDE.encode(schema, rec, name), key=market.encode(), partition=partition)
            i += 1
    producer.flush(10)


def wait_nudging(conf: dict[str, Any], pred: Callable[[], bool], timeout: float, what: str, every_s: float = 1.0,
                 uncover: Callable[[], None] | None = None, poll_s: float = 0.1) -> None:
    """Wait until ``pred()``, uncovering hidden tails every ``every_s`` seconds (default: :func:`nudge`);
    AssertionError naming ``what`` on timeout."""
    uncover = uncover or (lambda: nudge(conf))
    deadline = time.monotonic() + timeout
    next_nudge = time.monotonic() + every_s
    while time.monotonic() < deadline:
        if pred():
            return
        if time.monotonic() >= next_nudge:
            uncover()
            next_nudge = time.monotonic() + every_s
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
