"""``hbot demo``: the whole desk on the embedded broker and embedded ClickHouse, end to end.

1. Start the embedded broker (or use ``HBOT_KAFKA_BOOTSTRAP``) and create the topics.
2. Start two workers: the desk (sequencer, strategy, risk, paper execution, kill switch) and the
   ClickHouse sink, in child processes (two processes use both cores; chDB is single-process).
3. Publish the market over the chosen span: the seeded synthetic market, or a recording's stored
   records (``--source FILE``, see :mod:`hbot.demo_source`; the desk's paper instance then trades the
   recording's market). The publisher never runs more than ``window`` seconds of event time ahead of
   the slowest desk role (read from the desk's ``/progress/`` view), so the desk's quotes, orders and
   fills stay close to the market in event time whatever the machine's speed.
4. Wait until the desk and the sink are idle, stop both workers, and summarise from ClickHouse.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from hbot.demo_source import DemoMarket
from hbot.settings import HbotSettings
from hbot.worker_process import WorkerProcess, start_worker

DESK_ROLES = "market_data,strategy,risk,execution,kill_switch"
LOOP_ROLES = ("strategy", "risk", "execution")


def _start_worker(name: str, roles: str, env: dict[str, str], home: Path) -> WorkerProcess:
    return start_worker(f"demo-{name}", roles, env, home / "logs")


def parse_span(span: str) -> int:
    """'1d', '6h', '90m', '30s' -> microseconds; raises ValueError with the accepted forms."""
    units = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
    span = span.strip().lower()
    if len(span) < 2 or span[-1] not in units:
        raise ValueError(f"span {span!r}: use a number and a unit d, h, m or s, e.g. 1d or 6h")
    try:
        value = float(span[:-1])
    except ValueError:
        raise ValueError(f"span {span!r}: use a number and a unit d, h, m or s, e.g. 1d or 6h") from None
    if value <= 0:
        raise ValueError(f"span {span!r} must be positive")
    return int(value * units[span[-1]] * 1_000_000)


def _instances_file(market: DemoMarket, home: Path) -> Path:
    """The instances YAML of the demo's one paper instance (on the market the demo publishes)."""
    import yaml

    path = home / "demo" / "instances.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"instances": [market.instance.model_dump(mode="json")]}, sort_keys=False))
    return path


def run_demo(settings: HbotSettings, market: DemoMarket, window_s: float, fresh: bool, console: Console) -> dict[str, Any]:
    """Run the demo on ``market``; prints and returns the summary (also written under HOME/reports/demo/)."""
    from processors.market_data.agent import publish_market
    from sinks.clickhouse.client import connect
    from streams.admin import ensure_topics
    from streams.broker import EmbeddedBroker, free_port
    from streams.producer import EventProducer
    from streams.serde import serde_from_settings

    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    if fresh and settings.clickhouse_dsn is None and settings.clickhouse_dir.exists():
        shutil.rmtree(settings.clickhouse_dir)  # the demo's embedded data starts from nothing
    broker = None
    if settings.kafka_bootstrap is None:
        console.print("starting the embedded Tansu broker (in memory) ...")
        broker = EmbeddedBroker(free_port(), log_file=home / "logs" / "broker.log").start()
        bootstrap = broker.bootstrap
    else:
        bootstrap = settings.kafka_bootstrap
    conf = {**settings.kafka_client_config(), "bootstrap.servers": bootstrap, "log.connection.close": False}
    workers: list[WorkerProcess] = []
    started = time.monotonic()
    try:
        ensure_topics(conf)
        env = {**os.environ, "HBOT_KAFKA_BOOTSTRAP": bootstrap, "HBOT_HOME": str(home), "HBOT_MARKET_SOURCE": "none",
               "HBOT_DEADMAN_AFTER_S": "0"}  # the demo pauses the market while the desk catches up: not a dead desk
        if market.source != "synthetic":  # the desk trades the recording's market, whatever instances file is set
            env["HBOT_INSTANCES_FILE"] = str(_instances_file(market, home))
        console.print(f"starting the desk ({DESK_ROLES}) and the ClickHouse sink (logs in {home / 'logs'}) ...")
        desk = _start_worker("desk", DESK_ROLES, env, home)
        sink = _start_worker("sink", "sink", env, home)
        workers += [desk, sink]
        t0, span_us = market.start_us, market.span_us
        producer = EventProducer(conf, serde_from_settings(settings.schema_registry_url))
        window_us = int(window_s * 1e6)
        counts: dict[str, int] = {}
        last_us = t0
        what = f"simulating {span_us / 3.6e9:g} h of market (seed {market.seed})" if market.seed is not None else \
            f"replaying {span_us / 6e7:.1f} min of {market.market}"
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task(what, total=span_us, info="waiting for the desk to join")
            gate = _DeskGate(desk, window_us, t0)

            def paced(events: Any) -> Any:
                nonlocal last_us
                for i, (name, rec) in enumerate(events):
                    last_us = int(rec["event_time"])
                    gate.wait_until(last_us)
                    if i % 200 == 0:
                        progress.update(task, completed=last_us - t0, info=gate.info())
                    counts[name] = counts.get(name, 0) + 1
                    yield name, rec

            published = publish_market(producer, paced(market.events()), speed=0)
            del producer  # flushed; closed now, so it does not outlive the embedded broker
            progress.update(task, completed=span_us, info=f"{published:,} market events published")
            drain = progress.add_task("desk and sink: finishing the queue", total=None, info="")
            desk_roles = _drain(desk, sink, conf, lambda s: progress.update(drain, info=s))
        desk.stop()
        sink.stop()
        workers.clear()
        client = connect(settings.effective_clickhouse_dsn)
        summary = summarise(client, seed=market.seed, span_us=span_us, published=published, wall_s=time.monotonic() - started)
        summary.update(market=market.market, source=market.source, title=market.title, published_by_topic=counts,
                       market_first_event_us=t0, market_last_event_us=last_us,
                       desk_roles={r: {"inputs": v["inputs"], "event_time_us": v["event_time_us"]} for r, v in sorted(desk_roles.items())},
                       gate_releases=gate.released)
        _print_summary(summary, console)
        summary["reports"] = _reports(client, home, t0, span_us, summary["fills"], console)
        out = home / "reports" / "demo" / f"summary-{market.name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2, default=str))
        console.print(f"summary JSON: {out}")
        return summary
    finally:
        for w in workers:
            w.proc.kill()
        if broker is not None:
            broker.stop()


