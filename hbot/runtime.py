"""Wiring for a running process: settings -> serde, producer, ClickHouse client, tracing, logging."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hbot.settings import HbotSettings
from streams.producer import EventProducer
from streams.serde import Serde, serde_from_settings


@dataclass
class Runtime:
    """Everything a process builds once from its settings and hands to its parts."""

    settings: HbotSettings
    service: str = "hbot"

    @cached_property
    def kafka_conf(self) -> dict[str, Any]:
        """librdkafka configuration (security included; connection-close chatter off)."""
        return {**self.settings.kafka_client_config(), "log.connection.close": False}

    @cached_property
    def serde(self) -> Serde:
        """Single-object Avro, or Confluent wire format with a schema registry."""
        return serde_from_settings(self.settings.schema_registry_url)

    @cached_property
    def producer(self) -> EventProducer:
        """The process's one event producer."""
        return EventProducer(self.kafka_conf, self.serde)

    def clickhouse(self) -> Any:
        """A new ClickHouse client for the configured (or embedded) DSN."""
        from sinks.clickhouse.client import connect

        return connect(self.settings.effective_clickhouse_dsn)

    def setup_observability(self) -> None:
        """Logging and tracing for this process (once)."""
        from streams.tracing import setup_tracing

        logging.basicConfig(level=self.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        setup_tracing(self.service, self.settings.trace_exporter, self.settings.home, self.settings.trace_sample_ratio)
