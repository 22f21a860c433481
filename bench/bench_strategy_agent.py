"""The strategy agent's throughput through the broker, against a do-nothing Faust forwarder.

Each run starts a fresh embedded broker and fills two single-partition inputs with the same bytes:
the sequenced envelopes of ``--events`` synthetic market events (what the strategy role reads),
once in ``hb.sequenced.v1`` and once in a forwarder's input topic. Then, one after the other:

* the baseline: a Faust agent built by hbot's app factory that forwards each value unchanged
  (``bench/_faust_forwarder.py``); its rate is read from the broker timestamps of its outputs;
* the agent: ``hbot worker --role strategy`` for one instance on that market (decode, EPP v2.4
  core, checkpoints to its table, quotes and state rows out); its rate is read from the worker's
  ``/progress/`` view (inputs applied to the instance, polled every 20 ms).

Both rates are from the first to the last input, so start-up and group joins are left out. Prints
each run and the medians; target: agent >= 0.7x the forwarder.

    python bench/bench_strategy_agent.py [--runs 3] [--events 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from _stats import median, spread, table  # noqa: E402
from bench_broker_latency import FaustForwarder, create_topics  # noqa: E402

from hbot.worker_process import start_worker  # noqa: E402
from processors.market_data.sequencer import envelopes  # noqa: E402
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.broker import EmbeddedBroker, free_port  # noqa: E402
from streams.catalog import SEQUENCED_TOPIC, topic  # noqa: E402
from streams.serde import SingleObjectSerde  # noqa: E402

def sequenced_log(n: int, market_key: str) -> list[bytes]:
    """``n`` synthetic market events as the sequencer would forward them (encoded envelopes)."""
    serde = SingleObjectSerde()
    offsets: dict[str, int] = {}
    out = []
    market = SyntheticMarket(SyntheticMarketConfig(seed=11, market=market_key))
    for name, rec in market.iter_span(10**13):
        rec = {**rec, "produce_time": rec["event_time"]}  # a publisher stamps it; any value does here
        payload = serde.encode(topic(name).schema, rec, name)
        off = offsets[name] = offsets.get(name, -1) + 1
        for env in envelopes(name, 0, off, payload, rec, {}):
            out.append(serde.encode("sequenced", {**env, "produce_time": env["event_time"]}, SEQUENCED_TOPIC))
        if len(out) >= n:
            return out[:n]
    return out


def fill(conf: dict, topic_name: str, values: list[bytes], key: bytes | None) -> None:
    p = Producer({**conf, "linger.ms": 20, "batch.num.messages": 2000})
    for v in values:
        p.produce(topic_name, v, key=key)
        p.poll(0)
    p.flush(60)


def forwarder_rate(conf: dict, bootstrap: str, values: list[bytes], tmp: Path) -> float:
    prefix = f"fwd{uuid.uuid4().hex[:6]}"
    # Single-partition topics made up front: auto-created ones take the broker's default partition
    # count (3 on the CI's Apache Kafka), and the rate is read from partition 0 of the output.
    create_topics(conf, [prefix + ".in", prefix + ".out"])
    fwd = FaustForwarder(bootstrap, prefix, tmp / "forwarder.log")
    try:
        fwd.wait_ready(conf, b"probe")  # the probe creates both topics and proves the agent is assigned
        fill(conf, prefix + ".in", values, None)
        c = Consumer({**conf, "group.id": prefix, "enable.auto.commit": False})
        c.assign([TopicPartition(prefix + ".out", 0, 0)])
        stamps: list[int] = []
        deadline = time.monotonic() + 600
        while len(stamps) < len(values) + 1 and time.monotonic() < deadline:
            for m in c.consume(5000, timeout=0.5):
                if m.error() is None:
                    stamps.append(m.timestamp()[1])
        c.close()
    finally:
        fwd.stop()
    body = stamps[-len(values):]  # the probe came first
    if len(stamps) < len(values) + 1:
        raise RuntimeError(f"the forwarder passed {len(stamps) - 1} of {len(values)} records")
    return (len(body) - 1) / max((body[-1] - body[0]) / 1000, 1e-3)


def agent_rate(bootstrap: str, symbol: str, n: int, tmp: Path) -> tuple[float, int]:
    (tmp / "instances.yaml").write_text(json.dumps({"instances": [{
        "id": "bench", "exchange": "synthetic", "symbol": symbol, "strategy": {"tick_size": 0.1, "lot_size": 0.001}}]}))
    env = {**os.environ, "HBOT_KAFKA_BOOTSTRAP": bootstrap, "HBOT_HOME": str(tmp), "HBOT_INSTANCES_FILE": str(tmp / "instances.yaml"),
           "HBOT_TRACE_EXPORTER": "none", "HBOT_GROUP_PREFIX": f"bench{uuid.uuid4().hex[:6]}"}
    w = start_worker("strategy", "strategy", env, tmp)
    try:
        first = last = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            w.check()
            applied = ((w.progress() or {}).get("strategy", {}).get("instances", {}).get("bench", {})).get("applied", 0)
            now = time.monotonic()
            if applied and first is None:
                first = (now, applied)
            if applied >= n:
                last = (now, applied)
                break
            time.sleep(0.02)
        outputs = (w.progress() or {}).get("strategy", {}).get("outputs", 0)
    finally:
        w.stop()
    if first is None or last is None:
        raise RuntimeError(f"the strategy did not apply {n} inputs in time; see {w.log}")
    return (last[1] - first[1]) / max(last[0] - first[0], 1e-3), outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="Runs (fresh broker each); medians are printed.")
    ap.add_argument("--events", type=int, default=20_000, help="Sequenced market events per run.")
    ap.add_argument("--bootstrap", default=None,
                    help="An external broker (e.g. Apache Kafka) instead of a fresh embedded Tansu per run.")
    args = ap.parse_args()
    print(f"{args.events:,} sequenced synthetic market events per run, {args.runs} runs on "
          f"{args.bootstrap or 'a fresh embedded Tansu'}; load average {os.getloadavg()[0]:.2f}")
    rows, fwd_rates, agent_rates = [], [], []
    for run in range(1, args.runs + 1):
        symbol = f"B{uuid.uuid4().hex[:6]}/USDT:USDT"  # a market of its own: a shared broker keeps earlier runs
        values = sequenced_log(args.events, f"synthetic:{symbol}")
        with tempfile.TemporaryDirectory(prefix="bench-strategy-agent-") as d:
            tmp = Path(d)
            broker = None if args.bootstrap else EmbeddedBroker(free_port(), log_file=tmp / "broker.log").start()
            bootstrap = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
            try:
                conf = {"bootstrap.servers": bootstrap, "log.connection.close": False}
                ensure_topics(conf, [topic(SEQUENCED_TOPIC)])
                fill(conf, SEQUENCED_TOPIC, values, f"synthetic:{symbol}".encode())
                fwd = forwarder_rate(conf, bootstrap, values, tmp)
                agent, outputs = agent_rate(bootstrap, symbol, len(values), tmp)
            finally:
                if broker is not None:
                    broker.stop()
        fwd_rates.append(fwd)
        agent_rates.append(agent)
        rows.append((f"run {run}", fwd, agent, agent / fwd, float(outputs)))
        print(f"run {run}: forwarder {fwd:,.0f}/s, strategy agent {agent:,.0f}/s ({agent / fwd:.2f}x), {outputs} outputs")
    rows.append(("median", median(fwd_rates), median(agent_rates), median(agent_rates) / median(fwd_rates), float("nan")))
    print(table(["", "forwarder events/s", "agent events/s", "ratio", "outputs"], rows))
    print(f"spread: forwarder {spread(fwd_rates)}, agent {spread(agent_rates)}; target ratio >= 0.70; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
