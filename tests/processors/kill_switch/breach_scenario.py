"""The "synthetic breach" scenario, shared by the acceptance test and ``bench/bench_kill_switch.py``.

A scripted market (no randomness) on one paper instance:

1. **quiet**: books at a steady mid, so the strategy's ladder rests on the paper venue;
2. **sweep**: one large SELL trade through every resting bid fills them (the instance is long),
   then books at the same mid again, so the strategy requotes and orders rest again;
3. **crash**: one book 25 % lower. The marked loss crosses the guard's ``max_daily_loss_pct_hard``
   (0.05 % here: a test instance may set less than the spec's 3 %; the strategy's orders are 0.1 %
   of equity each, so a 3 % daily loss would need a far bigger position). Soft and hard loss limits
   are equal so the guard goes RUNNING -> HARD_STOP in one step, with orders still open;
4. **after**: more books after the stop (each is a second HARD_STOP tick for the guard).

Paper latencies are 0: a cancel takes effect when the venue reads it, so what is measured is the
desk (broker hops and agents), not a simulated exchange delay.

:class:`BreachDesk` runs it through the real ``hbot worker`` (sequencer, strategy, risk, paper
execution, kill switch) on any broker, reading the outputs back with :class:`Collector`;
:func:`run_through_cores` feeds the same script to the processors in-process (the sequencer's
order: one log, outputs appended at its end).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, Producer, TopicPartition

from hbot.worker import app_id_for
from hbot.worker_process import WorkerProcess, start_worker
from processors.clock import to_micros
from streams.catalog import CATALOG, SEQUENCED_TOPIC
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.kafka_offsets import commit_at_end, committed_at_least, log_ends
from tests.samples import sample
from tests.tansu_tails import keys_covering_the_sequenced_log, nudge, wait_nudging

T0 = 1_767_261_600_000_000
"""2026-01-01 10:00 UTC: a fixed event time far from midnight, so the guard's UTC day never rolls over."""
S = 1_000_000
MID = 1000.0
CRASH_MID = 750.0
HARD_LOSS = 0.0005
TICK, LOT = 0.1, 0.001
DESK_ROLES = "market_data,strategy,risk,execution,kill_switch"
WATCHED = ("hb.guard.v1", "hb.execution_intent.v1", "hb.order.v1", "hb.order_update.v1", "hb.fill.v1", "hb.audit.v1")
"""The desk outputs a breach is judged on."""
TERMINAL = frozenset({"CANCELLED", "FILLED", "REJECTED", "EXPIRED"})
_SERDE = SingleObjectSerde()


def instance_entry(instance_id: str, symbol: str) -> dict[str, Any]:
    """The instances-file entry of a breach instance (paper, synthetic exchange, small hard loss limit)."""
    return {
        "id": instance_id, "exchange": "synthetic", "symbol": symbol, "market_type": "perp", "execution": "paper",
        "strategy": {"tick_size": TICK, "lot_size": LOT, "total_amount_quote": 10_000.0},
        "paper": {"initial_balance_quote": 10_000.0, "order_latency_ms": 0.0, "cancel_latency_ms": 0.0},
        "risk": {"guard": {"max_daily_loss_pct_soft": HARD_LOSS, "max_daily_loss_pct_hard": HARD_LOSS}},
    }


