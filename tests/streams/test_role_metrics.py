"""The desk roles' metrics: what each published record records, that every metric an alert rule reads
has an emitter wired in a role, and that a real ``hbot worker`` running the desk exports them moving."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families as parse_text

from hbot.roles import ROLES
from hbot.settings import InstanceConfig
from processors.instance import InstanceSetup, instance_setup
from processors.risk.processor import RiskProcessor
from streams import role_metrics
from streams.broker import free_port
from streams.metrics import DeskMetrics, use_metrics
from tests.samples import sample
from tests.streams.test_metrics import MONITORING, Clock, points, rule_metric_names, value

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("hbot", "processors", "streams", "sinks")
DESK_ROLES = "market_data,strategy,risk,execution,kill_switch"
SINK_METRICS = {"hbot_sink_rows_total", "hbot_sink_insert_failures_total"}
"""Emitted by the sink role only; tests/streams/test_metrics.py runs the sink and checks they move."""
LIVE_ONLY_METRICS = {"hbot_reconciliation_drift_pct"}
"""Emitted for live instances only (reconciliation); tests/processors/reconciliation runs a comparison round."""


def setup_for(instance: str, exchange: str, symbol: str = "X/USDT:USDT") -> InstanceSetup:
    return instance_setup(InstanceConfig(
        id=instance, exchange=exchange, symbol=symbol, market_type="perp", execution="paper",
        strategy={"tick_size": 0.1, "lot_size": 0.001, "total_amount_quote": 10_000.0},
        paper={"initial_balance_quote": 10_000.0}))


@pytest.fixture
def installed() -> Iterator[tuple[DeskMetrics, InMemoryMetricReader, Clock]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    clock = Clock(1_700_000_000.0)
    previous = use_metrics(DeskMetrics(provider, clock=clock))
    try:
        yield role_metrics.desk_metrics(), reader, clock
    finally:
        use_metrics(previous)
        provider.shutdown()


# -- what each published record records (no broker) ------------------------------------------------------

def test_when_a_role_is_declared_then_its_topics_and_instance_counters_exist_at_zero(installed: Any) -> None:
    _, reader, _ = installed
    s = setup_for("bot1", "ex")
    role_metrics.declare_role("risk", [s], ("hb.sequenced.v1",))
    role_metrics.declare_role("execution", [s], ("hb.sequenced.v1",))
    role_metrics.declare_role("kill_switch", [s], ("hb.execution_intent.v1",))
    pts = points(reader)
    assert value(pts, "hbot.events", topic="hb.sequenced.v1", direction="in") == 0
    assert value(pts, "hbot.events", topic="hb.guard.v1", direction="out") == 0
    assert value(pts, "hbot.dlq.records", source_topic="hb.sequenced.v1", processor="risk") == 0
    assert value(pts, "hbot.dlq.records", source_topic="hb.execution_intent.v1", processor="kill_switch") == 0
    for action in ("PLACE", "CANCEL", "CANCEL_ALL"):
        assert value(pts, "hbot.orders", instance="bot1", market=s.market, action=action) == 0
    assert value(pts, "hbot.fills", instance="bot1", market=s.market) == 0
    assert value(pts, "hbot.fill.notional_quote", instance="bot1", market=s.market, side="SELL", liquidity="TAKER") == 0
    assert value(pts, "hbot.kill_switch.activations", instance="bot1") == 0
    assert "hbot.decisions" not in pts  # the strategy role was not declared here


def test_when_outputs_are_published_then_each_record_kind_moves_its_metrics(installed: Any) -> None:
    _, reader, clock = installed
    s = setup_for("bot1", "ex")
    t_us = int((clock.now - 0.25) * 1e6)
    base = {"instance_id": s.id, "market": s.market, "event_time": t_us}
    outputs = [
        ("hb.quote.v1", sample("quote", overrides=base)),
        ("hb.strategy_state.v1", sample("strategy_state", overrides={
            **base, "position_base": -0.02, "equity_quote": 10_010.0, "realized_pnl_quote": 12.0,
            "fees_paid_quote": 2.0, "unrealized_pnl_quote": -1.5})),
        ("hb.fill.v1", sample("fill", overrides={**base, "side": "BUY", "liquidity": "MAKER", "price": 100.0,
                                                  "size": 0.5, "fee_quote": 0.01})),
        ("hb.fill.v1", sample("fill", seed=2, overrides={**base, "side": "BUY", "liquidity": "MAKER", "price": 100.0,
                                                          "size": 0.5, "fee_quote": -0.02})),
        ("hb.guard.v1", sample("guard", overrides={**base, "state": "SOFT_PAUSE"})),
        ("hb.audit.v1", sample("audit", overrides={**base, "action": "cancel_all"})),
        ("hb.audit.v1", sample("audit", seed=2, overrides={**base, "action": "kill_switch_completed"})),
    ]
    role_metrics.record_published(s, outputs, "hb.market.book.v1", clock.now)
    pts = points(reader)
    assert value(pts, "hbot.decisions", instance="bot1", market=s.market) == 1
    assert value(pts, "hbot.position.base", instance="bot1", market=s.market) == -0.02
    assert value(pts, "hbot.equity.quote", instance="bot1", market=s.market) == 10_010.0
    assert value(pts, "hbot.pnl.quote", instance="bot1", market=s.market) == pytest.approx(12.0 - 2.0 - 1.5)
    assert value(pts, "hbot.fills", instance="bot1", market=s.market) == 2
    fill_labels = {"instance": "bot1", "market": s.market, "side": "BUY", "liquidity": "MAKER"}
    assert value(pts, "hbot.fill.notional_quote", **fill_labels) == pytest.approx(100.0)
    assert value(pts, "hbot.fill.fees_quote", **fill_labels) == pytest.approx(0.01)
    assert value(pts, "hbot.fill.rebates_quote", **fill_labels) == pytest.approx(0.02)
    assert value(pts, "hbot.guard.state", instance="bot1", market=s.market) == 1
    assert value(pts, "hbot.kill_switch.activations", instance="bot1") == 1  # completion is not a second one
    assert value(pts, "hbot.events", topic="hb.fill.v1", direction="out") == 2
    assert "hbot.tick_to_order" not in pts  # no order published


@pytest.mark.parametrize("cause,sampled", [("hb.quote.v1", True), ("hb.market.book.v1", True),
                                           ("hb.execution_intent.v1", False), ("hb.fill.v1", False), ("deadman", False)])
def test_when_an_order_is_published_then_tick_to_order_is_sampled_only_for_market_causes(
        installed: Any, cause: str, sampled: bool) -> None:
    _, reader, clock = installed
    s = setup_for("bot1", "ex")
    order = sample("order", overrides={"instance_id": s.id, "market": s.market, "action": "PLACE",
                                       "event_time": int((clock.now - 0.042) * 1e6)})
    role_metrics.record_published(s, [("hb.order.v1", order)], cause, clock.now)
    pts = points(reader)
    assert value(pts, "hbot.orders", instance="bot1", market=s.market, action="PLACE") == 1
    if sampled:
        p = value(pts, "hbot.tick_to_order")
        assert p.count == 1 and p.sum == pytest.approx(0.042, abs=1e-6)
    else:
        assert "hbot.tick_to_order" not in pts


def test_when_a_risk_processor_is_built_then_its_guard_state_is_exported_before_any_transition(installed: Any) -> None:
    _, reader, _ = installed
    s = setup_for("bot1", "ex")
    proc = RiskProcessor(s)
    role_metrics.record_processor(s, proc)
    assert value(points(reader), "hbot.guard.state", instance="bot1", market=s.market) == 0
    restored = RiskProcessor.restore(s, {**proc.snapshot(), "guard": {**proc.guard.snapshot(), "state": "HARD_STOP"}})
    role_metrics.record_processor(s, restored)
    assert value(points(reader), "hbot.guard.state", instance="bot1", market=s.market) == 2


def test_when_a_market_record_arrives_then_feed_age_counts_from_its_arrival(installed: Any) -> None:
    m, reader, clock = installed
    m.feed_received("ex:X")
    clock.now += 12.5
    assert value(points(reader), "hbot.feed.age", market="ex:X") == pytest.approx(12.5)
    m.feed_received("ex:X")
    assert value(points(reader), "hbot.feed.age", market="ex:X") == pytest.approx(0.0)


# -- every metric an alert rule reads has an emitter wired in a role -----------------------------------------

PROBE_ARGS: dict[str, Any] = {
    "instance": "bot1", "market": "ex:X", "state": "RUNNING", "topic": "t", "source_topic": "t", "processor": "p",
    "group": "g", "lag": 3, "exchange_time_us": 1, "seconds": 0.1, "base": 1.0, "quote": 1.0, "n": 1, "table": "x",
    "fraction": 0.1, "side": "BUY", "liquidity": "MAKER", "notional_quote": 1.0, "fee_quote": 1.0, "action": "PLACE",
}


def prometheus_names_of_each_method() -> dict[str, set[str]]:
    """DeskMetrics method -> the hbot_* Prometheus names one call of it exports."""
    out: dict[str, set[str]] = {}
    for name, fn in inspect.getmembers(DeskMetrics, inspect.isfunction):
        if name.startswith(("_", "declare")):
            continue
        params = [p for p in inspect.signature(fn).parameters if p != "self"]
        missing = [p for p in params if p not in PROBE_ARGS]
        assert not missing, f"add a probe value for DeskMetrics.{name}({', '.join(missing)}) to PROBE_ARGS"
        registry = CollectorRegistry()
        reader = PrometheusMetricReader(scope_info_enabled=False, registry=registry)
        provider = MeterProvider(metric_readers=[reader])
        try:
            getattr(DeskMetrics(provider), name)(**{p: PROBE_ARGS[p] for p in params})
            text = generate_latest(registry).decode()
        finally:
            provider.shutdown()
        out[name] = {re.sub(r"_(bucket|sum|count|created)$", "", s.name) if s.name.startswith("hbot_tick_to_order") else s.name
                     for fam in parse_text(text) for s in fam.samples if s.name.startswith("hbot_")}
    return out


def _module_file(module: str) -> Path | None:
    if module.split(".")[0] not in PACKAGES:
        return None
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def import_closure(entry: Path) -> set[Path]:
    """The repo modules ``entry`` imports, directly or not (function-level imports included)."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for n in names:
                found = _module_file(n)
                if found is not None:
                    todo.append(found)
    return seen


