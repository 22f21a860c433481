"""``hbot archive``, ``hbot restore`` and ``hbot replay``: daily archives and window forensics.

The work happens in :mod:`streams.archive` and :mod:`streams.replay`; this layer parses arguments,
draws progress bars (on stderr, so ``--format json`` output stays clean) and prints results.
Imports of the heavy modules are lazy so ``hbot --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, List, Optional

import typer


def _cli() -> Any:
    # hbot.cli imports this module to register the commands; import it back lazily (no cycle).
    # Under `python -m hbot.cli` that module is __main__: use it, so UserError is the class main() catches.
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is not None and spec is not None and spec.name == "hbot.cli":
        return main
    from hbot import cli

    return cli


def _split(values: Optional[List[str]]) -> list[str] | None:
    """``--topics a,b --topics c`` -> ``[a, b, c]``."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


class _Bars:
    """A rich progress bar per topic, driven by the read/restore progress callbacks."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def planned(self, topic: str, total: int) -> None:
        self.tasks[topic] = self.progress.add_task(topic, total=max(total, 1) if total else None)

    def advanced(self, topic: str, n: int) -> None:
        task = self.tasks.get(topic)
        if task is not None and n:
            self.progress.advance(task, n)


def _progress(transient: bool = False) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=transient)


def _user_errors(fn: Any) -> Any:
    """Turn the archive/replay modules' one-line errors into the CLI's UserError (exit 2)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from streams.archive import ArchiveError
        from streams.replay import ReadError, WindowError

        try:
            return fn(*args, **kwargs)
        except (ArchiveError, ReadError, WindowError) as exc:
            raise _cli().UserError(str(exc)) from None
    return wrapper


@_user_errors
def archive_command(ctx: typer.Context,
                    date: str = typer.Option(..., "--date", help="UTC day to archive, YYYY-MM-DD, or 'yesterday' (what the scheduled archive after the UTC rollover runs) or 'today'."),
                    topics: Optional[List[str]] = typer.Option(None, "--topics", help="Only these catalog topics (comma-separated or repeated); default all."),
                    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing archive of the day whose content differs."),
                    max_clock_skew: float = typer.Option(3600.0, "--max-clock-skew", min=0, help="Seconds an event time may lead its Kafka timestamp (bounds the seek)."),
                    ) -> None:
    """COPY every record of one UTC day (by event time) of the catalog topics to HOME/archive/DAY (nothing is deleted)."""
    from streams.archive import archive_day, parse_date

    from datetime import datetime, timezone

    cli = _cli()
    day = parse_date(date, today=datetime.now(timezone.utc).date())  # wall clock ok: the CLI's own notion of "yesterday"
    rt = cli._runtime(ctx, service="hbot-archive")
    cli._reachable(rt)
    started = time.perf_counter()
    with _progress() as progress:
        res = archive_day(rt.kafka_conf, rt.serde, cli._settings(ctx).home, day, _split(topics), overwrite=overwrite,
                          clock_skew_s=max_clock_skew, progress=_Bars(progress))
    elapsed = time.perf_counter() - started
    from rich.table import Table

    table = Table(title=f"archive {day.isoformat()}")
    for col in ("topic", "records", "scanned", "file"):
        table.add_column(col, justify="right" if col in ("records", "scanned") else "left")
    for t in res.topics:
        table.add_row(t.topic, f"{t.count:,}", f"{t.scanned:,}", t.status)
    cli.console.print(table)
    scanned = sum(t.scanned for t in res.topics)
    cli.console.print(f"archived {res.records:,} records ({scanned:,} scanned) to {res.directory} in {elapsed:.1f} s "
                      f"({scanned / elapsed if elapsed else 0:,.0f} records/s scanned)", highlight=False)


