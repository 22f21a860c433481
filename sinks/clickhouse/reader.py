"""Read-only access to the desk's ClickHouse for analytics: directly, or through a running worker.

Embedded chDB is single-process: while a worker holds ``HOME/clickhouse`` open, the CLI cannot open
it. :func:`open_reader` then falls back to the worker's ``/sql/`` page (see
:mod:`sinks.clickhouse.web`) on ``http://127.0.0.1:<HBOT_WEB_PORT>/sql/``. Both readers answer
``query_rows(sql, params) -> list[dict]`` with the same Python types (timestamps as naive UTC
``datetime``), so the analytics code does not know which one it has.

Parameters use ClickHouse's ``{name:Type}`` placeholders and are passed as plain strings and
numbers (a timestamp as ``'YYYY-MM-DD HH:MM:SS.ffffff'``): the same values work through both paths.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Protocol

from sinks.clickhouse.client import ClickHouseUnavailable, connect

LOCK_HINT = "open in another hbot process"  # what sinks.clickhouse.client says for a locked chDB folder


class Reader(Protocol):
    """Anything that runs a read-only query and returns rows as dicts."""

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (column name -> value)."""
        ...


class ClientReader:
    """A reader over a clickhouse-connect client (chDB or a ClickHouse server)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.where = "ClickHouse"

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (column name -> value)."""
        res = self.client.query(sql, parameters=dict(params) if params else None)
        names = res.column_names
        rows = [dict(zip(names, r)) for r in res.result_rows]
        # A ClickHouse server may hand back timezone-aware datetimes; hbot works in naive UTC.
        ts_cols = [n for n, t in zip(names, res.column_types) if "DateTime" in t.name]
        if rows and ts_cols:
            for c in ts_cols:
                sample = next((r[c] for r in rows if r[c] is not None), None)
                if isinstance(sample, datetime) and sample.tzinfo is not None:
                    for r in rows:
                        if r[c] is not None:
                            r[c] = r[c].astimezone(timezone.utc).replace(tzinfo=None)
        return rows


class SqlEndpointError(Exception):
    """The worker's /sql/ page refused or failed a query; the message is the worker's."""


def _decode(value: Any, ch_type: str) -> Any:
    if value is None:
        return None
    base = ch_type
    for wrapper in ("LowCardinality(", "Nullable("):
        if base.startswith(wrapper):
            base = base[len(wrapper):-1]
    if base.startswith("DateTime"):
        t = datetime.fromisoformat(value)
        return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t
    if base == "Date" or base == "Date32":
        return date.fromisoformat(value)
    if base.startswith("Array(") and isinstance(value, list):
        return [_decode(v, base[6:-1]) for v in value]
    return value


class HttpReader:
    """A reader that POSTs read-only SQL to a worker's ``/sql/`` page."""

    def __init__(self, url: str, timeout_s: float = 120.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.where = f"the running worker at {url}"

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` (column name -> value), types restored from the column types sent back."""
        body = json.dumps({"sql": sql, "params": dict(params or {})}, default=str).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", "")
            except ValueError:
                detail = ""
            raise SqlEndpointError(detail or f"{self.url} answered HTTP {exc.code}") from None
        names, types = payload["columns"], payload["types"]
        return [{n: _decode(v, t) for n, t, v in zip(names, types, row)} for row in payload["rows"]]


def as_reader(source: Any) -> Reader:
    """``source`` itself when it is a reader, else a :class:`ClientReader` over a clickhouse-connect client."""
    return source if hasattr(source, "query_rows") else ClientReader(source)


def chdb_locked(folder: Path) -> bool:
    """True when another process holds the chDB folder (ClickHouse flocks its ``status`` file).

    Checked before opening, so a locked folder goes straight to the worker's page instead of
    making chDB print its own lock error.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: let the open attempt decide
        return False
    try:
        fd = os.open(folder / "status", os.O_RDONLY)
    except OSError:
        return False  # no status file: nobody has the folder open
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        # The status file names the holder ("PID: n"); this very process can open it again.
        try:
            first = os.read(fd, 200).decode(errors="replace").splitlines()[0]
            return first.strip() != f"PID: {os.getpid()}"
        except (OSError, IndexError):
            return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _http_fallback(settings: Any, why: str) -> HttpReader:
    url = f"http://127.0.0.1:{settings.web_port}/sql/"
    reader = HttpReader(url, timeout_s=120.0)
    try:
        reader.query_rows("SELECT 1 AS ok")
    except (OSError, SqlEndpointError, ValueError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClickHouseUnavailable(
            f"{why}, and no worker answered at {url} ({detail}): set HBOT_WEB_PORT to the running worker's web port, "
            "or stop the desk and retry"
        ) from None
    return reader


def open_reader(settings: Any) -> Reader:
    """A reader on the desk's ClickHouse; through the running worker when chDB is locked by it.

    Only an embedded chDB falls back. A folder locked by another process is detected up front;
    and because chDB 4 reports a lock met while opening as a generic "Error initializing
    EmbeddedServer", any failure to open a ``chdb://`` folder also tries the worker's page before
    giving up. Raises :class:`ClickHouseUnavailable` with one line saying what to do.
    """
    dsn = settings.effective_clickhouse_dsn
    embedded = dsn.startswith("chdb://")
    if embedded and chdb_locked(Path(dsn[len("chdb://"):])):
        return _http_fallback(settings, f"the embedded ClickHouse at {dsn} is {LOCK_HINT} (a running worker or desk)")
    try:
        return ClientReader(connect(dsn))
    except ClickHouseUnavailable as exc:
        if not embedded:
            raise
        first = str(exc).split(": Unable to open", 1)[0]
        return _http_fallback(settings, f"{first} (probably {LOCK_HINT}: a running worker or desk)")
