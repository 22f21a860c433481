"""ClickHouse connections: embedded chDB on disk or a ClickHouse server, one client API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import clickhouse_connect


class ClickHouseUnavailable(Exception):
    """ClickHouse could not be reached or opened; the message says what to do."""


def connect(dsn: str) -> Any:
    """A clickhouse-connect client for ``dsn`` (``chdb:///dir`` or ``http(s)://...``).

    chDB on disk is single-process: while one process has the folder open, another cannot. The
    error then says so and points at the running desk.
    """
    if dsn.startswith("chdb://"):
        Path(dsn[len("chdb://"):]).mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except Exception as exc:  # the driver raises several types; all mean "not reachable now"
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Cannot lock file" in str(exc) or "already running" in str(exc):
            raise ClickHouseUnavailable(
                f"the embedded ClickHouse at {dsn} is open in another hbot process (a running desk or worker); "
                "stop it first, or query through the running worker"
            ) from None
        raise ClickHouseUnavailable(f"cannot open ClickHouse at {_redact(dsn)}: {text}") from None


def _redact(dsn: str) -> str:
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return dsn