class _DeskGate:
    """Blocks the publisher while the slowest loop role is more than ``window_us`` of event time behind.

    On the embedded Tansu broker a partition's high watermark stops after the first record of its
    newest batch, so the rest of the batch the publisher sent just before blocking is invisible to
    the desk until another batch lands there: the desk would wait for the market and the market for
    the desk. When the desk has taken no input for ``stall_s`` the gate lets one more event through,
    which uncovers the hidden records (``released`` counts these). On Apache Kafka, which hides
    nothing, a release only means the desk took longer than ``stall_s`` (49 in a 6 h run there):
    the market then runs one event further ahead than the window.
    """

    def __init__(self, desk: WorkerProcess, window_us: int, start_us: int, stall_s: float = 0.05) -> None:
        self.desk, self.window_us, self.start_us, self.stall_s = desk, window_us, start_us, stall_s
        self.desk_us = 0
        self.released = 0
        self._inputs = -1
        self._moved = time.monotonic()

    def wait_until(self, event_time_us: int) -> None:
        while event_time_us > max(self.desk_us, self.start_us) + self.window_us:
            self.desk.check()
            roles = self.desk.progress()
            now = time.monotonic()  # wall-clock ok: pacing of the demo's publisher, not a core
            if roles and all(r in roles for r in LOOP_ROLES):
                self.desk_us = min(roles[r]["event_time_us"] for r in LOOP_ROLES)
                inputs = sum(roles[r]["inputs"] for r in LOOP_ROLES)
                if inputs != self._inputs:
                    self._inputs, self._moved = inputs, now
                elif now - self._moved >= self.stall_s:
                    self._moved = now
                    self.released += 1
                    return
            if event_time_us > max(self.desk_us, self.start_us) + self.window_us:
                time.sleep(0.002 if roles else 0.2)

    def info(self) -> str:
        return "desk joining ..." if self.desk_us == 0 else "desk in step"


def _drain(desk: WorkerProcess, sink: WorkerProcess, conf: dict[str, Any], say: Any, quiet_s: float = 2.0,
           timeout_s: float = 600) -> dict[str, Any]:
    """Wait until the desk's roles stop receiving input and the sink has committed every sinkable record.

    Returns the desk roles' last ``/progress/`` counters (inputs, event time reached).
    """
    from sinks.clickhouse.writer import SINK_GROUP
    from streams.admin import committed_total, topic_counts
    from streams.catalog import SINK_TOPICS

    deadline = time.monotonic() + timeout_s
    last, still_since = None, time.monotonic()
    while True:
        desk.check()
        sink.check()
        roles = desk.progress() or {}
        now = (tuple(sorted((k, v["inputs"]) for k, v in roles.items())))
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet_s:
            break
        say(f"desk inputs {sum(v['inputs'] for v in roles.values()):,}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the desk did not settle within {timeout_s:.0f} s; see {desk.log}")
        time.sleep(0.3)
    total = sum(c.messages for c in topic_counts(conf) if c.name in SINK_TOPICS)
    while True:
        sink.check()
        done = committed_total(conf, SINK_GROUP, list(SINK_TOPICS))
        say(f"sink {done:,}/{total:,} rows")
        if done >= total:
            return roles
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink did not catch up ({done}/{total}); see {sink.log}")
        time.sleep(0.3)


