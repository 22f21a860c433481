"""The worker's read-only /sql/ page and the CLI's fallback to it while chDB is locked by the worker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from sinks.clickhouse.analytics import build_day_report
from sinks.clickhouse.reader import ClientReader, HttpReader, SqlEndpointError
from sinks.clickhouse.web import NotReadOnly, check_read_only, register_sql_view
from streams.broker import free_port
from tests.sinks.analytics.desk_dataset import Dataset, desk  # noqa: F401  (fixture)

HBOT = [sys.executable, "-m", "hbot.cli"]


@pytest.mark.parametrize("sql", [
    "SELECT 1", "  with x AS (SELECT 1) SELECT * FROM x", "SHOW TABLES", "DESCRIBE TABLE hb_fill_v1",
    "EXPLAIN SELECT 1", "SELECT 'a;b' AS s;", "(SELECT 1)", "-- why\nSELECT 2",
])
def test_when_a_statement_is_one_read_only_query_then_it_is_accepted(sql: str) -> None:
    assert check_read_only(sql).rstrip().endswith(("1", "x", "TABLES", "hb_fill_v1", "s", ")", "2"))


@pytest.mark.parametrize("sql,why", [
    ("INSERT INTO t VALUES (1)", "got INSERT"), ("DROP TABLE hb_fill_v1", "got DROP"),
    ("SELECT 1; DROP TABLE hb_fill_v1", "one statement"), ("/* SELECT */ ALTER TABLE t DELETE WHERE 1", "got ALTER"),
    ("SELECT * FROM hb_fill_v1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE"), ("   ", "empty"),
])
def test_when_a_statement_writes_or_stacks_statements_then_it_is_refused(sql: str, why: str) -> None:
    with pytest.raises(NotReadOnly, match=why):
        check_read_only(sql)


@pytest.fixture(scope="module")
def sql_page(clickhouse: Any) -> Iterator[str]:
    """A Faust app's web server with only the /sql/ page, serving the session's ClickHouse."""
    from aiohttp import web

    from streams.app import create_app
    from streams.serde import SingleObjectSerde

    port = free_port()
    app = create_app("hbot-sql-test", "127.0.0.1:1", SingleObjectSerde(), web_port=port)  # no broker is contacted
    register_sql_view(app, lambda: clickhouse)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app.web.web_app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/sql/"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.clickhouse
def test_when_a_report_is_built_over_http_then_it_equals_the_direct_one(clickhouse: Any, desk: Dataset, sql_page: str) -> None:
    # Act
    direct = build_day_report(ClientReader(clickhouse), desk.day1).to_dict()
    over_http = build_day_report(HttpReader(sql_page), desk.day1).to_dict()

    # Assert: same types come back (datetimes, dates), so the same report
    assert over_http == direct


@pytest.mark.clickhouse
def test_when_the_page_gets_a_write_or_bad_sql_then_it_answers_400_with_the_reason(sql_page: str) -> None:
    import urllib.error
    import urllib.request

    reader = HttpReader(sql_page)
    with pytest.raises(SqlEndpointError, match="refused: only read-only"):
        reader.query_rows("DROP TABLE hb_fill_v1")
    with pytest.raises(SqlEndpointError, match="UNKNOWN_TABLE|Unknown table"):
        reader.query_rows("SELECT * FROM no_such_table_here")
    req = urllib.request.Request(sql_page, data=b"not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400 and "POST a JSON object" in json.loads(err.value.read())["error"]
    assert reader.query_rows("SELECT count() AS n FROM hb_fill_v1 WHERE market = {m:String}", {"m": "none"}) == [{"n": 0}]


def _cli_env(tmp_path: Path, dsn: str, web_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HBOT_")}
    env.update(HBOT_HOME=str(tmp_path / "home"), HBOT_CLICKHOUSE_DSN=dsn, HBOT_WEB_PORT=str(web_port), COLUMNS="200")
    return env


@pytest.mark.clickhouse
def test_when_chdb_is_locked_by_another_process_then_the_cli_reports_through_the_worker_page(
        clickhouse_dsn: str, desk: Dataset, sql_page: str, tmp_path: Path) -> None:
    if not clickhouse_dsn.startswith("chdb://"):
        pytest.skip("the fallback is for an embedded chDB held by another process")
    # Arrange: this test process holds the chDB folder open, as a running worker would
    port = int(sql_page.split(":")[2].split("/")[0])

    # Act
    res = subprocess.run([*HBOT, "report", "day", "--date", desk.day1.isoformat()], capture_output=True, text=True,
                         env=_cli_env(tmp_path, clickhouse_dsn, port), timeout=120)

    # Assert
    assert res.returncode == 0, res.stderr
    written = json.loads((tmp_path / "home" / "reports" / "day" / f"{desk.day1.isoformat()}.json").read_text())
    assert written["summary"] == build_day_report(HttpReader(sql_page), desk.day1).to_dict()["summary"]
    assert "net_pnl_bps" in res.stdout


@pytest.mark.clickhouse
def test_when_chdb_is_locked_and_no_worker_answers_then_one_readable_error_line(clickhouse_dsn: str, desk: Dataset,
                                                                                tmp_path: Path) -> None:
    if not clickhouse_dsn.startswith("chdb://"):
        pytest.skip("the fallback is for an embedded chDB held by another process")
    res = subprocess.run([*HBOT, "report", "day", "--date", desk.day1.isoformat()], capture_output=True, text=True,
                         env=_cli_env(tmp_path, clickhouse_dsn, free_port()), timeout=120)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "HBOT_WEB_PORT" in lines[0] and "Traceback" not in res.stderr
