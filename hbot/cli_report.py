"""``hbot report day|range``, ``hbot tca`` and ``hbot export``: analytics from the desk's ClickHouse.

Each report prints a summary in the terminal and writes the same numbers as JSON and a
self-contained HTML page (plots) under ``HOME/reports``. ClickHouse is the embedded chDB (or
``HBOT_CLICKHOUSE_DSN``); while a running worker holds chDB open, queries go through the worker's
``/sql/`` page (see :mod:`sinks.clickhouse.reader`).

Errors the user can fix end with one ``error:`` line on stderr and exit code 2, like every hbot
command. They are printed here rather than raised as ``hbot.cli.UserError``: under
``python -m hbot.cli`` that class exists twice (``__main__`` and ``hbot.cli``), and importing it
from here would also make the two modules import each other.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

report_app = typer.Typer(help="Daily and multi-day (ROAD-1) reports: terminal summary, JSON and HTML under HOME/reports.",
                         no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

BY_CHOICES = ("regime", "hour", "side", "spread", "all")


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date; use YYYY-MM-DD (UTC), e.g. {option} 2026-03-01")


def _moment(value: str, option: str) -> date | datetime:
    """A whole UTC day (YYYY-MM-DD) or an instant (YYYY-MM-DDTHH:MM[:SS], UTC)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is neither a date (YYYY-MM-DD) nor a UTC time (YYYY-MM-DDTHH:MM)")


def _settings(ctx: typer.Context) -> Any:
    root = ctx.find_root()
    return root.obj["settings"]


def _reader(ctx: typer.Context) -> Any:
    from sinks.clickhouse.reader import open_reader

    return open_reader(_settings(ctx))


