"""The strategy role through the real broker: intents take effect at once, and a kill costs nothing.

One synthetic market is published once; a worker running the sequencer and the strategy (desk A)
decides on it live. A second strategy worker (desk B, its own consumer group and table) then reads
the same sequenced log, is SIGKILLed mid-stream and restarted: its decisions must equal desk A's.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from confluent_kafka import Consumer

from hbot.worker import app_id_for
from hbot.worker_process import WorkerProcess, start_worker
from processors.market_data.agent import publish_market
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig
from streams.catalog import SEQUENCED_TOPIC
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.kafka_offsets import commit_at_end, commit_offsets, log_ends
from tests.samples import sample
from tests.tansu_tails import wait_nudging

pytestmark = pytest.mark.broker

SPAN_US = 40 * 60 * 1_000_000  # 40 simulated minutes: about 9k market events and 100 decisions
TARGET = 0.12


@dataclass
class Runs:
    instance: str
    intent_id: str
    target: float
    desk_a: dict[str, dict[str, Any]]
    """Decisions of the uninterrupted desk: event id -> {"quote": ..., "state": ...} by decision_seq order."""
    desk_b: dict[str, dict[str, Any]]
    b_outputs_at_kill: int
    b_restart_log: str


def _wait(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _outputs(w: WorkerProcess) -> int:
    w.check()
    roles = w.progress() or {}
    return int(roles.get("strategy", {}).get("outputs", -1))


def _mine(w: WorkerProcess, instance: str) -> dict[str, int]:
    """The strategy's progress on ``instance`` (inputs applied, latest event time)."""
    w.check()
    return (w.progress() or {}).get("strategy", {}).get("instances", {}).get(instance, {"applied": 0, "event_time_us": 0})


