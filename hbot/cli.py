"""The ``hbot`` command line. Every command explains itself with ``--help``.

Errors the user can fix (bad config, unreachable broker, locked ClickHouse) end with one readable
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hbot.cli_archive import archive_command, replay_command, restore_command
from hbot.cli_data import data_app
from hbot.settings import ConfigError, HbotSettings, load_settings

app = typer.Typer(help="hbot: a crypto market-making desk on Kafka. Start with `hbot demo`.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
topics_app = typer.Typer(help="Create, list and describe the topics of the catalog.", no_args_is_help=True)
sink_app = typer.Typer(help="The ClickHouse sink: schema migrations and checks.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(sink_app, name="sink")
from hbot.cli_report import export as export_command, report_app, tca as tca_command  # noqa: E402

app.add_typer(report_app, name="report")
app.command("tca")(tca_command)
app.command("export")(export_command)
app.add_typer(data_app, name="data")
app.command("archive")(archive_command)
app.command("restore")(restore_command)
app.command("replay")(replay_command)

console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """An error with a message meant for the user (printed as one line, exit 2)."""


def _settings(ctx: typer.Context) -> HbotSettings:
    return ctx.obj["settings"]


@app.callback()
def main_options(ctx: typer.Context,
                 home: Optional[Path] = typer.Option(None, "--home", help="Folder for all local state (default ./.hbot, or HBOT_HOME).")) -> None:
    """Global options; settings come from HBOT_* environment variables."""
    ctx.obj = {"settings": load_settings(home=home)}


def _runtime(ctx: typer.Context, service: str = "hbot-cli"):  # noqa: ANN202 - Runtime imported lazily for fast --help
    from hbot.runtime import Runtime

    return Runtime(_settings(ctx), service=service)


def _reachable(rt) -> None:  # noqa: ANN001
    from streams.broker import wait_until_reachable

    wait_until_reachable(rt.kafka_conf, timeout_s=10.0)


@app.command()
def broker(ctx: typer.Context, port: Optional[int] = typer.Option(None, "--port", help="Port to listen on (default HBOT_BROKER_PORT, 9092)."),
           ensure: bool = typer.Option(True, help="Create the catalog's topics once the broker is up.")) -> None:
    """Run the embedded Tansu Kafka broker in the foreground (in memory: topics are lost when it stops)."""
    from streams.admin import ensure_topics
    from streams.broker import EmbeddedBroker

    s = _settings(ctx)
    b = EmbeddedBroker(port or s.broker_port, log_file=s.home / "logs" / "broker.log")
    b.start()
    try:
        if ensure:
            res = ensure_topics({"bootstrap.servers": b.bootstrap})
            console.print(f"topics: {len(res.created)} created, {len(res.existing)} already there")
        console.print(f"[bold green]embedded broker listening on {b.bootstrap}[/] (in memory; Ctrl-C stops it)")
        b.wait()
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


@topics_app.command("ensure")
def topics_ensure(ctx: typer.Context) -> None:
    """Create every catalog topic that does not exist yet (idempotent)."""
    from streams.admin import ensure_topics

    rt = _runtime(ctx)
    _reachable(rt)
    res = ensure_topics(rt.kafka_conf)
    console.print(f"created {len(res.created)}: {', '.join(res.created) or '-'}")
    console.print(f"already there {len(res.existing)}")


@topics_app.command("list")
def topics_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the catalog's topics with partitions, retention and message counts."""
    from streams.admin import topic_counts
    from streams.catalog import CATALOG

    rt = _runtime(ctx)
    _reachable(rt)
    counts = topic_counts(rt.kafka_conf)
    if as_json:
        console.print_json(json.dumps([c.__dict__ for c in counts]))
        return
    table = Table(title="hbot topics")
    for col in ("topic", "schema", "key", "partitions", "retention", "messages"):
        table.add_column(col, justify="right" if col in ("partitions", "messages") else "left")
    for c in counts:
        spec = CATALOG[c.name]
        retention = "compact" if spec.compacted else (f"{spec.retention_ms // 86_400_000} d" if spec.retention_ms else "forever")
        table.add_row(c.name, spec.schema, spec.key, str(c.partitions) if c.exists else "missing", retention, f"{c.messages:,}")
    console.print(table)


@topics_app.command("describe")
def topics_describe(ctx: typer.Context, name: str = typer.Argument(..., help="Topic name, e.g. hb.market.book.v1")) -> None:
    """Show the catalog entry, the Avro schema's fields and the broker's view of one topic."""
    from schemas import load_schema_json
    from streams.admin import describe_topic
    from streams.catalog import topic

    spec = topic(name)
    rt = _runtime(ctx)
    _reachable(rt)
    info = describe_topic(rt.kafka_conf, name)
    info["fields"] = [f["name"] for f in load_schema_json(spec.schema)["fields"]]
    console.print_json(json.dumps(info, default=str))


