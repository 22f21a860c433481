"""Acceptance, "synthetic breach", through the real workers on a real broker.

One ``hbot worker`` runs the desk (sequencer, strategy, risk, paper execution, kill switch) on
one paper instance. A scripted market (``breach_scenario.py``) lets the strategy's ladder rest,
sweeps the bids so the instance is long, requotes, then crashes the price 25 %: the marked loss
crosses the guard's hard daily-loss limit. The outputs are read back from the topics. Then more
books arrive after the stop (second HARD_STOP ticks), the worker is stopped and restarted, and
more books arrive again: nothing may fire twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from processors.clock import to_micros
from streams.catalog import SEQUENCED_TOPIC
from tests.kafka_offsets import log_ends
from tests.processors.kill_switch.breach_scenario import (
    HARD_LOSS,
    BreachDesk,
    MarketScript,
    Seen,
    cancelled,
    hard_stops,
    kill_intents,
    nudge_outputs,
    open_orders,
    read_produce_us,
)
from tests.tansu_tails import nudge

pytestmark = pytest.mark.broker


@dataclass
class Run:
    instance: str
    stop_time_us: int
    open_at_stop: set[str]
    at_stop: list[Seen]
    """Everything of the instance once the stop was complete (before the after-stop books)."""
    before_restart: list[Seen]
    final: list[Seen]
    after_books_published_us: int
    restarted_us: int
    restart_log: str
    wall_s: float


@pytest.fixture(scope="module")
def run(kafka_conf: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    began = time.monotonic()
    home = tmp_path_factory.mktemp("breach")
    unique = home.name.replace("_", "")[-8:] + str(os.getpid())
    instance, symbol = f"ks{unique}", f"KS{unique}/USDT:USDT"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HBOT_")}
    desk = BreachDesk(kafka_conf, home, env, [(instance, symbol)], group_prefix=f"ks{unique}")
    try:
        desk.start("desk")
        script = MarketScript(desk.markets[instance])
        desk.build_up(instance, script)
        breach = desk.crash(instance, script)
        desk.wait(lambda: desk.stopped_and_cancelled(breach), 60, "HARD_STOP, the kill switch and every order cancelled")
        at_stop = desk.collector.seen(instance)
        # More market after the stop: each book is another HARD_STOP tick for the guard.
        after_us = time.time_ns() // 1000
        after = script.after(3)
        desk.publish(after)
        desk.wait(lambda: desk.caught_up(instance, int(after[-1][1]["event_time"])), 60, "the desk to apply the books after the stop")
        desk.quiet_for(instance, 1.5, 30)
        before_restart = desk.collector.seen(instance)
        # Restart only once the worker has committed what it read (it commits what its checkpoints cover).
        nudge(kafka_conf)
        nudge_outputs(kafka_conf)
        ends = [tp for name in (SEQUENCED_TOPIC, "hb.execution_intent.v1", "hb.order_update.v1") for tp in log_ends(kafka_conf, name)]
        desk.wait(lambda: desk.committed_to(ends), 60, "the worker to commit its inputs")
        desk.stop()
        restarted_us = time.time_ns() // 1000
        desk.start("restarted")
        again = script.after(3)
        desk.publish(again)
        desk.wait(lambda: desk.caught_up(instance, int(again[-1][1]["event_time"])), 90,
                  "the restarted desk to apply the books after its restart")
        desk.quiet_for(instance, 2.0, 30)
        final = desk.collector.seen(instance)
        yield Run(instance, breach.stop_time_us, breach.open_at_stop(final), at_stop, before_restart, final, after_us,
                  restarted_us, desk.worker.log.read_text(), time.monotonic() - began)
    finally:
        desk.close()


def _of(seen: list[Seen], topic: str, **match: Any) -> list[dict[str, Any]]:
    return [s.record for s in seen if s.topic == topic and all(s.record.get(k) == v for k, v in match.items())]


def test_when_the_marked_loss_crosses_the_hard_limit_then_the_guard_goes_hard_stop_exactly_once(run: Run) -> None:
    assert _of(run.final, "hb.fill.v1"), "the sweep must have built inventory before the crash"
    stops = [s.record for s in hard_stops(run.final)]
    assert len(stops) == 1, f"one HARD_STOP transition, got {len(stops)}"
    g = stops[0]
    assert g["previous_state"] == "RUNNING" and "daily_loss_hard_limit" in g["reasons"]
    assert g["daily_pnl_pct"] <= -HARD_LOSS
    assert to_micros(g["event_time"]) == run.stop_time_us, "the crash book itself must trip the guard"
    assert len(_of(run.final, "hb.guard.v1")) == 1, "no other guard transition before, during or after the stop"


def test_when_the_guard_hard_stops_then_exactly_one_kill_switch_intent_is_published(run: Run) -> None:
    intents = [s.record for s in kill_intents(run.final)]
    assert len(intents) == 1, f"exactly one kill_switch intent across the stop, later ticks and the restart, got {len(intents)}"
    guard = hard_stops(run.final)[0].record
    assert intents[0]["producer"] == "risk_guard"
    assert intents[0]["metadata"]["guard_event_id"] == guard["event_id"]


def test_when_the_guard_hard_stops_then_every_order_open_at_the_stop_is_cancelled_and_none_is_placed(run: Run) -> None:
    assert len(run.open_at_stop) >= 2, f"the ladder must be resting at the crash, open: {run.open_at_stop}"
    done = cancelled(run.at_stop)
    missing = run.open_at_stop - set(done)
    assert not missing, f"orders open at the stop but never CANCELLED: {sorted(missing)}"
    assert all(to_micros(done[c]["event_time"]) == run.stop_time_us for c in run.open_at_stop)
    assert not open_orders(run.final), "no order of the instance may stay open"
    placed_after = [o for o in _of(run.final, "hb.order.v1", action="PLACE") if to_micros(o["event_time"]) >= run.stop_time_us]
    assert placed_after == [], "the gate must not place anything once HARD_STOP"


def test_when_the_kill_switch_fires_then_the_audit_topic_shows_its_cancel_all(run: Run) -> None:
    intent = kill_intents(run.final)[0].record
    cancels = _of(run.final, "hb.audit.v1", action="cancel_all")
    assert len(cancels) == 1, cancels
    assert cancels[0]["actor"] == "kill_switch" and cancels[0]["severity"] == "CRITICAL" and not cancels[0]["dry_run"]
    assert cancels[0]["details"]["intent_id"] == intent["event_id"]
    ks_orders = _of(run.final, "hb.order.v1", reason="kill_switch")
    assert [(o["action"], o["decision_id"]) for o in ks_orders] == [("CANCEL_ALL", intent["event_id"])]
    completed = _of(run.final, "hb.audit.v1", action="kill_switch_completed")
    assert len(completed) == 1 and completed[0]["details"]["intent_id"] == intent["event_id"]


def test_when_more_market_data_arrives_after_the_stop_then_nothing_more_is_published(run: Run) -> None:
    later = [(s.topic, s.record.get("action") or s.record.get("state") or s.record.get("status"))
             for s in run.before_restart if read_produce_us(s.record) >= run.after_books_published_us]
    assert later == [], f"a second HARD_STOP tick must publish nothing: {later}"
    assert len(run.before_restart) == len(run.at_stop)


def test_when_the_worker_restarts_after_the_stop_then_no_kill_switch_fires_again(run: Run) -> None:
    for role in ("risk", "kill_switch"):
        assert f"{role}: {run.instance} restored from its checkpoint" in run.restart_log, f"{role} must continue from its checkpoint"
    after_restart = [(s.topic, s.record.get("action") or s.record.get("state") or s.record.get("status"))
                     for s in run.final if read_produce_us(s.record) >= run.restarted_us]
    assert after_restart == [], f"the restarted desk must publish nothing for the stopped instance: {after_restart}"
    assert len(kill_intents(run.final)) == 1 and len(_of(run.final, "hb.audit.v1", action="cancel_all")) == 1