def _settled(w: WorkerProcess, at_least: int, timeout: float = 180) -> int:
    """Wait until the strategy has emitted ``at_least`` outputs and then stays quiet for 3 s."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = _outputs(w)
        if n != last:
            last, since = n, time.monotonic()
        elif n >= at_least and time.monotonic() - since > 3:
            return n
        time.sleep(0.2)
    raise AssertionError(f"the strategy emitted {last} outputs, expected {at_least} and then quiet; see {w.log}")


def _decisions(conf: dict[str, Any], instance: str, since_us: int) -> dict[str, dict[str, Any]]:
    """Quotes and state rows of ``instance`` produced after ``since_us``, paired by decision_seq.

    A restart may publish a decision twice (same event id); both copies must be identical.
    """
    serde = SingleObjectSerde()
    topics = {"hb.quote.v1": "quote", "hb.strategy_state.v1": "strategy_state"}
    c = Consumer({**conf, "group.id": f"read-{time.monotonic_ns()}", "auto.offset.reset": "earliest"})
    c.subscribe(list(topics))
    by_seq: dict[int, dict[str, Any]] = {}
    # Read until the topics stay quiet: partition EOF is unreliable on Tansu, whose log end can sit
    # at the start of the last batch.
    quiet_since, quiet_s, deadline = time.monotonic(), 30.0, time.monotonic() + 120  # 30 s: the group join comes first
    while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        quiet_since, quiet_s = time.monotonic(), 4.0
        rec = serde.decode(m.value(), topics[m.topic()])
        if rec["instance_id"] != instance:
            continue
        if rec["produce_time"].timestamp() * 1e6 < since_us:
            continue
        rec.pop("produce_time")
        kind = "quote" if m.topic() == "hb.quote.v1" else "state"
        slot = by_seq.setdefault(rec["decision_seq"], {})
        if kind in slot:
            assert slot[kind] == rec, f"decision {rec['decision_seq']} was published twice with different contents"
        slot[kind] = rec
    c.close()
    return {str(k): by_seq[k] for k in sorted(by_seq)}


@pytest.fixture(scope="module")
def runs(kafka_conf: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    home = tmp_path_factory.mktemp("strategy-agent")
    unique = home.name.replace("_", "")[-10:] + str(os.getpid())
    instance, symbol = f"s{unique}", f"T{unique}/USDT:USDT"
    market = f"synthetic:{symbol}"
    (home / "instances.yaml").write_text(json.dumps({"instances": [{
        "id": instance, "exchange": "synthetic", "symbol": symbol, "market_type": "perp", "execution": "paper",
        "strategy": {"tick_size": 0.1, "lot_size": 0.001, "total_amount_quote": 10_000.0}}]}))
    env = {**os.environ, "HBOT_KAFKA_BOOTSTRAP": kafka_conf["bootstrap.servers"], "HBOT_HOME": str(home),
           "HBOT_INSTANCES_FILE": str(home / "instances.yaml"), "HBOT_MARKET_SOURCE": "none", "HBOT_DEADMAN_AFTER_S": "0",
           "HBOT_TRACE_EXPORTER": "none", "HBOT_CHECKPOINT_EVERY": "50"}
    workers: list[WorkerProcess] = []
    # Both desks start where this test's records begin: a fresh group would first read every record
    # earlier tests left on the session broker, which on a loaded Tansu outlasts the waits below.
    commit_at_end(kafka_conf, app_id_for(("market_data", "strategy"), f"a{unique}"))
    commit_offsets(kafka_conf, app_id_for(("strategy",), f"b{unique}"), log_ends(kafka_conf, SEQUENCED_TOPIC))
    try:
        a = start_worker("a", "market_data,strategy", {**env, "HBOT_GROUP_PREFIX": f"a{unique}"}, home / "logs")
        workers.append(a)
        _wait(lambda: _outputs(a) >= 0, 90, "desk A to start")
        producer = EventProducer(kafka_conf, SingleObjectSerde())
        events = list(SyntheticMarket(SyntheticMarketConfig(seed=5, market=market)).iter_span(SPAN_US))
        half = len(events) // 2
        publish_market(producer, events[:half], speed=0)
        # The sequencer orders what it receives: the intent goes in after desk A has applied the whole
        # first half, and the second half after the intent.
        half_us = int(events[half - 1][1]["event_time"])
        wait_nudging(kafka_conf, lambda: _mine(a, instance).get("event_time_us", 0) >= half_us, 180,
                     "desk A to reach the middle of the market")
        applied = _mine(a, instance)["applied"]
        intent = sample("execution_intent", overrides={
            "event_id": f"{instance}-intent", "event_time": events[half - 1][1]["event_time"], "instance_id": instance,
            "market": market, "producer": "test", "action": "set_target_base_pct", "target_base_pct": TARGET,
            "regime": None, "reason": "operator", "metadata": {}})
        producer.send("hb.execution_intent.v1", intent)
        producer.flush()
        _wait(lambda: _mine(a, instance)["applied"] > applied, 60, "desk A to apply the intent")
        publish_market(producer, events[half:], speed=0)
        last_us = int(events[-1][1]["event_time"])
        # A pause (a broker's group rebalance) can outlast any quiet period: wait for the last event first.
        wait_nudging(kafka_conf, lambda: _mine(a, instance)["event_time_us"] >= last_us, 300, "desk A to apply the whole market")
        total = _settled(a, at_least=20)
        a.stop()
        desk_a = _decisions(kafka_conf, instance, since_us=0)

        b_env = {**env, "HBOT_GROUP_PREFIX": f"b{unique}"}
        b_started_us = time.time_ns() // 1000
        b = start_worker("b", "strategy", b_env, home / "logs")
        workers.append(b)
        _wait(lambda: _outputs(b) >= total * 2 // 5, 120, "desk B to get 40% through")
        at_kill = _outputs(b)
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(30)
        b2 = start_worker("b2", "strategy", b_env, home / "logs")
        workers.append(b2)
        wait_nudging(kafka_conf, lambda: _mine(b2, instance)["event_time_us"] >= last_us, 300,
                     "desk B to apply the whole market after its restart")
        _settled(b2, at_least=1)
        b2.stop()
        desk_b = _decisions(kafka_conf, instance, since_us=b_started_us)
        from processors.strategy.inventory import clip_target
        from processors.instance import instance_setup
        from hbot.settings import load_instances

        setup = instance_setup(load_instances(home / "instances.yaml").instances[0])
        yield Runs(instance, intent["event_id"], clip_target(TARGET, setup.strategy), desk_a, desk_b, at_kill, b2.log.read_text())
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()


def test_when_a_set_target_intent_arrives_then_target_net_base_pct_changes_within_two_decisions(runs: Runs) -> None:
    seqs = list(runs.desk_a)
    assert len(seqs) >= 20, "the desk made too few decisions to tell"
    applied = [i for i, s in enumerate(seqs) if runs.intent_id in runs.desk_a[s]["quote"]["input_event_ids"]]
    assert len(applied) == 1, f"exactly one decision records the intent among its inputs, found {applied} of {len(seqs)}"
    k = applied[0]
    before = runs.desk_a[seqs[k - 1]]["state"]["target_net_base_pct"]
    around = [(s, runs.desk_a[s]["state"]["target_net_base_pct"], runs.desk_a[s]["quote"]["input_event_ids"][:3]) for s in seqs[max(0, k - 3):k + 3]]
    assert before != pytest.approx(runs.target), f"the target was already the intent's before it: {around}"
    within = [runs.desk_a[s]["state"]["target_net_base_pct"] for s in seqs[k:k + 2]]
    assert any(v == pytest.approx(runs.target) for v in within), within
    # and it holds afterwards: an override is not a one-off
    assert all(runs.desk_a[s]["state"]["target_net_base_pct"] == pytest.approx(runs.target) for s in seqs[k + 2:])


def test_when_the_strategy_worker_is_killed_and_restarted_then_its_decisions_equal_an_uninterrupted_run(runs: Runs) -> None:
    assert 0 < runs.b_outputs_at_kill < 2 * len(runs.desk_a), "the kill must land mid-stream"
    assert "restored from its checkpoint" in runs.b_restart_log, "the restarted worker must continue from its table"
    assert list(runs.desk_b) == list(runs.desk_a)
    for seq, decision in runs.desk_a.items():
        assert runs.desk_b[seq] == decision, f"decision {seq} differs after the restart"