# ---------------------------------------------------------------------------------------------- the market
class MarketScript:
    """Books and trades of one market on the scripted path; event time moves 1 s per book unless told."""

    def __init__(self, market: str, t0: int = T0) -> None:
        self.market = market
        self.t = t0
        self.seq = 0

    def book(self, mid: float, dt_us: int = S) -> tuple[str, dict[str, Any]]:
        """A 10-level book around ``mid`` (one tick wide), ``dt_us`` after the previous event."""
        self.t += dt_us
        self.seq += 1
        bids = [{"price": round(mid - TICK * (k + 1), 1), "size": 5.0} for k in range(10)]
        asks = [{"price": round(mid + TICK * (k + 1), 1), "size": 5.0} for k in range(10)]
        return ("hb.market.book.v1", {
            "event_id": f"{self.market}-book-{self.seq}", "event_time": self.t, "market": self.market, "sequence": self.seq,
            "bids": bids, "asks": asks, "mid": mid, "spread_bps": 2 * TICK / mid * 1e4, "source": "test", "sim_regime": None})

    def trade(self, price: float, size: float, aggressor: str) -> tuple[str, dict[str, Any]]:
        """A public trade, 1 s after the previous event."""
        self.t += S
        self.seq += 1
        tid = f"{self.market}-trade-{self.seq}"
        return ("hb.market.trade.v1", {
            "event_id": tid, "event_time": self.t, "market": self.market, "trade_id": tid, "price": price, "size": size,
            "aggressor_side": aggressor, "sequence": self.seq, "source": "test", "informed": None})

    def quiet(self, n: int = 5) -> list[tuple[str, dict[str, Any]]]:
        return [self.book(MID) for _ in range(n)]

    def sweep(self) -> list[tuple[str, dict[str, Any]]]:
        """A SELL far below every bid: it fills them all at their prices (the books after it stay at ``MID``)."""
        return [self.trade(round(MID * 0.99, 1), 50.0, "SELL")]

    def crash(self) -> list[tuple[str, dict[str, Any]]]:
        return [self.book(CRASH_MID)]

    def after(self, n: int = 3, dt_us: int = S) -> list[tuple[str, dict[str, Any]]]:
        return [self.book(round(CRASH_MID - 0.5 * (k + 1), 1), dt_us) for k in range(n)]


# ---------------------------------------------------------------------------------------------- judging
@dataclass(frozen=True)
class Seen:
    topic: str
    partition: int
    offset: int
    record: dict[str, Any]


def hard_stops(seen: Iterable[Seen]) -> list[Seen]:
    return [s for s in seen if s.topic == "hb.guard.v1" and s.record["state"] == "HARD_STOP"]


def kill_intents(seen: Iterable[Seen]) -> list[Seen]:
    return [s for s in seen if s.topic == "hb.execution_intent.v1" and s.record["action"] == "kill_switch"]


def updates(seen: Iterable[Seen]) -> list[dict[str, Any]]:
    return [s.record for s in seen if s.topic == "hb.order_update.v1"]


def open_at(seen: Iterable[Seen], t_us: int) -> set[str]:
    """Client order ids acknowledged before event time ``t_us`` and not closed before it."""
    acked, closed = set(), set()
    for u in updates(seen):
        ut = to_micros(u["event_time"])
        if u["status"] == "ACK" and ut <= t_us:
            acked.add(u["client_order_id"])
        if u["status"] in TERMINAL and ut < t_us:
            closed.add(u["client_order_id"])
    return acked - closed


def cancelled(seen: Iterable[Seen]) -> dict[str, dict[str, Any]]:
    return {u["client_order_id"]: u for u in updates(seen) if u["status"] == "CANCELLED"}


def pending_commands(seen: list[Seen]) -> set[str]:
    """PLACE commands with no answer yet, and CANCELs of orders not closed yet (the venue is behind)."""
    answered = {u["client_order_id"] for u in updates(seen)}
    closed = {u["client_order_id"] for u in updates(seen) if u["status"] in TERMINAL}
    out = set()
    for s in seen:
        if s.topic == "hb.order.v1":
            cid, action = s.record["client_order_id"], s.record["action"]
            if (action == "PLACE" and cid not in answered) or (action == "CANCEL" and cid not in closed):
                out.add(str(cid))
    return out


def open_orders(seen: list[Seen]) -> set[str]:
    acked = {u["client_order_id"] for u in updates(seen) if u["status"] == "ACK"}
    return acked - {u["client_order_id"] for u in updates(seen) if u["status"] in TERMINAL}


