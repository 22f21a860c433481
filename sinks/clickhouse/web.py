"""A worker's ``/sql/`` page: read-only SQL over HTTP for the CLI while chDB is locked by the worker.

``POST /sql/`` with ``{"sql": "...", "params": {...}}`` answers
``{"columns": [...], "types": [...], "rows": [[...], ...]}``; anything but a single read-only
statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) is refused with HTTP 400 and
``{"error": "..."}``. The page listens where the worker's web server does (``HBOT_WEB_PORT``, bound
to the worker's host): it is an operator tool for the desk's own machine or pod, like ``hbot sql``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

READ_ONLY_FIRST_WORDS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN")
MAX_ROWS = 1_000_000

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", re.S)


class NotReadOnly(ValueError):
    """The statement is not one read-only statement."""


def check_read_only(sql: str) -> str:
    """The statement without a trailing ``;``; raises :class:`NotReadOnly` for anything else.

    One statement only (a ``;`` outside string literals and comments is refused), starting with a
    read-only keyword; ``INTO OUTFILE`` is refused too (it writes a file on the worker's host).
    """
    text = sql.strip()
    bare = _STRINGS.sub("''", _COMMENTS.sub(" ", text)).strip()
    if bare.endswith(";"):
        bare = bare[:-1].rstrip()
        text = text.rstrip()[:-1].rstrip()
    if not bare:
        raise NotReadOnly("empty statement")
    if ";" in bare:
        raise NotReadOnly("one statement per request")
    first = bare.split(None, 1)[0].upper().lstrip("(")
    if first not in READ_ONLY_FIRST_WORDS:
        raise NotReadOnly(f"only read-only statements ({', '.join(READ_ONLY_FIRST_WORDS)}) are allowed, got {first}")
    if re.search(r"\bINTO\s+OUTFILE\b", bare, re.I):
        raise NotReadOnly("INTO OUTFILE is not allowed")
    return text


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return v


def run_query(client: Any, sql: str, params: dict[str, Any] | None, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """Run one checked read-only query; the JSON-able answer of the page."""
    res = client.query(check_read_only(sql), parameters=params or None)
    rows = res.result_rows
    if len(rows) > max_rows:
        raise NotReadOnly(f"the result has {len(rows)} rows, more than {max_rows}: aggregate or add LIMIT")
    return {"columns": list(res.column_names), "types": [t.name for t in res.column_types],
            "rows": [[_json_value(v) for v in r] for r in rows]}


def register_sql_view(app: Any, client_factory: Callable[[], Any], path: str = "/sql/") -> Any:
    """Add ``POST <path>`` (read-only SQL, JSON rows) to a Faust app; returns the view class.

    The client is created on the first request and reused; queries run one at a time in a thread
    so the worker's event loop keeps serving its agents.
    """
    from faust.web import View

    lock = threading.Lock()
    holder: dict[str, Any] = {}

    def execute(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
        with lock:
            if "client" not in holder:
                holder["client"] = client_factory()
            return run_query(holder["client"], sql, params)

    class SqlView(View):
        """Read-only SQL over the worker's ClickHouse."""

        async def post(self, request: Any) -> Any:
            try:
                body = json.loads(await request.text() or "{}")
                sql = body["sql"]
                params = body.get("params") or None
                if not isinstance(sql, str) or (params is not None and not isinstance(params, dict)):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return self._answer({"error": 'POST a JSON object {"sql": "SELECT ...", "params": {...}}'}, 400)
            try:
                check_read_only(sql)
            except NotReadOnly as exc:
                return self._answer({"error": f"refused: {exc}"}, 400)
            try:
                payload = await asyncio.get_running_loop().run_in_executor(None, execute, sql, params)
            except NotReadOnly as exc:
                return self._answer({"error": f"refused: {exc}"}, 400)
            except Exception as exc:  # the engine's error is the answer (bad SQL, unknown table)
                return self._answer({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}, 400)
            return self._answer(payload, 200)

        def _answer(self, payload: dict[str, Any], status: int) -> Any:
            return self.bytes(json.dumps(payload).encode(), content_type="application/json", status=status)

    SqlView.__name__ = "hbot_sql"
    return app.page(path, name="hbot_sql")(SqlView)