@_user_errors
def restore_command(ctx: typer.Context,
                    date: str = typer.Option(..., "--date", help="Archived UTC day to publish back, YYYY-MM-DD."),
                    bootstrap: Optional[str] = typer.Option(None, "--bootstrap", help="Target broker host:port (default: the configured one; security settings are kept)."),
                    topics: Optional[List[str]] = typer.Option(None, "--topics", help="Only these archived topics; default all."),
                    allow_existing: bool = typer.Option(False, "--allow-existing", help="Restore even if the target already holds records of that day (adds duplicates)."),
                    verify_only: bool = typer.Option(False, "--verify-only", help="Only compare the broker with the archive; publish nothing."),
                    ) -> None:
    """Publish an archived day back to a (fresh) broker with keys, values, headers and timestamps, then verify it."""
    from rich.table import Table

    from streams.archive import parse_date, restore_day, verify_day

    cli = _cli()
    day = parse_date(date)
    rt = cli._runtime(ctx, service="hbot-restore")
    conf = dict(rt.kafka_conf)
    if bootstrap:
        if ":" not in bootstrap:
            raise cli.UserError(f"--bootstrap {bootstrap!r} needs a port, e.g. 127.0.0.1:9092")
        conf["bootstrap.servers"] = bootstrap
    from streams.broker import wait_until_reachable

    wait_until_reachable(conf, timeout_s=10.0)
    home = cli._settings(ctx).home
    started = time.perf_counter()
    produced: dict[str, int] = {}
    with _progress() as progress:
        if verify_only:
            comparisons = verify_day(conf, rt.serde, home, day, _split(topics), progress=_Bars(progress))
        else:
            res = restore_day(conf, rt.serde, home, day, _split(topics), allow_existing=allow_existing, progress=_Bars(progress))
            comparisons, produced = res.comparisons, res.produced
    elapsed = time.perf_counter() - started
    table = Table(title=f"{'verify' if verify_only else 'restore'} {day.isoformat()} -> {conf['bootstrap.servers']}")
    for col in ("topic", "archived", "on broker", "values sha256", "records sha256", "ok"):
        table.add_column(col, justify="right" if col in ("archived", "on broker") else "left")
    for c in comparisons:
        table.add_row(c.topic, f"{c.archived:,}", f"{c.on_broker:,}", "equal" if c.values_match else "DIFFERENT",
                      "equal" if c.records_match else "DIFFERENT", "[green]yes[/]" if c.ok else "[red]NO[/]")
    cli.console.print(table)
    total = sum(produced.values())
    if not verify_only:
        cli.console.print(f"restored {total:,} records in {elapsed:.1f} s (with verification)", highlight=False)
    bad = [c.topic for c in comparisons if not c.ok]
    if bad:
        raise cli.UserError(f"{len(bad)} topic(s) differ from the archive of {day.isoformat()}: {', '.join(bad)}")