HELPERS = REPO / "streams" / "role_metrics.py"
"""The desk glue's metrics helpers: their calls count only where a role's module calls the helper."""


def _is_desk_metrics(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "desk_metrics"


def _direct_calls(tree: ast.AST, bound: set[str]) -> set[str]:
    """Methods called on the desk metrics in ``tree``: ``desk_metrics().x(...)`` or ``m.x(...)`` with ``m`` in ``bound``."""
    return {node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and (_is_desk_metrics(node.func.value) or (isinstance(node.func.value, ast.Name) and node.func.value.id in bound))}


def _bound_names(tree: ast.AST) -> set[str]:
    return {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and _is_desk_metrics(node.value)
            for t in node.targets if isinstance(t, ast.Name)}


def helper_calls() -> dict[str, set[str]]:
    """``role_metrics`` function -> the desk-metrics methods it calls."""
    tree = ast.parse(HELPERS.read_text())
    return {f.name: _direct_calls(f, _bound_names(f)) for f in tree.body if isinstance(f, ast.FunctionDef)}


def metric_calls(path: Path, helpers: dict[str, set[str]] | None = None) -> set[str]:
    """Desk-metrics methods ``path`` calls, directly or through a ``role_metrics.<helper>(...)`` call."""
    helpers = helper_calls() if helpers is None else helpers
    tree = ast.parse(path.read_text())
    through = {node.func.attr for node in ast.walk(tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and isinstance(node.func.value, ast.Name) and node.func.value.id == "role_metrics"}
    unknown = through - set(helpers)
    assert not unknown, f"{path}: role_metrics has no {sorted(unknown)}"
    return _direct_calls(tree, _bound_names(tree)).union(*(helpers[h] for h in through))


def role_entry(role: str) -> Path | None:
    """The module that registers ``role`` in ``hbot worker`` (None for a role this build has no agents for)."""
    if role == "sink":
        return REPO / "sinks" / "clickhouse" / "writer.py"  # what hbot.worker.register_sink runs
    path = REPO / "processors" / role / "agent.py"
    return path if path.exists() else None


def documented_without_emitter() -> set[str]:
    """Metrics deploy/monitoring/README.md says nothing emits yet (its "Who emits what" table)."""
    text = (MONITORING / "README.md").read_text()
    section = text[text.index("### Who emits what"):text.index("## Alerts")]
    return {name for line in section.splitlines() if line.startswith("| **nobody yet**")
            for name in re.findall(r"`(hbot_[a-z0-9_]+)`", line)}


def emitters_by_role() -> dict[str, set[str]]:
    """Role -> the hbot_* Prometheus names some module of that role records (statically, by call sites)."""
    names_of = prometheus_names_of_each_method()
    helpers = helper_calls()
    skip = {REPO / "streams" / "metrics.py", HELPERS}  # the definitions; helpers count where they are called
    out: dict[str, set[str]] = {}
    for role in ROLES:
        entry = role_entry(role)
        if entry is None:
            continue
        called = set().union(*(metric_calls(p, helpers) for p in import_closure(entry) if p not in skip))
        out[role] = set().union(*(names_of.get(c, set()) for c in called))
    return out


def test_every_metric_an_alert_rule_reads_has_an_emitter_wired_in_a_role() -> None:
    rules = rule_metric_names()
    by_role = emitters_by_role()
    emitted = set().union(*by_role.values())
    missing = documented_without_emitter()
    assert missing <= rules, f"README lists {sorted(missing - rules)} as not emitted, but no rule reads them"
    unwired = rules - emitted - missing
    assert not unwired, f"alert rules read {sorted(unwired)} but no role records them: {by_role}"
    wired_after_all = missing & emitted
    assert not wired_after_all, f"{sorted(wired_after_all)} are emitted now: update the 'nobody yet' row in deploy/monitoring/README.md"
    # The desk's roles each record their part (removing one role's wiring fails here).
    assert {"hbot_feed_age_seconds", "hbot_consumer_lag", "hbot_dlq_records_total"} <= by_role["market_data"]
    assert {"hbot_guard_state", "hbot_tick_to_order_seconds", "hbot_orders_total"} <= by_role["risk"]
    assert {"hbot_kill_switch_activations_total"} <= by_role["kill_switch"]
    assert {"hbot_reconciliation_drift_pct"} <= by_role["reconciliation"]
    assert SINK_METRICS <= by_role["sink"]


@pytest.mark.parametrize("module,call,lost", [
    ("processors/market_data/agent.py", "metrics.feed_received(", "feed_received"),
    ("streams/desk_agent.py", "role_metrics.record_published(", "tick_to_order"),
    ("streams/desk_agent.py", "role_metrics.record_published(", "kill_switch_activation"),
    ("streams/desk_agent.py", "role_metrics.watch_consumer_lag(", "consumer_lag"),
    ("processors/kill_switch/agent.py", "role_metrics.record_published(", "kill_switch_activation"),
])
def test_when_a_call_site_is_removed_then_the_emitter_check_notices(tmp_path: Path, module: str, call: str, lost: str) -> None:
    source = (REPO / module).read_text()
    assert call in source
    stripped = tmp_path / "module.py"
    stripped.write_text(source.replace(call, "removed_for_the_test("))
    assert lost in metric_calls(REPO / module)
    assert lost not in metric_calls(stripped)


# -- a real desk worker exports them, moving ------------------------------------------------------------------

def scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        body = resp.read().decode()
    return [(s.name, dict(s.labels), s.value) for f in parse_text(body) for s in f.samples]


def metric(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float | None:
    found = [v for n, lab, v in samples if n == name and all(lab.get(k) == v_ for k, v_ in labels.items())]
    return sum(found) if found else None


@pytest.mark.broker
def test_when_the_desk_worker_trades_then_every_rule_metric_is_exported_and_moves(
        kafka_conf: dict[str, Any], hbot_env: dict[str, str], unique: str, tmp_path: Path) -> None:
    from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig
    from streams.producer import EventProducer
    from streams.serde import SingleObjectSerde

    instance, exchange = f"m{unique}", f"mx{unique}"
    setup = setup_for(instance, exchange)
    market = setup.market
    instances = tmp_path / "instances.yaml"
    instances.write_text(f"instances:\n  - id: {instance}\n    exchange: {exchange}\n    symbol: X/USDT:USDT\n"
                         "    strategy: {tick_size: 0.1, lot_size: 0.001, total_amount_quote: 10000.0}\n"
                         "    paper: {initial_balance_quote: 10000.0}\n")
    port = free_port()
    log_path = tmp_path / "worker.log"
    env = {**hbot_env, "HBOT_INSTANCES_FILE": str(instances), "HBOT_MARKET_SOURCE": "none", "HBOT_DEADMAN_AFTER_S": "0",
           "HBOT_GROUP_PREFIX": f"t{unique}", "OTEL_METRICS_EXPORTER": "prometheus",
           "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1", "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)}
    # The worker's group starts at the topic ends: from the start it would first read every record
    # earlier tests left on the session broker (slow on a loaded Tansu, and their bad records count).
    from hbot.worker import app_id_for
    from tests.kafka_offsets import commit_at_end

    commit_at_end(kafka_conf, app_id_for(tuple(DESK_ROLES.split(",")), f"t{unique}"))
    worker = subprocess.Popen([sys.executable, "-m", "hbot.cli", "worker", "--role", DESK_ROLES], env=env, cwd=tmp_path,
                              stdout=open(log_path, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    latest: list[tuple[str, dict[str, str], float]] = []

    def wait_for(what: str, ok: Callable[[list[tuple[str, dict[str, str], float]]], bool], timeout: float = 180,
                 nudge: Callable[[], None] | None = None) -> list[tuple[str, dict[str, str], float]]:
        deadline = time.monotonic() + timeout
        next_nudge = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert worker.poll() is None, log_path.read_text()[-3000:]
            try:
                latest[:] = scrape(port)
            except OSError:
                latest[:] = []
            if latest and ok(latest):
                return latest
            if nudge is not None and time.monotonic() > next_nudge:
                nudge()
                next_nudge = time.monotonic() + 5
            time.sleep(0.3)
        hbot = sorted({(n, tuple(sorted(lab.items())), v) for n, lab, v in latest if n.startswith("hbot_")})
        raise AssertionError(f"{what} within {timeout:.0f} s; hbot_* exported: {hbot}\n{log_path.read_text()[-3000:]}")

    try:
        # 1. Three seconds of a synthetic market stamped with today's clock: the strategy decides, the gate places.
        now_us = time.time_ns() // 1000
        synthetic = SyntheticMarket(SyntheticMarketConfig(seed=3, market=market, start_us=now_us - 3_000_000))
        events = list(takewhile(lambda e: e[1]["event_time"] < now_us, synthetic.iter_span(6_000_000)))
        for name, rec in events:
            producer.send(name, rec)
        producer.flush()
        wait_for("orders placed", lambda s: (metric(s, "hbot_orders_total", instance=instance, action="PLACE") or 0) > 0)
        book = [r for n, r in events if n == "hb.market.book.v1"][-1]
        seq = iter(range(1, 1000))

        def trade_through() -> None:
            # A later book activates the resting orders at the venue; a large sell far below the bid fills our bids.
            k = next(seq)
            t = time.time_ns() // 1000
            producer.send("hb.market.book.v1", {**book, "event_id": f"{unique}-book-{k}", "event_time": t,
                                                "sequence": book["sequence"] + k})
            producer.send("hb.market.trade.v1", {
                "event_id": f"{unique}-trade-{k}", "event_time": t + 100_000, "produce_time": t, "market": market,
                "trade_id": f"{unique}-{k}", "price": book["mid"] * 0.99, "size": 5.0, "aggressor_side": "SELL",
                "sequence": 10**9 + k, "source": "test", "informed": None})
            producer.flush()

        trade_through()
        wait_for("fills", lambda s: (metric(s, "hbot_fills_total", instance=instance) or 0) > 0, nudge=trade_through)
        wait_for("a position from the strategy", lambda s: (metric(s, "hbot_position_base", instance=instance) or 0) > 0,
                 nudge=trade_through)

        # 2. An operator's kill switch: the guard goes to HARD_STOP, the kill switch cancels everything.
        t = time.time_ns() // 1000
        producer.send("hb.execution_intent.v1", {
            "event_id": f"{unique}-kill", "event_time": t, "produce_time": t, "instance_id": instance, "market": market,
            "producer": "operator", "action": "kill_switch", "target_base_pct": None, "regime": None,
            "reason": "test", "metadata": {}})
        # 3. Two records nobody can decode: the sequencer and the kill switch (reading intents directly) dead-letter them.
        producer.send_raw("hb.execution_intent.v1", b"not avro", key=market.encode())
        producer.flush()
        samples = wait_for("kill switch, guard, dead letters and consumer lag", lambda s: (
            (metric(s, "hbot_kill_switch_activations_total", instance=instance) or 0) >= 1
            and metric(s, "hbot_guard_state", instance=instance, market=market) == 2
            and (metric(s, "hbot_dlq_records_total", source_topic="hb.execution_intent.v1", processor="sequencer") or 0) >= 1
            and (metric(s, "hbot_dlq_records_total", source_topic="hb.execution_intent.v1", processor="kill_switch") or 0) >= 1
            and metric(s, "hbot_consumer_lag", topic="hb.sequenced.v1") is not None))
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()

    exported = {n for n, _, _ in samples if n.startswith("hbot_")}
    exported |= {re.sub(r"_(bucket|sum|count|created)$", "", n) for n in exported if n.startswith("hbot_tick_to_order")}
    expected = rule_metric_names() - SINK_METRICS - LIVE_ONLY_METRICS - documented_without_emitter()
    assert expected <= exported, f"the desk worker does not export {sorted(expected - exported)}"
    # Each moved, with the contract's labels and plausible values.
    assert 0 <= metric(samples, "hbot_feed_age_seconds", market=market) < 120  # type: ignore[operator]
    ticks = metric(samples, "hbot_tick_to_order_seconds_count")
    assert ticks and ticks >= 1
    assert 0 < metric(samples, "hbot_tick_to_order_seconds_sum") / ticks < 60  # type: ignore[operator]
    assert (metric(samples, "hbot_decisions_total", instance=instance) or 0) >= 1
    fills = metric(samples, "hbot_fills_total", instance=instance, market=market)
    assert fills and fills >= 1
    assert metric(samples, "hbot_fill_notional_quote_total", instance=instance, side="BUY", liquidity="MAKER") > 0  # type: ignore[operator]
    assert metric(samples, "hbot_fill_fees_quote_total", instance=instance, side="BUY", liquidity="MAKER") > 0  # type: ignore[operator]
    assert metric(samples, "hbot_equity_quote", instance=instance, market=market) == pytest.approx(10_000, rel=0.05)
    assert metric(samples, "hbot_pnl_quote", instance=instance, market=market) is not None
    assert (metric(samples, "hbot_orders_total", instance=instance, action="CANCEL_ALL") or 0) >= 1
    assert (metric(samples, "hbot_events_total", topic="hb.sequenced.v1", direction="in") or 0) > 0
    assert (metric(samples, "hbot_events_total", topic="hb.fill.v1", direction="out") or 0) >= 1
    groups = {lab["group"] for n, lab, _ in samples if n == "hbot_consumer_lag"}
    assert groups == {f"t{unique}-roles-" + "-".join(sorted(DESK_ROLES.split(",")))} or groups == {
        "hbot-roles-" + "-".join(sorted(DESK_ROLES.split(",")))}  # the group prefix setting, when this build has it
