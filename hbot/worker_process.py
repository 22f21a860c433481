"""A ``hbot worker`` in a child process, as the demo, the benches and the broker tests start it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class WorkerProcess:
    """A running ``hbot worker``: its process, web port (``/progress/``, ``/ready/``) and log file."""

    name: str
    proc: subprocess.Popen
    port: int
    log: Path

    def check(self) -> None:
        """Raise with the log's path if the worker has exited."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"the {self.name} worker exited with code {self.proc.returncode}; see {self.log}")

    def progress(self) -> dict[str, Any] | None:
        """The desk roles' counters from ``/progress/``, or None while the worker is not serving yet."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/progress/", timeout=2) as resp:
                return json.loads(resp.read())["roles"]
        except OSError:
            return None

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_worker(name: str, roles: str, env: dict[str, str], log_dir: Path, module: str = "hbot.cli") -> WorkerProcess:
    """Start ``hbot worker --role roles`` with ``env`` on a free web port, logging to ``log_dir/<name>.log``.

    ``module`` is the entry point run with ``python -m`` (tests run the CLI through a module that
    points the exchange at a local fake first).
    """
    from streams.broker import free_port

    port = free_port()
    log = log_dir / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", module, "worker", "--role", roles],
                            env={**env, "HBOT_WEB_PORT": str(port)}, stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    return WorkerProcess(name, proc, port, log)
