"""The paper venue in the real execution worker: a cancel sent into a silent market still completes.

Paper time moves only with market events; the dead-man's switch fires exactly when they stop. The
worker (sequencer + execution, paper instance, the default 50 ms latencies) gets one book, a PLACE,
a second book that lets the order arrive, then a CANCEL_ALL and no market event at all.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hbot.worker import app_id_for
from hbot.worker_process import start_worker
from processors.clock import to_micros
from processors.execution.agent import PAPER_IDLE_AFTER_S
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.kafka_offsets import commit_at_end
from tests.processors.execution.paper_scripts import MS, cancel_all, place, standard_book
from tests.topic_records import TopicRecords, until

pytestmark = pytest.mark.broker

ROLES = "market_data,execution"


def test_when_the_market_stops_after_a_cancel_all_then_the_paper_orders_are_still_cancelled(
        kafka_conf: dict[str, Any], tmp_path: Path) -> None:
    unique = f"{os.getpid()}{time.time_ns() % 10**6}"
    instance, symbol = f"pi{unique}", f"PI{unique}/USDT:USDT"
    market = f"synthetic:{symbol}"
    (tmp_path / "instances.yaml").write_text(json.dumps({"instances": [{
        "id": instance, "exchange": "synthetic", "symbol": symbol, "market_type": "perp", "execution": "paper"}]}))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HBOT_")},
           "HBOT_KAFKA_BOOTSTRAP": kafka_conf["bootstrap.servers"], "HBOT_HOME": str(tmp_path / "home"),
           "HBOT_INSTANCES_FILE": str(tmp_path / "instances.yaml"), "HBOT_MARKET_SOURCE": "none",
           "HBOT_DEADMAN_AFTER_S": "0", "HBOT_TRACE_EXPORTER": "none", "HBOT_GROUP_PREFIX": f"p{unique}"}
    commit_at_end(kafka_conf, app_id_for(tuple(ROLES.split(",")), f"p{unique}"))
    records = TopicRecords(kafka_conf, ("hb.order_update.v1",))
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    mine = {"instance_id": instance, "market": market}
    t0 = time.time_ns() // 1000

    def send(topic: str, rec: dict[str, Any]) -> None:
        producer.send(topic, {**rec, **({"market": market} if topic.startswith("hb.market") else mine),
                              "event_id": f"{instance}-{rec['event_id']}"})
        producer.flush()

    worker = start_worker("paper", ROLES, env, tmp_path / "logs")
    try:
        send("hb.market.book.v1", standard_book(t0, seq=1))
        send("hb.order.v1", place(t0 + 10 * MS, "p1", "BUY", 100.05, 1.0))
        send("hb.market.book.v1", standard_book(t0 + 100 * MS, seq=2))  # past the 50 ms order latency
        until(kafka_conf, lambda: [u for u in records.mine("hb.order_update.v1", instance) if u["status"] == "ACK"],
              "p1 acknowledged", worker)
        sent = time.monotonic()
        send("hb.order.v1", cancel_all(t0 + 200 * MS))
        updates = until(kafka_conf, lambda: [u for u in records.mine("hb.order_update.v1", instance)
                                             if u["status"] == "CANCELLED"], "p1 cancelled with no market event", worker)
        took = time.monotonic() - sent
    finally:
        worker.stop()

    assert [(u["client_order_id"], to_micros(u["event_time"])) for u in updates] == [("p1", t0 + 250 * MS)]
    assert took >= PAPER_IDLE_AFTER_S * 0.9, "completed by the quiet-feed path, not by a market event"