@app.command()
def worker(ctx: typer.Context,
           role: str = typer.Option("all", "--role", help="Comma-separated roles (market_data, strategy, risk, execution, kill_switch, signals, reconciliation, sink) or 'all'.")) -> None:
    """Run the agents of the chosen roles in one process (one role per pod in Kubernetes)."""
    from hbot.roles import parse_roles
    from hbot.worker import run_worker

    try:
        roles = parse_roles(role)
    except ValueError as exc:
        raise UserError(f"--role: {exc}") from None
    rt = _runtime(ctx, service=f"hbot-worker-{role.replace(',', '-')}")
    rt.setup_observability()
    _reachable(rt)
    from streams.admin import ensure_topics

    ensure_topics(rt.kafka_conf)
    sys.argv = [sys.argv[0], "worker"]  # Faust parses argv; our options are already consumed
    run_worker(rt, roles, strict=role.strip() != "all")


@sink_app.command("migrate")
def sink_migrate(ctx: typer.Context) -> None:
    """Create or update the ClickHouse tables from the Avro schemas (versioned, idempotent)."""
    from sinks.clickhouse.migrations import migrate

    rt = _runtime(ctx)
    applied = migrate(rt.clickhouse())
    console.print(f"{len(applied)} migration step(s) applied" + "".join(f"\n  {a.table} v{a.version}" for a in applied))


@app.command()
def sql(ctx: typer.Context, query: str = typer.Argument(..., help="A SELECT (or SHOW/DESCRIBE) statement."),
        as_json: bool = typer.Option(False, "--json", help="Print rows as JSON (column name -> value).")) -> None:
    """Run a read-only query against the desk's ClickHouse (embedded chDB or HBOT_CLICKHOUSE_DSN)."""
    first = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
    if first not in ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"):
        raise UserError("hbot sql runs read-only statements only (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)")
    from clickhouse_connect.driver.exceptions import DatabaseError

    rt = _runtime(ctx)
    try:
        res = rt.clickhouse().query(query)
    except DatabaseError as exc:
        reason = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        raise UserError(f"ClickHouse rejected the query: {reason[:400]}; `hbot sql 'SHOW TABLES'` lists the tables and "
                        "`hbot sql 'DESCRIBE <table>'` their columns") from None
    if as_json:
        rows = [dict(zip(res.column_names, r)) for r in res.result_rows]
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    table = Table()
    for c in res.column_names:
        table.add_column(c)
    for r in res.result_rows:
        table.add_row(*[str(v) for v in r])
    console.print(table)


@app.command()
def demo(ctx: typer.Context,
         source: Optional[Path] = typer.Option(
             None, "--source", metavar="FILE",
             help="Recorded market data instead of the synthetic market: a recording file (hftbacktest Binance USD-M lines, "
                  "plain or .gz), imported on the fly into HOME/data, or a market folder that `hbot data import` already "
                  "filled (the one holding _market.json). See above."),
         seed: int = typer.Option(7, help="Seed of the synthetic market: the same seed gives the same market (not used with --source)."),
         span: Optional[str] = typer.Option(
             None, help="Time to run, e.g. 2h, 1d, 90m, 30s (default 2h of synthetic market; with --source the whole recording, "
                        "or only its first SPAN). A synthetic day takes tens of minutes on 2 cores."),
         window: float = typer.Option(5.0, min=0.1, help="Most event-time seconds the market may run ahead of the desk."),
         keep_home: bool = typer.Option(False, help="Keep existing ClickHouse data in the home folder instead of starting fresh.")) -> None:
    """Run the whole desk (market, strategy, risk, paper execution, kill switch, sink) on the embedded broker and ClickHouse, then summarise.

    By default the desk trades the seeded synthetic BTC perp. With --source FILE it trades the
    recording's market instead (e.g. binance:BTC/USDT:USDT, with the tick and lot its prices and
    sizes show), and the demo publishes the recording's book, trade and candle records in event-time
    order. FILE is a recording file, e.g. binance-usdm-btcusdt-20240808.gz, imported into HOME/data
    as `hbot data import FILE` would store it; or an imported market folder, e.g.
    .hbot/data/binance/BTC-USDT-USDT (`hbot data list` shows what is stored).
    """
    from hbot.demo import parse_span, run_demo
    from hbot.demo_source import SourceError, recording_market, synthetic_market

    try:
        span_us = parse_span(span) if span is not None else None
    except ValueError as exc:
        raise UserError(f"--span: {exc}") from None
    settings = _settings(ctx)
    if source is None:
        market = synthetic_market(seed, span_us or parse_span("2h"))
    else:
        try:
            with console.status(f"reading {source} ..."):
                market = recording_market(source, settings.home / "data", span_us)
        except SourceError as exc:
            raise UserError(str(exc)) from None
        for line in market.notes:
            console.print(line, highlight=False)
    run_demo(settings, market, window_s=window, fresh=not keep_home, console=console)


def main() -> None:
    """Console-script entry point: runs the CLI and turns known failures into one line + exit 2."""
    from rich.markup import escape

    from sinks.clickhouse.client import ClickHouseUnavailable
    from streams.broker import BrokerUnavailable

    try:
        app()
    except (ConfigError, UserError, ClickHouseUnavailable, BrokerUnavailable) as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # "instances[bot1]" is not markup
        sys.exit(2)
    except KeyError as exc:  # unknown topic or schema names
        err_console.print(f"[bold red]error:[/] {escape(str(exc.args[0] if exc.args else exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
