"""``hbot report day|range``, ``hbot tca`` and ``hbot export`` as a user runs them, on a desk history in chDB.

The commands run in this process (typer's runner) so they open the session's chDB folder, which a
second process could not; ``tests/sinks/analytics/test_analytics_sql_endpoint.py`` runs them as a
separate process through a worker's /sql/ page.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hbot.cli import app
from sinks.reports.html import DAY_FIELDS, RANGE_FIELDS, TCA_FIELDS, fmt
from tests.sinks.analytics.desk_dataset import Dataset, desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def run(clickhouse_dsn: str, clickhouse: Any, tmp_path: Path) -> Any:
    """Invoke the CLI against the session's ClickHouse with a home folder of the test's own."""
    def invoke(*args: str) -> Any:
        env = {"HBOT_HOME": str(tmp_path / "home"), "HBOT_CLICKHOUSE_DSN": clickhouse_dsn, "COLUMNS": "220"}
        return CliRunner().invoke(app, list(args), env=env)
    return invoke


def _value_of(output: str, field: str) -> str:
    """The value cell of ``field`` in a two-column rich table."""
    m = re.search(rf"│ {re.escape(field)}\s+│\s+(.+?)\s+│", output)
    assert m, f"{field} not in the terminal output"
    return m.group(1)


def test_when_a_day_is_reported_then_the_terminal_shows_the_numbers_the_json_holds(run: Any, desk: Dataset, tmp_path: Path) -> None:
    # Act
    res = run("report", "day", "--date", desk.day1.isoformat(), "--by", "all")

    # Assert
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "home" / "reports" / "day" / f"{desk.day1.isoformat()}.json").read_text())
    for field, kind in DAY_FIELDS:
        assert _value_of(res.output, field) == fmt(data["summary"][field], kind), field
    for field, kind in TCA_FIELDS:
        assert _value_of(res.output, field) == fmt(data["tca"]["headline"][field], kind), field
    for d in ("regime", "hour", "side", "spread"):
        assert f"TCA by {d}" in res.output
    assert (tmp_path / "home" / "reports" / "day" / f"{desk.day1.isoformat()}.html").stat().st_size > 1_000_000


def test_when_a_range_is_reported_then_the_road1_verdict_and_summary_match_the_json(run: Any, desk: Dataset, tmp_path: Path) -> None:
    # Act
    res = run("report", "range", "--start", desk.day1.isoformat(), "--end", desk.day2.isoformat())

    # Assert
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "home" / "reports" / "strategy" / "multi_day_summary_latest.json").read_text())
    for field, kind in RANGE_FIELDS:
        assert _value_of(res.output, field) == fmt(data["summary"][field], kind), field
    assert "ROAD-1: FAIL" in res.output and data["summary"]["passed"] is False
    assert res.output.count("FAIL") >= 1 + sum(1 for c in data["summary"]["criteria"] if not c["passed"])


def test_when_tca_is_asked_by_hour_then_the_table_has_every_hour_with_fills(run: Any, desk: Dataset, tmp_path: Path) -> None:
    # Act
    inst = next(iter(desk.instances))
    res = run("tca", "--start", desk.day1.isoformat(), "--end", desk.day1.isoformat(), "--by", "hour", "--instance", inst)

    # Assert
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "home" / "reports" / "tca" / f"{desk.day1.isoformat()}_{desk.day1.isoformat()}_{inst}.json").read_text())
    hours = [b["key"] for b in data["breakdowns"]["hour"]]
    assert hours == [f"{h:02d}" for h in range(24)]
    assert "TCA by hour" in res.output and "TCA by regime" not in res.output
    assert _value_of(res.output, "worst_regime") == "high_vol_shock"


def test_when_fills_are_exported_then_the_csv_has_the_spec_columns(run: Any, desk: Dataset, tmp_path: Path) -> None:
    # Act
    out = tmp_path / "fills.csv"
    res = run("export", "--what", "fills", "--start", desk.day1.isoformat(), "--end", desk.day2.isoformat(), "--out", str(out))

    # Assert
    assert res.exit_code == 0, res.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(desk.fills) and f"wrote {len(desk.fills):,} fills rows" in res.output
    assert {"ts", "pnl_vs_mid_pct", "event_type"} <= set(rows[0])


@pytest.mark.parametrize("args,message", [
    (["report", "day", "--date", "yesterday"], "--date 'yesterday' is not a date; use YYYY-MM-DD"),
    (["report", "range", "--start", "2031-01-05", "--end", "2031-01-01"], "--end 2031-01-01 is before --start 2031-01-05"),
    (["tca", "--start", "2031-01-01", "--end", "2031-01-02", "--by", "weekday"], "--by 'weekday' is not one of"),
    (["export", "--what", "orders", "--start", "2031-01-01", "--end", "2031-01-02", "--out", "x.csv"], "--what 'orders'"),
])
def test_when_an_argument_is_wrong_then_one_error_line_names_it(run: Any, args: list[str], message: str) -> None:
    res = run(*args)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_when_the_day_has_no_data_then_the_error_says_to_run_the_demo(run: Any, desk: Dataset) -> None:
    inst = next(iter(desk.instances))
    res = run("report", "day", "--date", (desk.day2 + timedelta(days=2)).isoformat(), "--instance", inst)
    assert res.exit_code == 2
    line = res.output.strip()
    assert line.startswith("error: no strategy state") and "hbot demo" in line and desk.day1.isoformat() in line
    assert "\n" not in line