# ---------------------------------------------------------------------------------------------- in-process
def run_through_cores(setup: Any, phases: Iterable[list[tuple[str, dict[str, Any]]]]) -> list[Seen]:
    """The script through the strategy, risk, paper execution and kill-switch processors in one process.

    One log stands in for the sequenced log: each phase's market events are appended, and every
    output goes to the end of the log as the sequencer would forward it. The kill switch reads the
    same log (it reads its topics directly in the desk).
    """
    from processors.execution.processor import PaperExecutionProcessor
    from processors.kill_switch.core import KillSwitch
    from processors.risk.processor import RiskProcessor
    from processors.strategy.processor import StrategyProcessor

    procs: list[Any] = [StrategyProcessor(setup), RiskProcessor(setup), PaperExecutionProcessor(setup),
                        KillSwitch(setup.kill_switch, setup.id, setup.market)]
    log: deque[tuple[str, dict[str, Any]]] = deque()
    seen: list[Seen] = []
    for events in phases:
        log.extend(events)
        while log:
            name, rec = log.popleft()
            for p in procs:
                if name in p.inputs:
                    for out in p.on_event(name, rec, ("hb.sequenced.v1", 0, len(seen))):
                        log.append(out)
                        seen.append(Seen(out[0], 0, len(seen), out[1]))
    return seen


