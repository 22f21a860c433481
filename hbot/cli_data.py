"""``hbot data``: fetch, import, replay and list historical market data (Parquet under HOME/data).

The work is done by :mod:`processors.market_data.history`; this layer parses arguments, owns the wall
clock (progress bars, replay pacing) and turns failures into one readable line.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

data_app = typer.Typer(help="Historical market data: fetch (ccxt), import (recorded files), replay to Kafka, list.",
                       no_args_is_help=True)
console = Console()

SPEED_HELP = "'max' (as fast as the broker takes it), or 'xN' for N times real time (x1, x100, x0.5)."


def _cli() -> Any:
    """The loaded ``hbot.cli`` module (imported lazily: it imports this module to register ``data``).

    Under ``python -m hbot.cli`` that module is ``__main__``; its ``UserError`` is the class ``main()``
    catches, so it must be the one raised here.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is not None and spec is not None and spec.name == "hbot.cli":
        return main
    from hbot import cli

    return cli


def _user_error(msg: str) -> Exception:
    return _cli().UserError(msg)


def _store(ctx: typer.Context):  # noqa: ANN202 - HistoryStore imported lazily for fast --help
    from processors.market_data.history.store import HistoryStore

    return HistoryStore(ctx.obj["settings"].home / "data")


def parse_time_ms(value: str, option: str) -> int:
    """Milliseconds since the epoch from ``YYYY-MM-DD`` or an ISO date-time (UTC unless it says otherwise)."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _user_error(f"{option} {value!r} is not a date (YYYY-MM-DD) or ISO date-time (YYYY-MM-DDTHH:MM[:SS])") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def parse_speed(value: str) -> float:
    """``max`` -> 0 (no pacing), ``xN`` -> N."""
    v = value.strip().lower()
    if v == "max":
        return 0.0
    try:
        speed = float(v[1:]) if v.startswith("x") else float("nan")
    except ValueError:
        speed = float("nan")
    if not speed > 0:
        raise _user_error(f"--speed {value!r}: use {SPEED_HELP}")
    return speed


def _kinds(value: str, allowed: Iterable[str], option: str = "--kinds") -> tuple[str, ...]:
    allowed = tuple(allowed)
    kinds = tuple(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))
    bad = [k for k in kinds if k not in allowed]
    if not kinds or bad:
        raise _user_error(f"{option} {value!r}: choose among {', '.join(allowed)} (comma-separated)")
    return kinds


def make_exchange(exchange_id: str) -> Any:
    """A ccxt (sync) exchange with its rate limiter on (replaced in tests by one with a faked HTTP layer)."""
    import ccxt

    cls = getattr(ccxt, exchange_id, None)
    if exchange_id not in ccxt.exchanges or cls is None:
        raise _user_error(f"--exchange {exchange_id!r} is not a ccxt exchange id (e.g. bitget, binanceusdm, okx)")
    return cls({"enableRateLimit": True})


@data_app.command("fetch")
def fetch_cmd(ctx: typer.Context,
              exchange: str = typer.Option("bitget", "--exchange", help="ccxt exchange id."),
              symbol: str = typer.Option("BTC/USDT:USDT", "--symbol", help="ccxt unified symbol."),
              since: str = typer.Option(..., "--since", help="Start (UTC), e.g. 2024-08-01 or 2024-08-01T12:00."),
              until: str = typer.Option(..., "--until", help="End (UTC, exclusive), e.g. 2024-08-02."),
              kinds: str = typer.Option("ohlcv,funding,trades", "--kinds", help="Comma-separated: ohlcv, funding, trades.")) -> None:
    """Fetch 1m OHLCV, funding and trades through ccxt into HOME/data (resumable: rerun after an interruption)."""
    import ccxt
    from pydantic import ValidationError

    from hbot.settings import describe_validation_error
    from processors.market_data.history.fetch import FETCH_KINDS, FetchConfig, FetchError, HistoryFetcher
    from processors.market_data.history.store import StoreError

    since_ms, until_ms = parse_time_ms(since, "--since"), parse_time_ms(until, "--until")
    if until_ms <= since_ms:
        raise _user_error(f"--until {until!r} must be after --since {since!r}")
    try:
        cfg = FetchConfig(symbol=symbol, since_ms=since_ms, until_ms=until_ms, kinds=_kinds(kinds, FETCH_KINDS))
    except ValidationError as exc:
        raise _user_error(describe_validation_error(exc, prefix="", source="the fetch options")) from None
    ex = make_exchange(exchange)
    store = _store(ctx)
    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(p: Any) -> None:
            if p.kind not in tasks:
                tasks[p.kind] = progress.add_task(f"{exchange} {symbol} {p.kind} (days)", total=p.days)
            progress.update(tasks[p.kind], completed=p.day_index + p.fraction, description=f"{exchange} {symbol} {p.kind} {p.day}")

        fetcher = HistoryFetcher(ex, store, cfg, now_ms=int(time.time() * 1000), on_progress=on_progress)
        try:
            report = fetcher.run()
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: what was fetched is stored; run the same command again to resume")
            raise typer.Exit(130) from None
        except ccxt.BaseError as exc:
            raise _user_error(f"{exchange}: {type(exc).__name__}: {str(exc)[:300]} (stored pages are kept; rerun to resume)") from None
        except (KeyError, StoreError, FetchError) as exc:
            raise _user_error(str(exc.args[0] if exc.args else exc)) from None
    for line in report.lines():
        console.print(line, highlight=False)
    console.print(f"done in {time.monotonic() - started:.1f} s; stored under {store.market_dir(ex.id, symbol)}")


@data_app.command("import")
def import_cmd(ctx: typer.Context,
               file: Path = typer.Argument(..., help="Recorded file (plain or .gz).", exists=True, dir_okay=False, readable=True),
               symbol: Optional[str] = typer.Option(None, "--symbol", help="Unified symbol to store it under (default: from the file, e.g. BTCUSDT -> BTC/USDT:USDT)."),
               exchange: str = typer.Option("binance", "--exchange", help="Exchange id to store it under."),
               line_format: str = typer.Option("hftbacktest-binance-usdm", "--format", help="Line format of the file."),
               levels: int = typer.Option(20, "--levels", min=1, help="Book levels per side in each snapshot."),
               interval_ms: int = typer.Option(100, "--interval-ms", min=0, help="Event time between book snapshots (0: every depth update)."),
               bootstrap: str = typer.Option("snapshot", "--bootstrap", help="'snapshot' (REST snapshot in the file) or 'diffs' (no snapshot: warm up from diffs)."),
               keep_partial_candles: bool = typer.Option(False, help="Also keep the cut first/last minute candles.")) -> None:
    """Import a recorded file: L2 book rebuilt from depth diffs, book snapshots, trades, 1m candles."""
    from pydantic import ValidationError

    from hbot.settings import describe_validation_error
    from processors.market_data.history.formats import format_names
    from processors.market_data.history.importer import ImportConfig, guess_symbol, import_file, open_lines
    from processors.market_data.history.store import StoreError

    if line_format not in format_names():
        raise _user_error(f"--format {line_format!r}: known formats are {', '.join(format_names())}")
    if symbol is None:
        symbol = guess_symbol(open_lines(file), line_format)
        if symbol is None:
            raise _user_error(f"cannot tell the symbol of {file}; pass --symbol (e.g. BTC/USDT:USDT)")
    try:
        cfg = ImportConfig(symbol=symbol, exchange=exchange, line_format=line_format, book_levels=levels,
                           book_interval_ms=interval_ms, bootstrap=bootstrap, keep_partial_candles=keep_partial_candles)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _user_error(describe_validation_error(exc, prefix="", source="the import options")) from None
    started = time.monotonic()
    with console.status(f"importing {file.name} as {cfg.market} ..."):
        try:
            report = import_file(file, _store(ctx), cfg)
        except StoreError as exc:
            raise _user_error(str(exc)) from None
    elapsed = time.monotonic() - started
    for line in report.lines_out():
        console.print(line, highlight=False)
    console.print(f"stored rows in the touched days: {report.stored_rows}; imported in {elapsed:.1f} s", highlight=False)


def publish(events: Iterable[tuple[str, dict[str, Any]]], send: Callable[[str, dict[str, Any]], None], speed: float,
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
            on_sent: Callable[[int], None] | None = None) -> Counter[str]:
    """Publish ``events`` in order, waiting so that event time advances ``speed`` x faster than the wall clock.

    ``speed`` 0 publishes as fast as possible. The wall clock is read here, never in the iterator.
    Returns the count per topic.
    """
    from processors.market_data.pacing import Pacer

    pacer = Pacer(speed)
    counts: Counter[str] = Counter()
    n = 0
    for topic_name, record in events:
        if speed > 0:
            wait = pacer.delay_s(record["event_time"], clock())
            if wait > 0:
                sleep(wait)
        send(topic_name, record)
        counts[topic_name] += 1
        n += 1
        if on_sent is not None and n % 1000 == 0:
            on_sent(n)
    if on_sent is not None:
        on_sent(n)
    return counts


@data_app.command("replay")
def replay_cmd(ctx: typer.Context,
               exchange: str = typer.Option("binance", "--exchange", help="Exchange id of the stored market."),
               symbol: str = typer.Option("BTC/USDT:USDT", "--symbol", help="Unified symbol of the stored market."),
               start: str = typer.Option(..., "--start", help="Start (UTC, event time), e.g. 2024-08-08 or 2024-08-08T23:55."),
               end: str = typer.Option(..., "--end", help="End (UTC, exclusive)."),
               speed: str = typer.Option("max", "--speed", help=SPEED_HELP),
               kinds: str = typer.Option("book,trades,ohlcv,funding", "--kinds", help="Comma-separated kinds to replay.")) -> None:
    """Publish a stored range to the hb.market.* topics in event-time order, paced at the chosen speed."""
    from processors.market_data.history.replay import replay, stored_counts
    from processors.market_data.history.store import KINDS
    from processors.market_data.topics import MARKET_TOPICS
    from streams.admin import ensure_topics
    from streams.catalog import CATALOG
    from streams.producer import ProduceError

    cli = _cli()
    start_ms, end_ms = parse_time_ms(start, "--start"), parse_time_ms(end, "--end")
    if end_ms <= start_ms:
        raise _user_error(f"--end {end!r} must be after --start {start!r}")
    pace = parse_speed(speed)
    chosen = _kinds(kinds, KINDS)
    store = _store(ctx)
    total = sum(stored_counts(store, exchange, symbol, start_ms * 1000, end_ms * 1000, chosen).values())
    if total == 0:
        raise _user_error(f"nothing stored for {exchange}:{symbol} in [{start}, {end}); see `hbot data list`")
    rt = cli._runtime(ctx, service="hbot-data-replay")
    cli._reachable(rt)
    ensure_topics(rt.kafka_conf, [CATALOG[t] for t in MARKET_TOPICS])
    producer = rt.producer
    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task(f"replaying {exchange}:{symbol} at {speed}", total=total)
        try:
            counts = publish(replay(store, exchange, symbol, start_ms * 1000, end_ms * 1000, chosen), producer.send, pace,
                             on_sent=lambda n: progress.update(task, completed=n))
            producer.flush()
        except ProduceError as exc:
            raise _user_error(f"publishing failed: {exc}") from None
        except KeyboardInterrupt:
            producer.flush(5.0)
            console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
    elapsed = time.monotonic() - started
    n = sum(counts.values())
    for topic_name, c in sorted(counts.items()):
        console.print(f"{topic_name}: {c:,}", highlight=False)
    console.print(f"{n:,} records in {elapsed:.2f} s ({n / max(elapsed, 1e-9):,.0f}/s)", highlight=False)


@data_app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Show what is stored: exchange, symbol, kind, days, rows."""
    inv = _store(ctx).inventory()
    if as_json:
        rows = [{"exchange": s.exchange, "symbol": s.symbol, "kind": s.kind, "days": s.days, "first_day": s.first_day.isoformat(),
                 "last_day": s.last_day.isoformat(), "rows": s.rows, "incomplete_days": s.incomplete_days} for s in inv]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    if not inv:
        console.print(f"nothing stored under {_store(ctx).root}")
        return
    table = Table(title=f"stored history ({_store(ctx).root})")
    for col in ("exchange", "symbol", "kind", "days", "first", "last", "rows", "incomplete days"):
        table.add_column(col, justify="right" if col in ("days", "rows", "incomplete days") else "left")
    for s in inv:
        table.add_row(s.exchange, s.symbol, s.kind, str(s.days), s.first_day.isoformat(), s.last_day.isoformat(), f"{s.rows:,}",
                      str(s.incomplete_days))
    console.print(table)
