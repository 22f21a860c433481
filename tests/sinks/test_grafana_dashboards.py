"""Every Grafana panel's SQL, with the ClickHouse plugin's macros expanded, runs on the real engine and returns rows.

The expansion follows the grafana-clickhouse-datasource plugin's documented macros (the ones the
dashboards use): ``$__timeFilter(c)`` -> ``c >= toDateTime(from) AND c <= toDateTime(to)``,
``$__fromTime`` / ``$__toTime`` -> ``toDateTime(...)``, ``$__timeInterval(c)`` ->
``toStartOfInterval(toDateTime(c), INTERVAL n second)``, ``$__interval_s`` -> ``n``,
``$__conditionalAll(cond, $var)`` -> ``cond``, or ``1=1`` when All is selected; and Grafana's
template variables ``${var:singlequote}`` / ``$var``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.sinks.analytics.desk_dataset import Dataset, desk  # noqa: F401  (fixture)

DASHBOARDS = Path(__file__).resolve().parents[2] / "sinks" / "grafana" / "dashboards"
FILES = sorted(DASHBOARDS.glob("*.json"))
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "hbot-clickhouse"}


def _args(sql: str, open_at: int) -> tuple[list[str], int]:
    """Split the macro arguments starting after the '(' at ``open_at``; returns (args, index after ')')."""
    depth, quote, args, cur = 0, None, [], []
    i = open_at + 1
    while i < len(sql):
        ch = sql[i]
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch == "(":
            depth += 1
            cur.append(ch)
        elif ch == ")":
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i + 1
            depth -= 1
            cur.append(ch)
        elif ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    raise ValueError(f"unbalanced macro arguments in: {sql[open_at:open_at + 80]}")


def expand(sql: str, start: datetime, end: datetime, interval_s: int, variables: dict[str, list[str] | None]) -> str:
    """The SQL the plugin would send: macros and template variables replaced (``None`` = All selected)."""
    f, t = int(start.replace(tzinfo=timezone.utc).timestamp()), int(end.replace(tzinfo=timezone.utc).timestamp())
    with_args = {
        "$__conditionalAll": lambda a: a[0] if variables.get(a[1].lstrip("$").strip("{}")) is not None else "1=1",
        "$__timeFilter_ms": lambda a: f"{a[0]} >= fromUnixTimestamp64Milli({f * 1000}) AND {a[0]} <= fromUnixTimestamp64Milli({t * 1000})",
        "$__timeFilter": lambda a: f"{a[0]} >= toDateTime({f}) AND {a[0]} <= toDateTime({t})",
        "$__timeInterval_ms": lambda a: f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {interval_s * 1000} millisecond)",
        "$__timeInterval": lambda a: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {interval_s} second)",
    }
    changed = True
    while changed:  # innermost-last is fine: arguments are re-scanned on the next pass
        changed = False
        for name, fn in with_args.items():
            i = sql.find(name + "(")
            if i >= 0:
                args, after = _args(sql, i + len(name))
                sql = sql[:i] + fn(args) + sql[after:]
                changed = True
                break
    plain = {"$__fromTime_ms": f"fromUnixTimestamp64Milli({f * 1000})", "$__toTime_ms": f"fromUnixTimestamp64Milli({t * 1000})",
             "$__fromTime": f"toDateTime({f})", "$__toTime": f"toDateTime({t})", "$__interval_s": str(interval_s)}
    for k, v in plain.items():
        sql = sql.replace(k, v)
    for name, values in variables.items():
        vals = values or ["__all__"]
        sql = sql.replace(f"${{{name}:singlequote}}", ",".join(f"'{v}'" for v in vals))
        sql = re.sub(rf"\$\{{{name}\}}|\${name}\b", ",".join(f"'{v}'" for v in vals), sql)
    leftover = re.findall(r"\$\{?__?\w+", sql)
    assert not leftover, f"unexpanded macro or variable {leftover} in: {sql[:200]}"
    return sql


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dashboard["panels"]:
        out.extend(p.get("panels", [])) if p.get("type") == "row" else out.append(p)
    return out


def _queries() -> list[tuple[str, str, str]]:
    out = []
    for path in FILES:
        d = json.loads(path.read_text())
        for p in _panels(d):
            for t in p["targets"]:
                out.append((path.stem, p["title"], t["rawSql"]))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                out.append((path.stem, f"variable {v['name']}", v["query"]))
    return out


def test_when_the_dashboards_are_loaded_then_there_are_the_three_with_clickhouse_panels() -> None:
    # Assert
    assert {p.stem for p in FILES} == {"desk_overview", "tca", "pipeline_health"}
    for path in FILES:
        d = json.loads(path.read_text())
        assert d["uid"].startswith("hbot-") and d["title"] and len(_panels(d)) >= 5
        ids = [p["id"] for p in _panels(d)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for p in _panels(d):
            assert p["datasource"] == DATASOURCE, f"{path.name} / {p['title']}"
            assert p["targets"] and all(t["datasource"] == DATASOURCE and t["rawSql"].strip() for t in p["targets"])
            assert set(p["gridPos"]) == {"x", "y", "w", "h"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_when_macros_are_expanded_then_the_sql_matches_the_plugin_documentation() -> None:
    start, end = datetime(2031, 1, 2, 0, 0, 0), datetime(2031, 1, 3, 0, 0, 0)
    f, t = int(start.replace(tzinfo=timezone.utc).timestamp()), int(end.replace(tzinfo=timezone.utc).timestamp())
    sql = ("SELECT $__timeInterval(event_time) AS time FROM x WHERE $__timeFilter(event_time) AND "
           "$__conditionalAll(instance_id IN (${instance:singlequote}), $instance) AND y > $__fromTime AND $__interval_s > 0")
    assert expand(sql, start, end, 60, {"instance": ["a", "b"]}) == (
        f"SELECT toStartOfInterval(toDateTime(event_time), INTERVAL 60 second) AS time FROM x WHERE "
        f"event_time >= toDateTime({f}) AND event_time <= toDateTime({t}) AND instance_id IN ('a','b') "
        f"AND y > toDateTime({f}) AND 60 > 0")
    assert "1=1" in expand(sql, start, end, 60, {"instance": None})


@pytest.mark.clickhouse
@pytest.mark.parametrize("dashboard,title,sql", _queries(), ids=lambda v: v if isinstance(v, str) and len(v) < 60 else None)
def test_when_a_panel_query_runs_on_the_desk_data_then_it_returns_rows(clickhouse: Any, desk: Dataset, dashboard: str,
                                                                        title: str, sql: str) -> None:
    # Arrange: the desk dashboards look at the dataset's days (event time); pipeline health at
    # the sink's ingest time, i.e. around now
    if dashboard == "pipeline_health":
        start, end = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=6), datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=5)
    else:
        start = datetime.combine(desk.day1, datetime.min.time())
        end = start + timedelta(days=2)
    inst = next(iter(desk.instances))

    for variables in ({"instance": None}, {"instance": [inst]}):
        # Act
        res = clickhouse.query(expand(sql, start, end, 300, variables))

        # Assert
        assert res.result_rows, f"{dashboard} / {title} returned no rows with {variables}"
        if "${instance" in sql and variables["instance"] and "instance_id" in res.column_names:
            assert {r[res.column_names.index("instance_id")] for r in res.result_rows} == {inst}


@pytest.mark.clickhouse
def test_when_the_tca_dashboard_ranks_regimes_then_it_agrees_with_the_python_tca(clickhouse: Any, desk: Dataset) -> None:
    # Arrange
    from sinks.clickhouse.analytics import tca_report

    d = json.loads((DASHBOARDS / "tca.json").read_text())
    sql = next(p for p in _panels(d) if p["title"] == "TCA by regime")["targets"][0]["rawSql"]
    start = datetime.combine(desk.day1, datetime.min.time())
    inst = next(iter(desk.instances))

    # Act
    res = clickhouse.query(expand(sql, start, start + timedelta(days=2) - timedelta(seconds=1), 300, {"instance": [inst]}))
    report = tca_report(clickhouse, desk.day1, desk.day2, instance=inst)

    # Assert: same fills, same adverse rates per regime as processors.analytics.tca
    rows = {r[0]: dict(zip(res.column_names, r)) for r in res.result_rows}
    for b in report.breakdowns["regime"]:
        assert rows[b.key]["fills"] == b.fills
        assert rows[b.key]["adverse_60s_rate"] == pytest.approx(b.adverse_60s_rate, abs=1e-4)
        assert rows[b.key]["markout_60s_bps"] == pytest.approx(b.mean_markout_bps, abs=0.01)
