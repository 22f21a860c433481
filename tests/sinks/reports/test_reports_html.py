"""Reports on disk: the JSON is the report, the HTML is self-contained and its plots carry the report's numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sinks.clickhouse.analytics import build_day_report, build_range_report, tca_report
from sinks.reports import write_reports
from tests.sinks.analytics.desk_dataset import Dataset, desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.clickhouse


def figures(html: str) -> dict[str, list[dict[str, Any]]]:
    """Each plot's traces, read back from the ``Plotly.newPlot("<id>", [traces], ...)`` calls in the page."""
    out = {}
    dec = json.JSONDecoder()
    for m in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html):
        traces, _ = dec.raw_decode(html, m.end())
        out[m.group(1)] = traces
    return out


def test_when_a_day_report_is_written_then_json_is_the_report_and_the_html_plots_carry_its_series(
        clickhouse: Any, desk: Dataset, tmp_path: Path) -> None:
    # Arrange
    report = build_day_report(clickhouse, desk.day1)

    # Act
    json_path, html_path = write_reports(report, tmp_path)

    # Assert: where they land
    assert json_path == tmp_path / "reports" / "day" / f"{desk.day1.isoformat()}.json"
    assert html_path == json_path.with_suffix(".html")
    assert json.loads((tmp_path / "reports" / "day" / "latest.json").read_text()) == json.loads(json_path.read_text())
    data = json.loads(json_path.read_text())
    assert data == json.loads(report.to_json())
    # Self-contained: plotly.js is inlined, nothing is fetched from a network
    html = html_path.read_text()
    assert len(html) > 1_000_000
    page = re.sub(r"<script type='text/javascript'>.*?</script>", "", html, count=1, flags=re.S)  # minus plotly.js
    assert "Plotly.newPlot" in page and not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page
    figs = figures(html)
    assert set(figs) == {"equity", "inventory", "spreads", "tca_breakdown", "adverse_by_regime"}
    equity, drawdown = figs["equity"]
    assert equity["y"] == pytest.approx(data["equity"]["equity"])
    assert drawdown["y"] == pytest.approx([-d * 100 for d in data["equity"]["drawdown"]])
    assert max(-y for y in drawdown["y"]) == pytest.approx(report.summary.drawdown_pct * 100)
    by_regime = data["tca"]["breakdowns"]["regime"]
    at_fill, after_60s = figs["adverse_by_regime"]
    assert at_fill["x"] == [b["key"] for b in by_regime]
    assert after_60s["y"] == pytest.approx([b["adverse_60s_rate"] for b in by_regime])
    inventory_names = {t["name"] for t in figs["inventory"]}
    assert {f"{i} base %" for i in desk.instances} <= inventory_names
    regime_traces = [t for t in figs["spreads"] if t["name"].endswith("regime")]
    assert {r for t in regime_traces for r in t["y"]} == set(report.summary.regime_counts)
    # The summary table shows the same figures
    assert f"<th class='l'>net_pnl_bps</th><td>{report.summary.net_pnl_bps:.2f}</td>" in html


def test_when_a_range_report_is_written_then_the_criteria_and_daily_bars_are_in_the_page(
        clickhouse: Any, desk: Dataset, tmp_path: Path) -> None:
    # Arrange
    report = build_range_report(clickhouse, desk.day1, desk.day2)

    # Act
    json_path, html_path = write_reports(report, tmp_path)

    # Assert
    assert json_path.name == f"{desk.day1.isoformat()}_{desk.day2.isoformat()}.json"
    latest = tmp_path / "reports" / "strategy" / "multi_day_summary_latest.json"  # ROAD-1's file name
    assert json.loads(latest.read_text())["summary"]["criteria"] == json.loads(json_path.read_text())["summary"]["criteria"]
    html = html_path.read_text()
    figs = figures(html)
    assert {"daily_pnl", "equity", "decomposition", "regimes", "inventory", "spreads", "tca_breakdown",
            "adverse_by_regime"} == set(figs)
    assert figs["daily_pnl"][0]["y"] == pytest.approx([d.net_pnl_bps for d in report.summary.daily])
    deco = report.summary.decomposition
    assert figs["decomposition"][0]["y"] == pytest.approx([deco.spread_capture_usdt, deco.inventory_carry_usdt,
                                                           -deco.fees_usdt, deco.funding_usdt, deco.net_pnl_usdt,
                                                           deco.net_pnl_with_funding_usdt])
    assert "ROAD-1: FAIL" in html and html.count(">PASS<") + html.count(">FAIL<") == len(report.summary.criteria)


def test_when_a_tca_report_is_written_then_its_json_has_one_row_per_fill(clickhouse: Any, desk: Dataset, tmp_path: Path) -> None:
    # Arrange
    report = tca_report(clickhouse, desk.day1, desk.day1)

    # Act
    json_path, html_path = write_reports(report, tmp_path)

    # Assert: named after the last day covered (the end bound itself is exclusive)
    assert json_path.name == f"{desk.day1.isoformat()}_{desk.day1.isoformat()}.json"
    data = json.loads(json_path.read_text())
    assert len(data["fills"]) == report.headline.fills == len(report.fills)
    assert {"implementation_shortfall_bps", "market_impact_bps", "markout_bps", "pnl_vs_mid_pct", "adverse_60s"} <= set(data["fills"][0])
    assert set(figures(html_path.read_text())) == {"tca_breakdown", "adverse_by_regime"}
