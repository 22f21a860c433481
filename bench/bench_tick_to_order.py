"""Tick-to-order latency of the whole desk through the embedded broker.

Starts an embedded broker and a desk worker (sequencer, strategy, risk, paper execution, kill
switch) publishing the synthetic market at ``--rate`` market events per second, lets it run, then
reads the topics back: for every order command, the time from the produce time of the newest
market event its decision used to the order's produce time (5 hops: market -> sequencer ->
strategy -> sequencer -> risk). Prints p50/p99/max per run and the median over runs.

    python bench/bench_tick_to_order.py [--runs 3] [--seconds 40] [--rate 200] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from hbot.worker import app_id_for
from processors.clock import to_micros
from processors.instance import demo_instance
from streams.broker import EmbeddedBroker, free_port
from streams.catalog import topic
from streams.serde import DecodeError, SingleObjectSerde

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the offsets helper lives in tests
from tests.kafka_offsets import commit_at_end  # noqa: E402

ROLES = "market_data,strategy,risk,execution,kill_switch"
SYNTHETIC_EVENTS_PER_S = 3.6  # book every 500 ms + trades, measured on the default synthetic market


def read_all(bootstrap: str, name: str) -> list[dict[str, Any]]:
    serde = SingleObjectSerde()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": True})
    parts = [TopicPartition(name, p, 0) for p in range(topic(name).partitions)]
    c.assign(parts)
    out, eof = [], set()
    while len(eof) < len(parts):
        m = c.poll(2.0)
        if m is None:
            break
        if m.error():
            eof.add(m.partition())
            continue
        try:
            out.append(serde.decode(m.value()))
        except DecodeError:
            continue  # a shared broker may hold other programs' (or the DLQ tests') bad records
    c.close()
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def one_run(seconds: float, rate: float, bootstrap: str | None = None) -> list[float]:
    broker = EmbeddedBroker(free_port()).start() if bootstrap is None else None
    bootstrap = broker.bootstrap if broker is not None else bootstrap
    home = tempfile.mkdtemp(prefix="hbot-bench-")
    started_us = time.time_ns() // 1000  # on a shared broker, only this run's records count
    tag = uuid.uuid4().hex[:6]
    # A market of its own per run: the synthetic market's event ids repeat for the same market and seed,
    # so on a shared broker a later run would match its orders with an earlier run's market records.
    instances = os.path.join(home, "instances.yaml")
    with open(instances, "w") as f:
        inst = demo_instance(symbol=f"B{tag.upper()}/USDT:USDT").model_copy(update={"id": f"bench{tag}"})
        json.dump({"instances": [inst.model_dump()]}, f)
    env = {**os.environ, "HBOT_KAFKA_BOOTSTRAP": bootstrap, "HBOT_HOME": home, "HBOT_WEB_PORT": str(free_port()),
           "HBOT_MARKET_SOURCE": "synthetic", "HBOT_MARKET_SPEED": str(rate / SYNTHETIC_EVENTS_PER_S),
           "HBOT_TRACE_EXPORTER": "none", "HBOT_LOG_LEVEL": "WARNING", "HBOT_GROUP_PREFIX": f"bench{tag}",
           "HBOT_INSTANCES_FILE": instances}
    if broker is None:  # a shared broker: the desk starts at the topics' ends, not behind earlier runs' backlog
        commit_at_end({"bootstrap.servers": bootstrap}, app_id_for(tuple(ROLES.split(",")), f"bench{tag}"))
    worker = subprocess.Popen([sys.executable, "-m", "hbot.cli", "worker", "--role", ROLES],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
    finally:
        worker.terminate()
        worker.wait(30)
    def fresh(name: str) -> list[dict[str, Any]]:
        return [r for r in read_all(bootstrap, name) if to_micros(r["produce_time"]) >= started_us]

    market = {r["event_id"]: to_micros(r["produce_time"]) for t in ("hb.market.book.v1", "hb.market.trade.v1") for r in fresh(t)}
    quotes = {r["event_id"]: r for r in fresh("hb.quote.v1")}
    lat = []
    for o in fresh("hb.order.v1"):
        q = quotes.get(o["decision_id"])
        ins = [market[i] for i in (q or {}).get("input_event_ids", []) if i in market]
        if ins:
            lat.append((to_micros(o["produce_time"]) - max(ins)) / 1000.0)
    if broker is not None:
        broker.stop()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--rate", type=float, default=200.0, help="market events per second")
    ap.add_argument("--bootstrap", default=None,
                    help="An external broker (e.g. Apache Kafka: bash .ci/kafka/start.sh 19092) instead of a fresh embedded Tansu per run; each run trades a market of its own and its desk starts at the topics' ends.")
    args = ap.parse_args()
    print(f"tick-to-order at {args.rate:g} market events/s, {args.seconds:g} s per run, on {args.bootstrap or 'the embedded Tansu'}")
    p50s, p99s = [], []
    for i in range(args.runs):
        lat = one_run(args.seconds, args.rate, args.bootstrap)
        if not lat:
            print(f"run {i + 1}: no orders")
            continue
        p50s.append(pct(lat, 0.5))
        p99s.append(pct(lat, 0.99))
        print(f"run {i + 1}: orders {len(lat)}  p50 {p50s[-1]:.1f} ms  p99 {p99s[-1]:.1f} ms  max {max(lat):.1f} ms")
    if p50s:
        print(f"median over runs: p50 {statistics.median(p50s):.1f} ms  p99 {statistics.median(p99s):.1f} ms (target p99 <= 25 ms)")


if __name__ == "__main__":
    main()
