"""The desk roles' metrics, read from what their Faust glue already handles.

The pure cores (strategy, risk, paper execution, kill switch) never touch metrics. The glue in
``streams/desk_agent.py`` calls the functions here with the records it consumes and the records a
core returned for publishing (plain dicts, just before they are encoded), so a metric is exactly
what went over the wire:

=====================  ====================================================================================
published record       metrics (``streams.metrics.DeskMetrics``)
=====================  ====================================================================================
``hb.guard.v1``        ``guard_state`` (the record's new state); the risk role also sets it from the
                       restored (or fresh) guard when it first builds an instance's processor, so a
                       HARD_STOP survives a restart and RUNNING is visible before the first transition
``hb.quote.v1``        ``decision``
``hb.strategy_state``  ``position`` (``position_base``), ``equity`` (``equity_quote``), ``pnl`` =
                       ``realized_pnl_quote - fees_paid_quote + unrealized_pnl_quote`` (realized PnL and
                       fees count for the current UTC day; the unrealized part is the open position at mid)
``hb.fill.v1``         ``fill`` and ``fill_traded`` (notional ``price * size``, fee, by side and liquidity)
``hb.order.v1``        ``order`` (by action); ``tick_to_order`` when the input that caused it was a quote or a
                       market event (below)
``hb.audit.v1``        ``kill_switch_activation`` for ``cancel_all`` (a kill-switch intent) and
                       ``deadman_cancel_all`` (the dead-man's switch)
every record           ``event_out(topic)``; every consumed record ``event_in(topic)``
=====================  ====================================================================================

**Tick to order is measured at the I/O boundary**: wall clock when the glue hands the order to the
producer (the same instant it stamps as the record's ``produce_time``) minus the order's
``event_time``, which the risk gate sets to the exchange time of the newest market event it and the
strategy decision had seen. It therefore includes every hop before the risk role (sequencer,
strategy, sequencer again) but not the producer's own send nor the execution role's hop to the
venue. Orders caused by intents, fills or order updates (kill switch, guard cancels after a fill)
are not samples: no market tick caused them. After a restart the re-processed tail re-publishes
its orders with their old event times, which shows as a few slow samples.

At-least-once: after a crash a role re-processes the inputs since its last checkpoint, so counters
of the new process may count that tail again (the records keep their ids; ClickHouse dedups them).

Other emitters: the market_data role's sequencer records feed age, its events and dead letters
(``processors/market_data/agent.py``); every Faust worker reports its consumer lag
(:func:`watch_consumer_lag`, started by every desk role and the sequencer, once per app).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping, Sequence

import faust

from processors.clock import to_micros
from processors.instance import InstanceSetup
from streams.catalog import MARKET_TOPICS
from streams.metrics import desk_metrics

log = logging.getLogger(__name__)

ROLE_OUTPUTS: Mapping[str, tuple[str, ...]] = {
    "strategy": ("hb.quote.v1", "hb.strategy_state.v1"),
    "risk": ("hb.order.v1", "hb.guard.v1", "hb.execution_intent.v1"),
    "execution": ("hb.order_update.v1", "hb.fill.v1"),
    "kill_switch": ("hb.order.v1", "hb.audit.v1"),
}
"""Topics each desk role publishes; their counters (and the per-instance ones) exist at 0 from the start."""

TICK_SOURCES = frozenset({"hb.quote.v1", *MARKET_TOPICS})
"""Inputs whose orders are tick-to-order samples: a decision on market data, or the gate on a book."""

KILL_SWITCH_ACTIONS = frozenset({"cancel_all", "deadman_cancel_all"})
"""``hb.audit.v1`` actions that are one kill-switch activation (a cancel-all run) each."""

CONSUMER_LAG_INTERVAL_S = 10.0
"""How often a Faust worker reports its consumer lag (Prometheus scrapes every 15-30 s)."""


def declare_role(role: str, instances: Iterable[InstanceSetup], source_topics: Sequence[str]) -> None:
    """Create the role's counters at 0: its input/output topics, dead letters and per-instance counters."""
    m = desk_metrics()
    outs = ROLE_OUTPUTS.get(role, ())
    m.declare_topics(source_topics, "in")
    m.declare_topics(outs, "out")
    m.declare_dlq(source_topics, role)
    for s in instances:
        if "hb.quote.v1" in outs:
            m.declare_decisions(s.id, s.market)
        if "hb.order.v1" in outs:
            m.declare_orders(s.id, s.market)
        if "hb.fill.v1" in outs:
            m.declare_fills(s.id, s.market)
        if "hb.audit.v1" in outs:
            m.declare_kill_switch(s.id)