# ---------------------------------------------------------------------------------------------- broker side
class Collector:
    """Reads the desk's outputs of some instances from given offsets on, in a background thread."""

    def __init__(self, conf: dict[str, Any], instances: Iterable[str], start: list[TopicPartition]) -> None:
        self._instances = set(instances)
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._stop = threading.Event()
        self.positions: dict[tuple[str, int], int] = {(tp.topic, tp.partition): tp.offset for tp in start}
        self._consumer = Consumer({**conf, "group.id": f"breach-reader-{time.monotonic_ns()}", "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
        self._consumer.assign(start)
        self._thread = threading.Thread(target=self._run, name="breach-collector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for m in self._consumer.consume(500, 0.1):
                if m.error():
                    continue
                self.positions[(m.topic(), m.partition())] = m.offset() + 1
                rec = _SERDE.decode(m.value(), CATALOG[m.topic()].schema, m.topic())
                if rec.get("instance_id") in self._instances:
                    with self._lock:
                        self._seen.append(Seen(m.topic(), m.partition(), m.offset(), rec))

    def seen(self, instance: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if instance is None or s.record["instance_id"] == instance]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def watched_ends(conf: dict[str, Any]) -> list[TopicPartition]:
    return [tp for name in WATCHED for tp in log_ends(conf, name)]


def _sequenced_partition(market: str) -> int:
    return (murmur2(market.encode()) & 0x7FFFFFFF) % CATALOG[SEQUENCED_TOPIC].partitions


def nudge_outputs(conf: dict[str, Any], avoid_market: str | None = None, topics: Iterable[str] = WATCHED) -> None:
    """One record of a market nobody trades on every partition of the watched topics.

    Tansu hides the rest of a partition's newest batch (tests/tansu_tails.py); the desk's outputs
    come in bursts (all CANCELLED updates of a cancel-all in one batch), so this uncovers them. With
    ``avoid_market`` the sequencer's copies stay off that market's partition of the sequenced log,
    so the desk trading it only moves on its own records (what the bench measures).
    """
    keys = keys_covering_the_sequenced_log()
    if avoid_market is not None:
        skip = _sequenced_partition(avoid_market)
        keys = [k for k in keys if _sequenced_partition(k) != skip]
    producer = Producer(conf)
    run = f"{time.monotonic_ns()}"
    i = 0
    for name in topics:
        schema = CATALOG[name].schema
        for partition in range(CATALOG[name].partitions):
            market = keys[i % len(keys)]
            over = {"market": market, "instance_id": f"nudge-{market}", "event_id": f"nudge-{run}-{i}"}
            if name == "hb.execution_intent.v1":
                over["action"] = "set_target_base_pct"
            rec = sample(schema, seed=i + 1, overrides=over)
            producer.produce(name, _SERDE.encode(schema, rec, name), key=market.encode(), partition=partition)
            i += 1
    producer.flush(10)


def wait_until(conf: dict[str, Any], pred: Callable[[], bool], timeout: float, what: str,
               uncover: Callable[[], None] | None = None, every_s: float = 0.5) -> None:
    """Wait until ``pred()``, uncovering Tansu's hidden tails every ``every_s`` (default: market and output topics)."""
    wait_nudging(conf, pred, timeout, what, every_s, uncover or (lambda: (nudge(conf), nudge_outputs(conf))), poll_s=0.05)


@dataclass
class Breach:
    """What one instance's breach left on the topics."""

    instance: str
    market: str
    stop_time_us: int
    """Event time of the crash book (the HARD_STOP's cause)."""
    crash_produced_us: int
    """Wall-clock produce time stamped on the crash book."""

    def open_at_stop(self, seen: list[Seen]) -> set[str]:
        """Orders open when the crash book arrived (from the order updates, by event time)."""
        return open_at(seen, self.stop_time_us)


class BreachDesk:
    """``hbot worker`` with the desk roles on a broker, trading breach instances, and a collector of their outputs."""

    def __init__(self, conf: dict[str, Any], home: Path, env: dict[str, str], instances: list[tuple[str, str]],
                 group_prefix: str) -> None:
        self.conf = conf
        self.home = home
        self.instances = instances
        self.markets = {i: f"synthetic:{s}" for i, s in instances}
        home.mkdir(parents=True, exist_ok=True)
        (home / "instances.yaml").write_text(json.dumps({"instances": [instance_entry(i, s) for i, s in instances]}))
        self.env = {**env, "HBOT_KAFKA_BOOTSTRAP": conf["bootstrap.servers"], "HBOT_HOME": str(home),
                    "HBOT_INSTANCES_FILE": str(home / "instances.yaml"), "HBOT_MARKET_SOURCE": "none",
                    "HBOT_DEADMAN_AFTER_S": "0", "HBOT_TRACE_EXPORTER": "none", "HBOT_GROUP_PREFIX": group_prefix}
        self.group = app_id_for(tuple(DESK_ROLES.split(",")), group_prefix)
        self.producer = EventProducer(conf, _SERDE)
        self.workers: list[WorkerProcess] = []
        # The group and the reader start at the current ends: earlier records on a shared broker are not ours.
        commit_at_end(conf, self.group)
        self.collector = Collector(conf, self.markets, watched_ends(conf))

    # -------------------------------------------------------------- worker
    @property
    def worker(self) -> WorkerProcess:
        return self.workers[-1]

    def start(self, name: str = "desk") -> WorkerProcess:
        w = start_worker(name, DESK_ROLES, self.env, self.home / "logs")
        self.workers.append(w)
        deadline = time.monotonic() + 60
        while w.progress() is None:
            w.check()
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker did not serve /progress/ within 60 s; see {w.log}")
            time.sleep(0.1)
        return w

    def applied(self, instance: str, role: str) -> int:
        """Event time of the latest input ``role`` applied to ``instance`` on the running worker (0 if none)."""
        self.worker.check()
        roles = self.worker.progress() or {}
        return int(roles.get(role, {}).get("instances", {}).get(instance, {}).get("event_time_us", 0))

    def caught_up(self, instance: str, t_us: int, roles: Iterable[str] = ("strategy", "risk", "execution", "kill_switch")) -> bool:
        return all(self.applied(instance, r) >= t_us for r in roles)

    def committed_to(self, ends: list[TopicPartition]) -> bool:
        """The worker's group has committed at least ``ends`` (it acks only what its checkpoints cover)."""
        return committed_at_least(self.conf, self.group, ends)

    def stop(self) -> None:
        self.worker.stop()

    def close(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGKILL)
                w.proc.wait(30)
        self.collector.close()

    # -------------------------------------------------------------- market
    def publish(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for name, rec in events:
            self.producer.send(name, rec)
        self.producer.flush()

    def wait(self, pred: Callable[[], bool], timeout: float, what: str, uncover: Callable[[], None] | None = None,
             every_s: float = 0.5) -> None:
        def check() -> bool:
            self.worker.check()
            return pred()

        try:
            wait_until(self.conf, check, timeout, what, uncover, every_s)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; seen: {self.summary()}; progress: {self.worker.progress()}; "
                                 f"worker log {self.worker.log}") from None

    def summary(self, instance: str | None = None) -> dict[str, int]:
        """How many outputs of each kind the collector has seen (for failure messages)."""
        out: dict[str, int] = {}
        for s in self.collector.seen(instance):
            kind = f"{s.topic}:{s.record.get('action') or s.record.get('state') or s.record.get('status') or ''}"
            out[kind] = out.get(kind, 0) + 1
        return out

    def build_up(self, instance: str, script: MarketScript, timeout: float = 60) -> None:
        """Quiet market, then the sweep: the instance is long, its requoted orders rest, nothing is in flight.

        The quiet market goes on (one more book per wait step) until the desk got there: the
        strategy requotes on a book that comes after the fills, and only books move the venue.
        """
        def keep_quiet() -> None:
            self.publish([script.book(MID)])
            nudge_outputs(self.conf)

        self.publish(script.quiet(3))
        self.wait(lambda: bool(self._side_open(instance, "BUY")) and not pending_commands(self.collector.seen(instance)),
                  timeout, f"{instance}: bids resting in the quiet market", keep_quiet)
        sweep = script.sweep()
        t_sweep = int(sweep[0][1]["event_time"])
        self.publish(sweep)

        def rested() -> bool:
            seen = self.collector.seen(instance)
            fills = [s for s in seen if s.topic == "hb.fill.v1"]
            requoted = [u for u in updates(seen) if u["status"] == "ACK" and to_micros(u["event_time"]) > t_sweep]
            return (bool(fills) and bool(requoted) and not pending_commands(seen) and bool(open_orders(seen))
                    and self.caught_up(instance, script.t))

        self.wait(rested, timeout, f"{instance}: filled, requoted and settled after the sweep", keep_quiet)

    def _side_open(self, instance: str, side: str) -> list[str]:
        seen = self.collector.seen(instance)
        sides = {u["client_order_id"]: u["side"] for u in updates(seen)}
        return [c for c in open_orders(seen) if sides.get(c) == side]

    def crash(self, instance: str, script: MarketScript) -> Breach:
        """Publish the crash book; returns what was open at the stop (by event time)."""
        events = script.crash()
        t = int(events[0][1]["event_time"])
        produced = time.time_ns() // 1000
        self.publish([(name, {**rec, "produce_time": produced}) for name, rec in events])
        return Breach(instance, self.markets[instance], t, produced)

    def stopped_and_cancelled(self, b: Breach) -> bool:
        """The guard hard-stopped, the kill switch fired and completed, every order open at the stop is cancelled."""
        seen = self.collector.seen(b.instance)
        audits = {s.record["action"] for s in seen if s.topic == "hb.audit.v1"}
        return (bool(hard_stops(seen)) and bool(kill_intents(seen)) and {"cancel_all", "kill_switch_completed"} <= audits
                and bool(b.open_at_stop(seen)) and b.open_at_stop(seen) <= set(cancelled(seen)) and not open_orders(seen))

    def quiet_for(self, instance: str, seconds: float, timeout: float) -> None:
        """Wait until no new output of ``instance`` arrived for ``seconds`` (uncovering tails meanwhile)."""
        state = {"n": -1, "since": time.monotonic()}

        def quiet() -> bool:
            n = len(self.collector.seen(instance))
            if n != state["n"]:
                state["n"], state["since"] = n, time.monotonic()
            return time.monotonic() - state["since"] >= seconds

        self.wait(quiet, timeout, f"{instance}: outputs to stop")


def read_produce_us(rec: dict[str, Any]) -> int:
    return to_micros(rec["produce_time"])
