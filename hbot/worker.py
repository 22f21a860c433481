"""``hbot worker``: one Faust app running the agents of the chosen roles.

All roles in one process on a laptop, one role per pod in Kubernetes. A role is registered by a
function ``register(app, runtime)`` in ``processors/<role>/agent.py`` (or the sink for ``sink``).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from typing import Any, Callable

import faust
from mode import Service

from hbot.runtime import Runtime
from streams.app import create_app

log = logging.getLogger(__name__)

Registrar = Callable[[faust.App, Runtime], None]


class RoleNotAvailable(Exception):
    """A role the CLI knows but this build has no agents for yet."""


def _registrar(role: str) -> Registrar:
    if role == "sink":
        return register_sink
    try:
        module = importlib.import_module(f"processors.{role}.agent")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"processors.{role}"):
            raise RoleNotAvailable(f"role {role!r} has no agents in this version yet") from None
        raise
    return module.register


FATAL_EXIT_CODE = 2
FATAL_GRACE_S = 30.0


def exit_hard_unless_stopped(reason: str, grace_s: float = FATAL_GRACE_S) -> None:
    """After a fatal error: if the process is still alive ``grace_s`` later, exit with code 2.

    A crashed service asks Faust to stop the worker, and that normally ends the process within
    seconds. Once on CI (Apache Kafka) it did not, and a pod that logged a fatal error but keeps
    running is never restarted by Kubernetes; this thread makes the stop certain.
    """
    def watch() -> None:
        time.sleep(grace_s)  # a daemon thread: if the worker stops in time, it dies with the process
        log.error("worker still running %g s after a fatal error (%s); exiting with code %d",
                  grace_s, reason, FATAL_EXIT_CODE)
        logging.shutdown()
        os._exit(FATAL_EXIT_CODE)

    threading.Thread(target=watch, name="fatal-exit-watchdog", daemon=True).start()


def register_sink(app: faust.App, rt: Runtime) -> None:
    """The ClickHouse sink as a Faust service: a confluent-kafka loop in a thread.

    The sink uses librdkafka directly rather than a Faust agent: it needs manual commits after each
    insert and bulk throughput (tens of thousands of rows/s) that aiokafka does not reach.
    """
    from sinks.clickhouse.writer import ClickHouseSink
    from streams.dlq import DeadLetterQueue

    sink = ClickHouseSink(rt.kafka_conf, rt.clickhouse, rt.serde, DeadLetterQueue(rt.producer, "sink"),
                          batch_size=rt.settings.sink_batch_size, flush_interval_s=rt.settings.sink_flush_interval_s)

    class SinkService(Service):
        _stop = threading.Event()
        _thread: threading.Thread | None = None

        async def on_start(self) -> None:
            self._thread = threading.Thread(target=self._run, name="clickhouse-sink", daemon=True)
            self._thread.start()

        def _run(self) -> None:
            try:
                sink.run(self._stop)
            except Exception:  # a crash must be loud: the worker's readiness goes down with it
                log.exception("ClickHouse sink stopped with an error")
                app.hbot_sink_failed = True  # type: ignore[attr-defined]

        async def on_stop(self) -> None:
            self._stop.set()
            if self._thread is not None:
                await app.loop.run_in_executor(None, self._thread.join, 30)

    app.service(SinkService)
    app.hbot_readiness.append(("sink", sink.ready.is_set))  # type: ignore[attr-defined]
    # chDB on disk is single-process: while this worker holds it, `hbot report`/`hbot tca` query through this view.
    from sinks.clickhouse.web import register_sql_view

    register_sql_view(app, rt.clickhouse)  # the view creates its client once and reuses it


def app_id_for(roles: tuple[str, ...], prefix: str = "hbot") -> str:
    """Faust app id (consumer group, table changelog prefix) of a worker running ``roles``.

    One group per role set: Kafka assigns a group's partitions among members running the same
    agents, so a strategy pod must not share its group with a sink pod. Replicas of one role share it.
    """
    return f"{prefix}-roles-" + "-".join(sorted(roles))  # never equal to the sink's own librdkafka group, "hbot-sink"


def build_worker_app(rt: Runtime, roles: tuple[str, ...], app_id: str | None = None, strict: bool = True) -> faust.App:
    """The Faust app with the agents of ``roles``; ``strict`` fails on roles without agents."""
    s = rt.settings
    app_id = app_id or app_id_for(roles, s.group_prefix)
    # Faust keeps table stores and its lock under datadir; by default that is the working directory.
    datadir = s.home / "faust" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = create_app(app_id, s.bootstrap, rt.serde, web_port=s.web_port, datadir=str(datadir))
    app.hbot_readiness = []  # type: ignore[attr-defined]
    app.hbot_sink_failed = False  # type: ignore[attr-defined]
    app.hbot_desk_roles = {}  # type: ignore[attr-defined]
    started: list[str] = []
    for role in roles:
        try:
            register = _registrar(role)
        except RoleNotAvailable:
            if strict:
                raise
            log.warning("role %s has no agents in this version yet; skipped", role)
            continue
        register(app, rt)
        started.append(role)
    app.hbot_roles = tuple(started)  # type: ignore[attr-defined]

    @app.page("/ready/")
    async def ready(web: Any, request: Any) -> Any:
        checks = {name: bool(fn()) for name, fn in app.hbot_readiness}  # type: ignore[attr-defined]
        ok = all(checks.values()) and not app.hbot_sink_failed  # type: ignore[attr-defined]
        return web.json({"ready": ok, "roles": list(app.hbot_roles), "checks": checks},  # type: ignore[attr-defined]
                        status=200 if ok else 503)

    @app.page("/progress/")
    async def progress(web: Any, request: Any) -> Any:
        roles = {name: {"inputs": r.inputs, "outputs": r.outputs, "dead_letters": r.dead_letters, "event_time_us": r.event_time_us,
                        "instances": {i: {"applied": sl.applied, "event_time_us": sl.event_time_us} for i, sl in r.slots.items()}}
                 for name, r in app.hbot_desk_roles.items()}  # type: ignore[attr-defined]
        return web.json({"roles": roles})

    return app


def run_worker(rt: Runtime, roles: tuple[str, ...], strict: bool) -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM."""
    from faust.worker import Worker

    app = build_worker_app(rt, roles, strict=strict)
    log.info("worker starting roles %s; joining the consumer group takes a few seconds", ", ".join(app.hbot_roles) or "(none)")  # type: ignore[attr-defined]
    Worker(app, loglevel={"WARNING": "warn"}.get(rt.settings.log_level, rt.settings.log_level.lower()), quiet=True).execute_from_commandline()
