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

    @cached_property
    def instances(self) -> tuple[Any, ...]:
        """The validated instances (``InstanceSetup``) of the instances file, or the demo instance."""
        from hbot.settings import load_instances
        from processors.instance import demo_instance, instance_setup

        path = self.settings.instances_file
        configs = load_instances(path).instances if path else (demo_instance(),)
        return tuple(instance_setup(c) for c in configs)

    def clickhouse(self) -> Any:
        """A new ClickHouse client for the configured (or embedded) DSN."""
        from sinks.clickhouse.client import connect

        return connect(self.settings.effective_clickhouse_dsn)

    def setup_observability(self) -> None:
        """Logging, tracing and metrics for this process (once)."""
        from streams.metrics import MetricsConfigError, setup_metrics
        from streams.tracing import setup_tracing

        logging.basicConfig(level=self.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        setup_tracing(self.service, self.settings.trace_exporter, self.settings.home, self.settings.trace_sample_ratio)
        try:
            setup_metrics(self.service, self.settings.metrics_exporter, self.settings.metrics_port)
        except MetricsConfigError as exc:
            from hbot.settings import ConfigError

            raise ConfigError(str(exc)) from None
