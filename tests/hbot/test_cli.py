"""The ``hbot`` CLI as a user runs it: help, readable errors, and the worker surviving a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.samples import sample

HBOT = [sys.executable, "-m", "hbot.cli"]
COMMANDS = [[], ["broker"], ["topics"], ["topics", "ensure"], ["topics", "list"], ["topics", "describe"],
            ["worker"], ["sink"], ["sink", "migrate"], ["sql"], ["demo"]]


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HBOT, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "hbot")
def test_when_help_is_asked_then_every_command_explains_itself(cmd: list[str]) -> None:
    res = run([*cmd, "--help"])
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout and len(res.stdout.splitlines()) > 4


def test_when_the_broker_is_unreachable_then_one_readable_line_and_exit_2_within_15s(tmp_path: Path) -> None:
    env = {**os.environ, "HBOT_KAFKA_BOOTSTRAP": "127.0.0.1:1", "HBOT_HOME": str(tmp_path)}
    started = time.monotonic()
    res = run(["topics", "list"], env=env, timeout=30)
    elapsed = time.monotonic() - started
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("%")]
    assert len(lines) == 1 and "cannot reach Kafka at 127.0.0.1:1" in lines[0] and "HBOT_KAFKA_BOOTSTRAP" in lines[0]
    assert "Traceback" not in res.stderr
    assert elapsed < 15


@pytest.mark.clickhouse
@pytest.mark.parametrize(("query", "named"), [
    ("SELECT * FROM no_such_table", "no_such_table"),
    ("SELECT no_such_column FROM system.one", "no_such_column"),
])
def test_when_clickhouse_rejects_a_query_then_one_line_names_the_problem_and_exit_2(tmp_path: Path, query: str, named: str) -> None:
    res = run(["sql", query], env={**os.environ, "HBOT_HOME": str(tmp_path)})

    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(lines) == 1 and "ClickHouse rejected the query" in lines[0] and named in lines[0], res.stderr


@pytest.mark.parametrize("var,value,field", [
    ("HBOT_SINK_BATCH_SIZE", "lots", "HBOT_SINK_BATCH_SIZE"),
    ("HBOT_WEB_PORT", "70000", "HBOT_WEB_PORT"),
    ("HBOT_KAFKA_BOOTSTRAP", "no-port-here", "HBOT_KAFKA_BOOTSTRAP"),
])
def test_when_a_config_value_is_bad_then_the_error_names_the_field(tmp_path: Path, var: str, value: str, field: str) -> None:
    res = run(["topics", "list"], env={**os.environ, var: value, "HBOT_HOME": str(tmp_path)})
    assert res.returncode == 2
    assert field in res.stderr and "Traceback" not in res.stderr


def test_when_the_instances_file_is_invalid_then_the_error_names_the_field(tmp_path: Path) -> None:
    from hbot.settings import ConfigError, load_instances

    path = tmp_path / "instances.yaml"
    path.write_text("instances:\n  - id: bot1\n    exchange: bitget\n    symbol: BTC/USDT:USDT\n    execution: yolo\n")
    with pytest.raises(ConfigError, match=r"instances\.0\.execution"):
        load_instances(path)


def test_when_an_unknown_role_is_asked_then_exit_2_naming_the_known_roles(tmp_path: Path) -> None:
    res = run(["worker", "--role", "strategy,nonsense"], env={**os.environ, "HBOT_HOME": str(tmp_path)})
    assert res.returncode == 2 and "nonsense" in res.stderr and "market_data" in res.stderr


def _sql(env: dict[str, str], query: str) -> list[dict[str, Any]]:
    res = run(["sql", "--json", query], env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.broker
@pytest.mark.clickhouse
def test_when_the_sink_worker_is_killed_mid_batch_and_restarted_then_exactly_one_row_per_event(
        kafka_conf: dict[str, Any], hbot_env: dict[str, str], unique: str, tmp_path: Path) -> None:
    from sinks.clickhouse.writer import SINK_GROUP
    from streams.admin import committed_total

    topic = f"hb.market.trade.v1"
    market = f"kill:{unique}"
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    n = 30_000
    env = {**hbot_env, "HBOT_SINK_BATCH_SIZE": "2000"}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    before = committed_total(kafka_conf, SINK_GROUP, [topic])
    for i in range(n):
        producer.send(topic, sample("market_trade", seed=i, overrides={"event_id": f"{unique}-{i}", "market": market}))
    producer.flush()
    worker = subprocess.Popen([*HBOT, "worker", "--role", "sink"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # SIGKILL once the sink has committed part of the data: some batches in, others in flight.
        deadline = time.monotonic() + 90
        while committed_total(kafka_conf, SINK_GROUP, [topic]) - before <= 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        done_at_kill = committed_total(kafka_conf, SINK_GROUP, [topic]) - before
        assert 0 < done_at_kill < n, "the kill must land mid-stream for this test to mean anything"
        worker = subprocess.Popen([*HBOT, "worker", "--role", "sink"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while committed_total(kafka_conf, SINK_GROUP, [topic]) - before < n and time.monotonic() < deadline:
            time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        rows = _sql(env, f"SELECT count() AS n, uniqExact(event_id) AS u FROM hb_market_trade_v1 WHERE market = '{market}'")
        assert rows[0] == {"n": n, "u": n}
    finally:
        if worker.poll() is None:
            worker.kill()


def _log_has(path: Path, text: str) -> bool:
    return text in path.read_text(errors="replace")


@pytest.mark.broker
@pytest.mark.clickhouse
def test_when_the_demo_runs_then_the_desk_trades_and_every_market_event_is_in_clickhouse(hbot_env: dict[str, str]) -> None:
    import json

    env = {k: v for k, v in hbot_env.items() if k != "HBOT_KAFKA_BOOTSTRAP"}
    res = run(["demo", "--span", "20m", "--seed", "3"], env=env, timeout=280)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads((Path(env["HBOT_HOME"]) / "reports" / "demo" / "summary-seed3.json").read_text())
    market = sum(n for t, n in summary["events_in_clickhouse"].items() if t.startswith("hb.market."))
    assert market == summary["market_events_published"] > 1000
    # The whole loop ran: decisions became orders, orders met the market, and each stage's output reached ClickHouse.
    assert summary["decisions"] > 0 and summary["orders"] >= summary["decisions"]
    assert summary["events_in_clickhouse"]["hb.order_update.v1"] > 0
    assert summary["events_in_clickhouse"]["hb.strategy_state.v1"] == summary["decisions"]
    assert summary["start_equity_quote"] == 10_000.0


def test_when_the_demo_span_is_malformed_then_one_line_names_the_option(hbot_env: dict[str, str]) -> None:
    res = run(["demo", "--span", "tomorrow"], env=hbot_env, timeout=60)
    assert res.returncode == 2
    assert "--span" in res.stderr and "Traceback" not in res.stderr
