"""CSV exports with the old file layouts: ``minute.csv`` (strategy states) and ``fills.csv``.

Column names are the spec's (the strategy-state fields are the old ``minute.csv`` columns; fills
carry ``ts``, ``event_type`` and ``pnl_vs_mid_pct`` as the old ``fills.csv`` did), timestamps are
ISO 8601 UTC (``2026-01-01T00:10:00.000000+00:00``). Rows are fetched one UTC day at a time so a
month of decisions never sits in memory at once.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sinks.clickhouse.analytics import queries as q
from sinks.clickhouse.analytics.tca import bounds
from sinks.clickhouse.reader import Reader, as_reader

WHAT = {"state": (q.export_state, q.MINUTE_CSV_COLUMNS), "fills": (q.export_fills, q.FILLS_CSV_COLUMNS)}


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    return v


def export_csv(reader: Reader | Any, what: Literal["state", "fills"], start: date | datetime, end: date | datetime,
               out: Path, instance: str | None = None) -> int:
    """Write ``what`` between ``start`` and ``end`` (dates: whole days, end inclusive) to ``out``; returns rows."""
    if what not in WHAT:
        raise ValueError(f"unknown export {what!r}; use one of {', '.join(WHAT)}")
    build, columns = WHAT[what]
    reader = as_reader(reader)
    s, e = bounds(start, end)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        t = s
        while t < e:
            chunk_end = min(datetime.combine(t.date(), datetime.min.time()) + timedelta(days=1), e)
            for r in reader.query_rows(*build(t, chunk_end, instance)):
                w.writerow([_cell(r[c]) for c in columns])
                n += 1
            t = chunk_end
    tmp.replace(out)  # a reader of the CSV never sees a half-written file
    return n
