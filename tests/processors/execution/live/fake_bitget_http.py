"""The fake Bitget of ``fake_bitget.py`` served over real HTTP on loopback, for workers in child processes.

The in-process fake replaces a ccxt exchange's ``session``; a worker in another process cannot be
reached that way, so this server hands every HTTP request it receives to the same
:class:`FakeBitget` (one at a time) and writes its answer back. The worker's ccxt exchange is
pointed at the server by ``exec_worker.py``. ``hold(path, client_oid)`` lets a test keep one
request's answer back after the fake has executed it (an order the exchange placed while the
worker never saw the answer).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.processors.execution.live.fake_bitget import FakeBitget


class FakeBitgetHttp:
    """``FakeBitget`` behind a loopback HTTP server running in a thread; ``url`` is its base URL."""

    def __init__(self, fake: FakeBitget) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], threading.Event] = {}
        self.executed_held = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items()}
                with outer._lock:
                    resp = outer.fake.request(self.command, f"https://api.bitget.com{self.path}", data=body, headers=headers)
                gate = outer._gate(self.path, body)
                if gate is not None:
                    outer.executed_held.set()
                    gate.wait(120)
                try:
                    self.send_response(resp.status_code)
                    self.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(resp.content)))
                    self.end_headers()
                    self.wfile.write(resp.content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while its request was held: the answer is lost, as intended

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-bitget-http", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def hold(self, path: str, client_oid: str) -> threading.Event:
        """Answer the request to ``path`` carrying ``client_oid`` only when the returned event is set."""
        ev = threading.Event()
        self._held[(path, client_oid)] = ev
        return ev

    def _gate(self, path: str, body: bytes | None) -> threading.Event | None:
        for (p, cid), ev in self._held.items():
            if path.split("?")[0] == p and body and cid.encode() in body:
                return ev
        return None

    def __enter__(self) -> "FakeBitgetHttp":
        return self

    def __exit__(self, *exc: object) -> None:
        for ev in self._held.values():
            ev.set()
        self.server.shutdown()
        self.server.server_close()
