"""Session fixtures: one real Kafka broker and one real ClickHouse engine for the whole run.

Kafka: ``HBOT_KAFKA_BOOTSTRAP`` when set (CI runs the suite once more against Apache Kafka), else
the embedded Tansu broker on a free port. ClickHouse: chDB on disk in a temporary folder (chDB
allows one folder per process, so every in-process test shares it; subprocess workers get their
own folders and are read through ``hbot sql``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port, wait_until_reachable


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the session's broker (topics of the catalog ensured)."""
    external = os.environ.get("HBOT_KAFKA_BOOTSTRAP")
    if external:
        wait_until_reachable({"bootstrap.servers": external}, 20)
        ensure_topics({"bootstrap.servers": external})
        yield external
        return
    broker = EmbeddedBroker(free_port(), log_file=tmp_path_factory.mktemp("broker") / "broker.log").start()
    try:
        ensure_topics({"bootstrap.servers": broker.bootstrap})
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_conf(kafka_bootstrap: str) -> dict[str, Any]:
    """librdkafka configuration for the session's broker."""
    return {"bootstrap.servers": kafka_bootstrap, "log.connection.close": False}


@pytest.fixture(scope="session")
def clickhouse_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's ClickHouse: ``HBOT_TEST_CLICKHOUSE_DSN`` or chDB in a temporary folder."""
    return os.environ.get("HBOT_TEST_CLICKHOUSE_DSN") or f"chdb://{tmp_path_factory.mktemp('clickhouse')}"


@pytest.fixture(scope="session")
def clickhouse(clickhouse_dsn: str) -> Any:
    """A client on the session's ClickHouse, tables migrated."""
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.migrations import migrate

    client = connect(clickhouse_dsn)
    migrate(client)
    return client


@pytest.fixture
def unique() -> str:
    """A short unique token for market names, group ids and instance ids of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def hbot_env(tmp_path: Path, kafka_bootstrap: str) -> dict[str, str]:
    """Environment for an ``hbot`` subprocess on the session broker with its own home folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HBOT_")}
    env.update(HBOT_KAFKA_BOOTSTRAP=kafka_bootstrap, HBOT_HOME=str(tmp_path / "home"), HBOT_WEB_PORT=str(free_port()),
               HBOT_TRACE_EXPORTER="file")
    return env
