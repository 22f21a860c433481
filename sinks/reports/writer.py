"""Where reports land: ``HOME/reports/<kind>/`` as JSON and self-contained HTML.

- day:   ``reports/day/<date>[_<instance>].{json,html}`` and ``reports/day/latest.json``
- range: ``reports/range/<start>_<end>[_<instance>].{json,html}`` and, as ROAD-1 names it,
  ``reports/strategy/multi_day_summary_latest.json``
- tca:   ``reports/tca/<start>_<end>[_<instance>].{json,html}`` (with one row per fill) and
  ``reports/tca/latest.json``

Files are written to a temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sinks.reports.html import render_day_html, render_range_html, render_tca_html


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_reports(report: Any, home: Path) -> tuple[Path, Path]:
    """Write a day, range or TCA report as JSON + HTML under ``home/reports``; returns both paths."""
    from sinks.clickhouse.analytics.tca import TcaReport

    root = Path(home) / "reports"
    if isinstance(report, TcaReport):
        data = report.to_dict(include_fills=True)
        # The report's end is exclusive; the file is named after the last day it covers.
        last = (datetime.fromisoformat(report.end) - timedelta(microseconds=1)).date().isoformat()
        stem = f"{report.start[:10]}_{last}" + (f"_{_safe(report.instance)}" if report.instance else "")
        folder, html = root / "tca", render_tca_html(data)
        latest = [folder / "latest.json"]
    elif getattr(report, "kind", None) == "day":
        data = report.to_dict()
        stem = report.date + (f"_{_safe(report.instance)}" if report.instance else "")
        folder, html = root / "day", render_day_html(data)
        latest = [folder / "latest.json"]
    elif getattr(report, "kind", None) == "range":
        data = report.to_dict()
        stem = f"{report.start}_{report.end}" + (f"_{_safe(report.instance)}" if report.instance else "")
        folder, html = root / "range", render_range_html(data)
        latest = [root / "strategy" / "multi_day_summary_latest.json"]
    else:
        raise TypeError(f"not a report: {type(report).__name__}")
    text = json.dumps(data, indent=1)
    json_path = _write(folder / f"{stem}.json", text)
    html_path = _write(folder / f"{stem}.html", html)
    for p in latest:
        _write(p, text)
    return json_path, html_path