def _kv_table(title: str, data: dict[str, Any], fields: Any) -> Table:
    from sinks.reports.html import fmt

    t = Table(title=title, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", justify="right")
    for key, kind in fields:
        t.add_row(key, fmt(data.get(key), kind))
    return t


def _rows_table(title: str, rows: list[dict[str, Any]], fields: Any) -> Table:
    from sinks.reports.html import SHORT_LABELS, fmt

    t = Table(title=title)
    for key, kind in fields:
        # Label columns (regime names, dates) are never cut: they are what the row is about.
        width = max([len(key)] + [len(fmt(r.get(key), kind)) for r in rows]) if kind == "str" else None
        t.add_column(SHORT_LABELS.get(key, key), justify="left" if kind == "str" else "right", min_width=width, no_wrap=kind == "str")
    for r in rows:
        t.add_row(*[fmt(r.get(k), kind) for k, kind in fields])
    return t


def _print_tca(tca: dict[str, Any] | None, by: str) -> None:
    from sinks.reports.html import BUCKET_FIELDS, TCA_FIELDS

    if not tca:
        console.print("TCA: no fills in this period")
        return
    console.print(_kv_table("TCA headline (bps of mid; shortfall/impact positive = cost)", tca["headline"], TCA_FIELDS))
    dims = list(tca["breakdowns"]) if by == "all" else [by]
    for d in dims:
        rows = [{**b, d: b["key"]} for b in tca["breakdowns"][d]]
        console.print(_rows_table(f"TCA by {d}", rows, ((d, "str"),) + BUCKET_FIELDS[1:]))


def _written(json_path: Path, html_path: Path) -> None:
    console.print(f"JSON: {json_path}")
    console.print(f"HTML: {html_path}")


def _guard(fn: Any) -> Any:
    """Run ``fn`` turning 'nothing to report' and bad ranges into one error line."""
    from sinks.clickhouse.analytics.tca import NoData
    from sinks.clickhouse.reader import SqlEndpointError

    try:
        return fn()
    except NoData as exc:
        _fail(str(exc))
    except SqlEndpointError as exc:
        _fail(f"the running worker refused the query: {exc}")
    except ValueError as exc:
        _fail(str(exc))


@report_app.command("day")
def report_day(ctx: typer.Context,
               day: str = typer.Option(..., "--date", help="UTC day, YYYY-MM-DD."),
               instance: Optional[str] = typer.Option(None, "--instance", help="One instance id (default: all, summed)."),
               by: str = typer.Option("regime", "--by", help="TCA breakdown to print: regime, hour, side, spread or all.")) -> None:
    """One day's summary (PnL, fees, net bps, drawdown, fills, turnover, regimes) and TCA."""
    from sinks.clickhouse.analytics.reports import build_day_report
    from sinks.reports.html import DAY_FIELDS
    from sinks.reports.writer import write_reports

    d = _day(day, "--date")
    by = _by(by)
    reader = _reader(ctx)
    report = _guard(lambda: build_day_report(reader, d, instance))
    data = report.to_dict()
    console.print(_kv_table(f"hbot day {report.date} — {instance or 'all instances'}", data["summary"], DAY_FIELDS))
    console.print(_rows_table("regime minutes", [{"regime": k, "minutes": v} for k, v in data["summary"]["regime_counts"].items()],
                              (("regime", "str"), ("minutes", "int"))))
    _print_tca(data["tca"], by)
    _written(*write_reports(report, _settings(ctx).home))


@report_app.command("range")
def report_range(ctx: typer.Context,
                 start: str = typer.Option(..., "--start", help="First UTC day, YYYY-MM-DD."),
                 end: str = typer.Option(..., "--end", help="Last UTC day (inclusive), YYYY-MM-DD."),
                 instance: Optional[str] = typer.Option(None, "--instance", help="One instance id (default: all, summed)."),
                 by: str = typer.Option("regime", "--by", help="TCA breakdown to print: regime, hour, side, spread or all.")) -> None:
    """ROAD-1 multi-day summary: mean daily net bps, Sharpe, drawdown, win rate, regimes, PnL decomposition, pass/fail."""
    from sinks.clickhouse.analytics.reports import build_range_report
    from sinks.reports.html import DAY_FIELDS, RANGE_FIELDS
    from sinks.reports.writer import write_reports

    s, e = _day(start, "--start"), _day(end, "--end")
    if e < s:
        _fail(f"--end {end} is before --start {start}")
    by = _by(by)
    reader = _reader(ctx)
    report = _guard(lambda: build_range_report(reader, s, e, instance))
    data = report.to_dict()
    summary = data["summary"]
    verdict = "[bold green]PASS[/]" if summary["passed"] else "[bold red]FAIL[/]"
    crit = Table(title=f"ROAD-1 pass criteria: {'PASS' if summary['passed'] else 'FAIL'}")
    for col in ("criterion", "value", "threshold", "result"):
        crit.add_column(col, justify="left" if col == "criterion" else "right")
    from sinks.reports.html import fmt

    from sinks.reports.html import CRITERION_KINDS

    for c in summary["criteria"]:
        kind = CRITERION_KINDS.get(c["name"], "num")
        crit.add_row(c["rule"], fmt(c["value"], kind), fmt(c["threshold"], kind), "[green]PASS[/]" if c["passed"] else "[red]FAIL[/]")
    console.print(_kv_table(f"hbot {report.start} .. {report.end} — {instance or 'all instances'}", summary, RANGE_FIELDS))
    console.print(_rows_table("daily", summary["daily"], (("date", "str"),) + DAY_FIELDS[:8]))
    console.print(_kv_table("PnL decomposition (quote)", summary["decomposition"], [(k, "num") for k in summary["decomposition"]]))
    console.print(_rows_table("regimes", summary["regimes"], (("regime", "str"), ("minutes", "int"), ("share", "pct"),
                                                              ("days_dominant", "int"), ("fills", "int"),
                                                              ("spread_capture_usdt", "num"), ("adverse_60s_rate", "pct"))))
    console.print(crit)
    console.print(f"ROAD-1: {verdict}")
    _print_tca(data["tca"], by)
    _written(*write_reports(report, _settings(ctx).home))


def _by(value: str) -> str:
    if value not in BY_CHOICES:
        _fail(f"--by {value!r} is not one of {', '.join(BY_CHOICES)}")
    return value


def tca(ctx: typer.Context,
        start: str = typer.Option(..., "--start", help="Start: a UTC day YYYY-MM-DD, or a UTC time YYYY-MM-DDTHH:MM."),
        end: str = typer.Option(..., "--end", help="End: a UTC day (inclusive) or a UTC time (exclusive)."),
        by: str = typer.Option("regime", "--by", help="Breakdown: regime, hour, side, spread or all."),
        instance: Optional[str] = typer.Option(None, "--instance", help="One instance id (default: all).")) -> None:
    """Transaction-cost analysis (ROAD-6): shortfall, 60 s impact and markout, adverse selection, by regime/hour/side/spread."""
    from sinks.clickhouse.analytics.tca import tca_report
    from sinks.reports.writer import write_reports

    s, e = _moment(start, "--start"), _moment(end, "--end")
    by = _by(by)
    reader = _reader(ctx)
    report = _guard(lambda: tca_report(reader, s, e, instance))
    _print_tca(report.to_dict(), by)
    _written(*write_reports(report, _settings(ctx).home))


def export(ctx: typer.Context,
           what: str = typer.Option(..., "--what", help="state (the old minute.csv) or fills (the old fills.csv)."),
           start: str = typer.Option(..., "--start", help="First UTC day, YYYY-MM-DD (or a UTC time)."),
           end: str = typer.Option(..., "--end", help="Last UTC day, inclusive (or a UTC time, exclusive)."),
           out: Path = typer.Option(..., "--out", help="CSV file to write."),
           instance: Optional[str] = typer.Option(None, "--instance", help="One instance id (default: all).")) -> None:
    """Export strategy states or fills as CSV with the old minute.csv / fills.csv column names."""
    from sinks.clickhouse.analytics.export import WHAT, export_csv

    if what not in WHAT:
        _fail(f"--what {what!r} is not one of {', '.join(WHAT)}")
    s, e = _moment(start, "--start"), _moment(end, "--end")
    reader = _reader(ctx)
    n = _guard(lambda: export_csv(reader, what, s, e, out, instance))  # type: ignore[arg-type]
    if n == 0:
        console.print(f"[yellow]no {what} rows in that period[/]; wrote the header only to {out}")
    else:
        console.print(f"wrote {n:,} {what} rows to {out}")