def _reports(client: Any, home: Path, start_us: int, span_us: int, fills: int, console: Console) -> dict[str, Any]:
    """The daily report (JSON + HTML with plots) of the demo's first day, and the TCA headline."""
    from datetime import datetime, timezone

    from sinks.clickhouse.analytics.reports import build_day_report
    from sinks.clickhouse.analytics.tca import tca_headline
    from sinks.reports.writer import write_reports

    start = datetime.fromtimestamp(start_us / 1e6, tz=timezone.utc)
    end = datetime.fromtimestamp((start_us + span_us) / 1e6, tz=timezone.utc)
    json_path, html_path = write_reports(build_day_report(client, start.date()), home)
    out: dict[str, Any] = {"day_json": str(json_path), "day_html": str(html_path)}
    if fills:
        head = tca_headline(client, start, end).to_dict()
        out["tca_headline"] = head
        console.print("TCA: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in head.items() if v is not None))
    console.print(f"daily report: {html_path} (JSON: {json_path})")
    return out


def _one(client: Any, sql: str) -> Any:
    rows = client.query(sql).result_rows
    return rows[0] if rows else None


def summarise(client: Any, seed: int | None, span_us: int, published: int, wall_s: float) -> dict[str, Any]:
    """The demo's summary, read back from ClickHouse (so it matches what the report commands see)."""
    from streams.catalog import CATALOG

    counts = {name: int(_one(client, f"SELECT count() FROM {spec.table} FINAL")[0]) for name, spec in CATALOG.items() if spec.sink}
    fills = _one(client, "SELECT count(), countIf(side='BUY'), sum(size), sum(price*size), sum(fee_quote), "
                         "countIf(liquidity='MAKER') FROM hb_fill_v1 FINAL")
    last = _one(client, "SELECT position_base, equity_quote, realized_pnl_quote, unrealized_pnl_quote, fees_paid_quote, regime "
                        "FROM hb_strategy_state_v1 FINAL ORDER BY event_time DESC, decision_seq DESC LIMIT 1")
    first = _one(client, "SELECT equity_quote FROM hb_strategy_state_v1 FINAL ORDER BY event_time, decision_seq LIMIT 1")
    regimes = dict(client.query("SELECT toString(regime), count() FROM hb_strategy_state_v1 FINAL GROUP BY 1 ORDER BY 1").result_rows)
    guard = client.query("SELECT toString(state), count() FROM hb_guard_v1 FINAL GROUP BY 1 ORDER BY 1").result_rows
    kills = int(_one(client, "SELECT count() FROM hb_audit_v1 FINAL WHERE action = 'cancel_all'")[0])
    n_fills = int(fills[0]) if fills else 0
    return {
        "seed": seed,
        "simulated_hours": span_us / 3.6e9,
        "market_events_published": published,
        "events_in_clickhouse": counts,
        "fills": n_fills,
        "buy_fills": int(fills[1]) if fills else 0,
        "maker_fills": int(fills[5]) if fills else 0,
        "volume_base": round(float(fills[2] or 0), 6) if n_fills else 0.0,
        "turnover_quote": round(float(fills[3] or 0), 2) if n_fills else 0.0,
        "fees_quote": round(float(fills[4] or 0), 4) if n_fills else 0.0,
        "decisions": counts.get("hb.quote.v1", 0),
        "orders": counts.get("hb.order.v1", 0),
        "final_position_base": round(float(last[0]), 6) if last else 0.0,
        "start_equity_quote": round(float(first[0]), 4) if first else None,
        "final_equity_quote": round(float(last[1]), 4) if last else None,
        "realized_pnl_quote": round(float(last[2]), 4) if last else 0.0,
        "unrealized_pnl_quote": round(float(last[3]), 4) if last else 0.0,
        "regime_decisions": regimes,
        "guard_transitions": {s: int(n) for s, n in guard},
        "kill_switch_activations": kills,
        "wall_seconds": round(wall_s, 1),
    }


def _print_summary(s: dict[str, Any], console: Console) -> None:
    t = Table(title=f"hbot demo: {s['title']}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("market", s["market"])
    for key in ("market_events_published", "decisions", "orders", "fills", "maker_fills", "volume_base", "turnover_quote",
                "fees_quote", "realized_pnl_quote", "unrealized_pnl_quote", "final_position_base", "start_equity_quote",
                "final_equity_quote", "kill_switch_activations", "wall_seconds"):
        v = s[key]
        t.add_row(key.replace("_", " "), f"{v:,}" if isinstance(v, (int, float)) else str(v))
    t.add_row("decisions by regime", ", ".join(f"{k} {v}" for k, v in s["regime_decisions"].items()))
    t.add_row("guard transitions", ", ".join(f"{k} {v}" for k, v in s["guard_transitions"].items()) or "none")
    console.print(t)
