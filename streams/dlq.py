"""Dead letters: bad input goes to ``hb.dlq.v1`` with where it came from and why; processing goes on."""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from processors.ids import make_id
from streams.catalog import DLQ_TOPIC
from streams.metrics import desk_metrics
from streams.producer import EventProducer

log = logging.getLogger(__name__)


def dead_letter(source_topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                reason: str, error_type: str, processor: str,
                headers: Sequence[tuple[str, bytes | None]] | None = None, now_us: int | None = None) -> dict[str, Any]:
    """The ``hb.dlq.v1`` record for one rejected input; its id is derived from the input's position."""
    now = now_us if now_us is not None else time.time_ns() // 1000
    return {
        "event_id": make_id("dlq", source_topic, partition, offset, processor),
        "event_time": now,
        "produce_time": now,
        "source_topic": source_topic,
        "source_partition": partition,
        "source_offset": offset,
        "key": key,
        "value": value,
        "reason": reason[:2000],
        "error_type": error_type,
        "processor": processor,
        "headers": {k: (v or b"").decode("utf-8", "replace") for k, v in (headers or ())},
    }


class DeadLetterQueue:
    """Sends dead letters and counts them per (source topic, error type)."""

    def __init__(self, producer: EventProducer, processor: str) -> None:
        self._producer = producer
        self.processor = processor
        self.counts: dict[tuple[str, str], int] = {}

    def send(self, source_topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
             error_type: str, reason: str, headers: Sequence[tuple[str, bytes | None]] | None = None) -> None:
        """Record one rejected input (never raises for a bad input; raises only if Kafka fails)."""
        rec = dead_letter(source_topic, partition, offset, key, value, reason, error_type, self.processor, headers)
        self._producer.send(DLQ_TOPIC, rec, key=source_topic.encode())
        k = (source_topic, error_type)
        self.counts[k] = self.counts.get(k, 0) + 1
        desk_metrics().dlq(source_topic, self.processor)
        log.warning("dead letter from %s[%d]@%d (%s): %s", source_topic, partition, offset, error_type, reason)

    def flush(self) -> None:
        """Block until every dead letter sent so far is acknowledged by Kafka."""
        self._producer.flush()
