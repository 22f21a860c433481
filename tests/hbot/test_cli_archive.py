"""``hbot archive``, ``hbot restore`` and ``hbot replay`` as a user runs them, on the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from streams.broker import EmbeddedBroker, free_port
from streams.serde import SingleObjectSerde
from tests.samples import sample

HBOT = [sys.executable, "-m", "hbot.cli"]
SEC = 1_000_000
SERDE = SingleObjectSerde()


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HBOT, *args], capture_output=True, text=True, env=env, timeout=timeout)


def _error_lines(res: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("%")]


@pytest.mark.parametrize("cmd", [["archive"], ["restore"], ["replay"]])
def test_when_help_is_asked_then_the_archive_commands_explain_themselves(cmd: list[str]) -> None:
    res = subprocess.run([*HBOT, *cmd, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "Usage:" in res.stdout


@pytest.mark.broker
@pytest.mark.parametrize("args,message", [
    (["replay", "--topic", "hb.fill.v1", "--start", "2026-03-01T12:00Z", "--end", "2026-03-01T11:00Z"], "the window is empty"),
    (["replay", "--topic", "hb.fill.v1", "--start", "noon", "--end", "2026-03-01"], "--start 'noon' is not an ISO 8601 time"),
    (["replay", "--topic", "hb.fill.v1", "--start", "2026-03-01", "--end", "2026-03-02", "--format", "xml"], "--format must be table or json"),
    (["replay", "--topic", "hb.fill.v1", "--start", "2026-03-01", "--end", "2026-03-02", "--speed", "-2"], "speed must be >= 0"),
    (["replay", "--topic", "hb.fill.v1", "--start", "2026-03-01", "--end", "2026-03-02", "--to-topic", "hb.fill.v1"], "--to-topic must differ"),
    (["replay", "--topic", "hb.fill.v1", "--start", "2026-03-01", "--end", "2026-03-02", "--to-topic", "hb.order.v1"], "live catalog topic"),
    (["replay", "--topic", "hb.nothing.v9", "--start", "2026-03-01", "--end", "2026-03-02"], "topic 'hb.nothing.v9' does not exist"),
    (["archive", "--date", "2026-02-30"], "use YYYY-MM-DD"),
    (["archive", "--date", "2026-02-03", "--topics", "hb.fill.v1,hb.nope.v1"], "unknown topic 'hb.nope.v1'"),
    (["restore", "--date", "2026-02-03"], "run hbot archive --date 2026-02-03 first"),
    (["restore", "--date", "2026-02-03", "--bootstrap", "nohost"], "--bootstrap 'nohost' needs a port"),
], ids=lambda v: v if isinstance(v, str) else v[0])
def test_when_arguments_are_bad_then_one_readable_line_and_exit_2(hbot_env: dict[str, str], args: list[str], message: str) -> None:
    res = run(args, hbot_env)
    lines = _error_lines(res)
    assert res.returncode == 2, res.stdout + res.stderr
    assert len(lines) == 1 and message in lines[0], lines
    assert "Traceback" not in res.stderr


@pytest.fixture
def fills_of_a_day(kafka_conf: dict[str, Any]) -> dict[str, Any]:
    """Fills of one market on a UTC day ten days ago (hb.fill.v1 keeps a year), out of order across partitions."""
    day = datetime.now(timezone.utc).date() - timedelta(days=10)
    t0 = int(datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc).timestamp()) * SEC + 14 * 3600 * SEC
    market = f"cli:{uuid.uuid4().hex[:10]}"
    p = Producer({**kafka_conf, "linger.ms": 5})
    times = [t0 + s * SEC for s in (30, 10, 20, 40, 50)]
    for i, t in enumerate(times):
        p.produce("hb.fill.v1", SERDE.encode("fill", sample("fill", i, {"event_time": t, "market": market, "price": 100.0 + i})),
                  key=market.encode(), partition=i % 3, timestamp=t // 1000, headers=[("n", str(i).encode())])
    assert p.flush(10) == 0
    return {"day": day, "t0": t0, "market": market, "times": times}


@pytest.mark.broker
def test_when_a_day_is_archived_and_restored_by_cli_then_the_comparison_is_printed_and_equal(
        hbot_env: dict[str, str], fills_of_a_day: dict[str, Any], tmp_path: Path) -> None:
    day = fills_of_a_day["day"].isoformat()
    res = run(["archive", "--date", day, "--topics", "hb.fill.v1", "--topics", "hb.audit.v1"], hbot_env)
    assert res.returncode == 0, res.stderr
    assert "hb.fill.v1" in res.stdout and "records/s" in res.stdout
    manifest = json.loads((Path(hbot_env["HBOT_HOME"]) / "archive" / day / "manifest.json").read_text())
    assert set(manifest["topics"]) == {"hb.fill.v1", "hb.audit.v1"} and manifest["topics"]["hb.fill.v1"]["count"] >= 5
    with EmbeddedBroker(free_port(), log_file=tmp_path / "fresh.log") as fresh:
        res = run(["restore", "--date", day, "--bootstrap", fresh.bootstrap], hbot_env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stdout.count("equal") == 4 and "DIFFERENT" not in res.stdout
        again = run(["restore", "--date", day, "--bootstrap", fresh.bootstrap], hbot_env)
        assert again.returncode == 2 and "restore into a fresh broker" in _error_lines(again)[0]


@pytest.mark.broker
def test_when_a_window_is_replayed_as_json_then_the_records_print_in_event_time_order(
        hbot_env: dict[str, str], fills_of_a_day: dict[str, Any]) -> None:
    t0, market = fills_of_a_day["t0"], fills_of_a_day["market"]
    start = datetime.fromtimestamp((t0 + 10 * SEC) / SEC, tz=timezone.utc).isoformat()
    end = datetime.fromtimestamp((t0 + 50 * SEC) / SEC, tz=timezone.utc).isoformat()
    res = run(["replay", "--topic", "hb.fill.v1", "--start", start, "--end", end, "--market", market, "--format", "json"], hbot_env)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert [r["record"]["price"] for r in rows] == [101.0, 102.0, 100.0, 103.0]  # event times 10, 20, 30, 40 s
    assert all(r["key"] == market and r["time_source"] == "event" for r in rows)
    assert set(rows[0]["record"]) == {"side", "price", "size", "fee_quote", "liquidity"}
    full = run(["replay", "--topic", "hb.fill.v1", "--start", start, "--end", end, "--market", market, "--format", "json",
                "--decode", "--limit", "1"], hbot_env)
    one = [json.loads(ln) for ln in full.stdout.splitlines() if ln.startswith("{")]
    assert len(one) == 1 and one[0]["record"]["market"] == market and one[0]["record"]["event_time"].endswith("Z")
    assert "showing 1 of 4" in full.stderr
    table = run(["replay", "--topic", "hb.fill.v1", "--start", start, "--end", end, "--market", market,
                 "--fields", "price,side"], {**hbot_env, "COLUMNS": "200"})
    assert table.returncode == 0 and "price=101.0" in table.stdout and "4 records" in table.stdout