@_user_errors
def replay_command(ctx: typer.Context,
                   topic: str = typer.Option(..., "--topic", help="Topic to read, e.g. hb.strategy_state.v1."),
                   start: str = typer.Option(..., "--start", help="Window start (inclusive), ISO 8601 UTC, e.g. 2026-03-01T12:00:00Z."),
                   end: str = typer.Option(..., "--end", help="Window end (exclusive), ISO 8601 UTC."),
                   market: Optional[str] = typer.Option(None, "--market", help="Only this market (exchange:symbol)."),
                   fmt: str = typer.Option("table", "--format", help="table or json (one JSON object per line)."),
                   decode: bool = typer.Option(False, "--decode", help="Print every field of the decoded records, not only the summary fields."),
                   fields: Optional[str] = typer.Option(None, "--fields", help="Comma-separated fields to print instead of the schema's summary fields."),
                   order: str = typer.Option("event", "--order", help="event (merged by event time) or log (partition by partition)."),
                   limit: int = typer.Option(1000, "--limit", help="Print at most this many records (0 = all)."),
                   to_topic: Optional[str] = typer.Option(None, "--to-topic", help="Republish the window into this topic instead of printing it."),
                   speed: float = typer.Option(0.0, "--speed", help="With --to-topic: 1 = real time, 10 = 10x, 0 = as fast as possible."),
                   restamp: bool = typer.Option(False, "--restamp", help="With --to-topic: give the copies a new Kafka timestamp (now) instead of the original (for topics with short time-based retention)."),
                   allow_live_topic: bool = typer.Option(False, "--allow-live-topic", help="Allow --to-topic to be a catalog topic the desk consumes."),
                   max_clock_skew: float = typer.Option(3600.0, "--max-clock-skew", help="Seconds an event time may lead its Kafka timestamp (bounds the seek)."),
                   ) -> None:
    """Read a window [start, end) of any topic, by event time: what the desk saw and decided between A and B."""
    from streams.catalog import CATALOG
    from streams.replay import WindowError, check_window, parse_time, pacing_offsets, read_window

    cli = _cli()
    start_us, end_us = parse_time(start, "--start"), parse_time(end, "--end")
    check_window(start_us, end_us)
    if fmt not in ("table", "json"):
        raise WindowError(f"--format must be table or json, not {fmt!r}")
    if order not in ("event", "log"):
        raise WindowError(f"--order must be event or log, not {order!r}")
    if limit < 0:
        raise WindowError(f"--limit must be >= 0 (0 = all), not {limit}")
    pacing_offsets([], speed)  # validates --speed
    if to_topic is not None:
        if to_topic == topic:
            raise WindowError("--to-topic must differ from --topic (republishing a topic into itself would loop)")
        if to_topic in CATALOG and not allow_live_topic:
            raise WindowError(f"--to-topic {to_topic} is a live catalog topic the desk consumes; pick another name "
                              "or pass --allow-live-topic")
    rt = cli._runtime(ctx, service="hbot-replay")
    cli._reachable(rt)
    with _progress(transient=True) as progress:
        records = read_window(rt.kafka_conf, rt.serde, topic, start_us, end_us, market=market, order=order,  # type: ignore[arg-type]
                              clock_skew_s=max_clock_skew, keep_decoded=True, progress=_Bars(progress))
    if to_topic is not None:
        from streams.replay import republish

        res = republish(rt.kafka_conf, records, to_topic, speed, keep_timestamps=not restamp)
        cli.console.print(f"republished {res.records:,} records of {topic} into {to_topic} in {res.seconds:.1f} s"
                          + (" (topic created)" if res.created_topic else ""), highlight=False)
        return
    _print_records(cli, topic, records, fmt, decode, [f.strip() for f in fields.split(",")] if fields else None, limit)


def _print_records(cli: Any, topic: str, records: list[Any], fmt: str, decode: bool, fields: list[str] | None, limit: int) -> None:
    from streams.replay import format_time, jsonable, key_text, summary_fields

    shown = records if limit == 0 else records[:limit]
    if fmt == "json":
        out = sys.stdout
        for r in shown:
            rec = r.decoded if decode else summary_fields(topic, r.decoded, fields)
            out.write(json.dumps({"event_time": format_time(r.event_time_us), "time_source": r.time_source,
                                  "topic": r.topic, "partition": r.partition, "offset": r.offset, "key": key_text(r.key),
                                  "decoded": r.decoded is not None, "record": jsonable(rec),
                                  # Undecodable bytes are the evidence: print them (base64) rather than nothing.
                                  **({} if r.decoded is not None else {"value_b64": jsonable(r.value)})},
                                 separators=(",", ":")) + "\n")
    else:
        from rich.table import Table

        table = Table(title=f"{topic}: {len(records):,} records")
        for col in ("event time (UTC)", "p@offset", "key", "record" if decode else "fields"):
            table.add_column(col)
        for r in shown:
            rec = r.decoded if decode else summary_fields(topic, r.decoded, fields)
            text = _kv(jsonable(rec)) if r.decoded is not None else f"<undecodable {len(r.value or b'')} bytes>"
            when = format_time(r.event_time_us) + ("" if r.time_source == "event" else " (kafka)")
            table.add_row(when, f"{r.partition}@{r.offset}", key_text(r.key), text)
        cli.console.print(table)
    if len(shown) < len(records):
        cli.err_console.print(f"showing {len(shown):,} of {len(records):,} records; --limit 0 prints all", highlight=False)


def _kv(rec: dict[str, Any]) -> str:
    """``a=1 b=x c=[..]``: compact, one line per record."""
    return " ".join(f"{k}={v if isinstance(v, (str, int, float)) or v is None else json.dumps(v, separators=(',', ':'))}"
                    for k, v in rec.items())
