"""Read back what workers publish: records of catalog topics from where they ended when the reader was made."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer

from streams.serde import SingleObjectSerde
from hbot.worker_process import WorkerProcess
from tests.kafka_offsets import log_ends
from tests.tansu_tails import wait_nudging

_SERDE = SingleObjectSerde()


class TopicRecords:
    """Decoded records of ``topics`` published after this reader was made, kept by topic in order."""

    def __init__(self, conf: dict[str, Any], topics: tuple[str, ...]) -> None:
        self.consumer = Consumer({**conf, "group.id": f"topic-records-{time.time_ns()}", "enable.auto.commit": False})
        self.consumer.assign([tp for t in topics for tp in log_ends(conf, t)])
        self.by_topic: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}

    def all(self, topic: str) -> list[dict[str, Any]]:
        """Every record of ``topic`` read so far (reads what has arrived first)."""
        while (msg := self.consumer.poll(0.05)) is not None:
            if not msg.error():
                self.by_topic[msg.topic()].append(_SERDE.decode(msg.value(), topic=msg.topic()))
        return self.by_topic[topic]

    def mine(self, topic: str, instance: str) -> list[dict[str, Any]]:
        """``instance``'s records of ``topic`` read so far."""
        return [r for r in self.all(topic) if r.get("instance_id") == instance]


def until(conf: dict[str, Any], pred: Callable[[], Any], what: str, worker: WorkerProcess, timeout: float = 90) -> Any:
    """``pred()`` once it is truthy (nudging Tansu's hidden tails meanwhile); fails with the worker's log
    if the worker exits or ``timeout`` passes."""
    def check() -> Any:
        worker.check()
        return pred()
    try:
        wait_nudging(conf, check, timeout, what)
    except (AssertionError, TimeoutError, RuntimeError) as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log.read_text(errors='replace')[-4000:]}") from None
    return pred()
