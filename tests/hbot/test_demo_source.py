"""``hbot demo --source FILE``: the whole desk on a real Binance recording instead of the synthetic market.

The end-to-end run takes the first two minutes of the BTCUSDT recording (about 5,500 records, about
30 s here, like the synthetic demo test); the expectations come from the raw file read with plain
``json`` and from an import of the same file, never from the demo's own output.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from processors.market_data.history.importer import ImportConfig, import_file
from processors.market_data.history.replay import stored_counts
from processors.market_data.history.store import HistoryStore

RECORDINGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "market"
BTC_FILE = RECORDINGS / "binance-usdm-btcusdt-20240808.gz"
MARKET = "binance:BTC/USDT:USDT"
SPAN_US = 120_000_000
HBOT = [sys.executable, "-m", "hbot.cli"]


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HBOT, *args], capture_output=True, text=True, env=env, timeout=timeout)


def raw_window(path: Path, span_us: int) -> tuple[int, int]:
    """(first exchange time in the file, market trades in its first ``span_us``), read with plain json."""
    times, trades = [], []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            m = json.loads(line.split(" ", 1)[1])
            d = m.get("data", m)
            t_us = int(d.get("T") or d["E"]) * 1000
            times.append(t_us)
            if d.get("e") == "trade" and d.get("X", "MARKET") == "MARKET":
                trades.append(t_us)
    first = min(times)
    return first, sum(1 for t in trades if t < first + span_us)


@pytest.mark.broker
@pytest.mark.clickhouse
def test_when_the_demo_runs_on_the_btcusdt_recording_then_every_record_reaches_the_desk_and_clickhouse(
        hbot_env: dict[str, str], tmp_path: Path) -> None:
    # Arrange: what the file holds in the window, independently of the demo
    first_us, raw_trades = raw_window(BTC_FILE, SPAN_US)
    store = HistoryStore(tmp_path / "expected")
    import_file(BTC_FILE, store, ImportConfig(symbol="BTC/USDT:USDT"))
    expected = {t: n for t, n in stored_counts(store, "binance", "BTC/USDT:USDT", first_us, first_us + SPAN_US).items() if n}
    assert expected["hb.market.trade.v1"] == raw_trades and expected["hb.market.book.v1"] > 1000
    env = {k: v for k, v in hbot_env.items() if k != "HBOT_KAFKA_BOOTSTRAP"}  # the demo starts its own broker

    # Act
    res = run(["demo", "--source", str(BTC_FILE), "--span", "2m"], env=env, timeout=280)

    # Assert: the recording's market, from its first record, every record published and stored
    assert res.returncode == 0, res.stdout + res.stderr
    assert MARKET in res.stdout and "tick 0.1, lot 0.001" in res.stdout
    summary = json.loads((Path(env["HBOT_HOME"]) / "reports" / "demo" / "summary-binance-usdm-btcusdt-20240808.json").read_text())
    assert summary["market"] == MARKET and summary["market_first_event_us"] == first_us
    assert summary["published_by_topic"] == expected
    assert summary["market_events_published"] == sum(expected.values())
    assert {t: n for t, n in summary["events_in_clickhouse"].items() if t.startswith("hb.market.") and n} == expected
    # The desk saw every market event (its event time reached the last one) and traded the recording's market on its tick.
    strategy = summary["desk_roles"]["strategy"]
    assert strategy["event_time_us"] >= summary["market_last_event_us"] >= first_us + SPAN_US - 1_000_000
    assert strategy["inputs"] >= summary["market_events_published"]
    assert summary["decisions"] > 0 and summary["orders"] > 0 and summary["events_in_clickhouse"]["hb.order_update.v1"] > 0
    assert summary["events_in_clickhouse"]["hb.dlq.v1"] == 0
    rows = _sql(env, "SELECT groupUniqArray(market) AS markets, countIf(action = 'PLACE') AS places, "
                     "countIf(action = 'PLACE' AND abs(price * 10 - round(price * 10)) > 1e-6) AS off_tick FROM hb_order_v1 FINAL")
    assert rows == [{"markets": [MARKET], "places": rows[0]["places"], "off_tick": 0}] and rows[0]["places"] > 0


def _sql(env: dict[str, str], query: str) -> list[dict[str, Any]]:
    res = run(["sql", "--json", query], env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["missing", "not_a_recording", "truncated_gzip", "parquet_file", "plain_folder"])
def test_when_the_source_is_unusable_then_one_line_names_it_and_exit_2(case: str, tmp_path: Path) -> None:
    path = tmp_path / {"missing": "nope.gz", "not_a_recording": "notes.txt", "truncated_gzip": "cut.gz",
                       "parquet_file": "part.parquet", "plain_folder": "folder"}[case]
    if case == "not_a_recording":
        path.write_text("hello\nthis is not market data\n")
    elif case == "truncated_gzip":
        path.write_bytes(BTC_FILE.read_bytes()[:4000])
    elif case == "parquet_file":
        path.write_bytes(b"PAR1")
    elif case == "plain_folder":
        path.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HBOT_")}, "HBOT_HOME": str(tmp_path / "home")}

    res = run(["demo", "--source", str(path)], env=env)

    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --source") and str(path.name) in lines[0]