def record_dead_letter(source_topic: str, processor: str) -> None:
    """One record of ``source_topic`` sent to the DLQ by ``processor`` (the role)."""
    desk_metrics().dlq(source_topic, processor)


def record_input(topic: str) -> None:
    """One record consumed from ``topic``."""
    desk_metrics().event_in(topic)


def record_processor(setup: InstanceSetup, proc: Any) -> None:
    """A processor was built (fresh or from its checkpoint): export the state it starts from."""
    guard = getattr(proc, "guard", None)  # the risk processor's ops guard
    state = getattr(guard, "state", None)
    if state is not None:
        desk_metrics().guard_state(setup.id, setup.market, str(state))


def record_published(setup: InstanceSetup, outputs: Sequence[tuple[str, Mapping[str, Any]]], cause_topic: str,
                     published_s: float) -> None:
    """Records handed to the producer at wall time ``published_s``, caused by an input of ``cause_topic``."""
    m = desk_metrics()
    inst, market = setup.id, setup.market
    for topic, rec in outputs:
        m.event_out(topic)
        if topic == "hb.guard.v1":
            m.guard_state(inst, market, str(rec["state"]))
        elif topic == "hb.quote.v1":
            m.decision(inst, market)
        elif topic == "hb.strategy_state.v1":
            m.position(inst, market, float(rec["position_base"]))
            m.equity(inst, market, float(rec["equity_quote"]))
            m.pnl(inst, market, float(rec["realized_pnl_quote"]) - float(rec["fees_paid_quote"]) + float(rec["unrealized_pnl_quote"]))
        elif topic == "hb.fill.v1":
            m.fill(inst, market)
            m.fill_traded(inst, market, str(rec["side"]), str(rec["liquidity"]), float(rec["price"]) * float(rec["size"]),
                          float(rec["fee_quote"]))
        elif topic == "hb.order.v1":
            m.order(inst, market, str(rec["action"]))
            if cause_topic in TICK_SOURCES:
                m.tick_to_order(published_s - to_micros(rec["event_time"]) / 1e6)
        elif topic == "hb.audit.v1" and rec.get("action") in KILL_SWITCH_ACTIONS:
            m.kill_switch_activation(inst)


def consumer_lags(app: faust.App) -> dict[str, int]:
    """Records between this worker's committed offsets and the partition ends, per topic its agents read.

    Read from what the Faust consumer already holds, without a broker round trip: the high-water
    mark of each assigned partition (from its latest fetch response) and the committed offset
    (Faust's ``_committed_offset``, loaded from the group at assignment and updated at each commit).
    Partitions without a known high-water mark or commit yet (just assigned, nothing committed)
    are left out. Table changelogs and Faust's internal topics are not counted.
    """
    sources: set[str] = set()
    for agent in app.agents.values():
        sources.update(getattr(agent.channel, "topics", ()) or ())
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})
    lags: dict[str, int] = {}
    for tp in consumer.assignment():
        if tp.topic not in sources:
            continue
        high, done = consumer.highwater(tp), committed.get(tp)
        if high is None or done is None:
            continue
        lags[tp.topic] = lags.get(tp.topic, 0) + max(0, int(high) - int(done))
    return lags


def watch_consumer_lag(app: faust.App, interval_s: float = CONSUMER_LAG_INTERVAL_S) -> None:
    """Report ``hbot_consumer_lag{group, topic}`` of this worker's consumer group every ``interval_s``.

    With several replicas of a role, each reports the lag of the partitions it owns; a topic this
    worker no longer owns after a rebalance drops to 0 here.
    """
    if getattr(app, "hbot_consumer_lag_watched", False):
        return  # one report per app, however many roles it runs
    app.hbot_consumer_lag_watched = True  # type: ignore[attr-defined]
    reported: set[str] = set()

    @app.timer(interval_s, name="hbot.consumer_lag")
    async def report_lag() -> None:
        try:
            lags = consumer_lags(app)
        except Exception as exc:  # consumer not started or between rebalances: try again next tick
            log.debug("consumer lag not available yet: %s", exc)
            return
        m = desk_metrics()
        for topic in reported - set(lags):
            m.consumer_lag(app.conf.id, topic, 0)
        for topic, lag in lags.items():
            m.consumer_lag(app.conf.id, topic, lag)
        reported.update(lags)
