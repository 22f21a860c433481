"""Settings: ``HBOT_*`` environment variables (pydantic-settings) and the instances YAML.

Settings are frozen and passed in; nothing reads the environment after start-up. An invalid value
fails at start with the variable's name and how to fix it (:class:`ConfigError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """Bad configuration: the message names the field and the fix, in one line."""


class HbotSettings(BaseSettings):
    """Process-wide settings. Every field maps to ``HBOT_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="HBOT_", frozen=True, extra="ignore")

    home: Path = Field(Path(".hbot"), description="Folder for all local state (embedded ClickHouse, reports, archives, logs).")
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers 'host:port[,host:port]'; unset = embedded Tansu broker.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field("PLAINTEXT", description="Kafka security protocol.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(None, description="SASL mechanism when SASL is used.")
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    kafka_ssl_ca_file: Path | None = Field(None, description="CA bundle for TLS to Kafka.")
    broker_port: int = Field(9092, ge=1, le=65535, description="Port of the embedded broker (hbot broker, hbot demo).")
    schema_registry_url: str | None = Field(None, description="Confluent schema registry URL; unset = Avro single-object encoding.")
    clickhouse_dsn: str | None = Field(None, description="ClickHouse DSN, e.g. http://user:pw@host:8123/db; unset = embedded chDB under HOME/clickhouse.")
    instances_file: Path | None = Field(None, description="Instances YAML (markets, execution mode, strategy and risk config).")
    group_prefix: str = Field("hbot", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Prefix of each worker's Faust app id, which names its consumer group and its table changelog topics; give each desk sharing one Kafka cluster its own prefix.")
    web_port: int = Field(6066, ge=1, le=65535, description="Faust web port of a worker (health, readiness, views).")
    sink_batch_size: int = Field(20_000, gt=0, description="Rows per ClickHouse insert, at most.")
    sink_flush_interval_s: float = Field(0.5, gt=0, description="Seconds before a partial batch is flushed.")
    trace_exporter: Literal["file", "console", "none", "otlp"] = Field("file", description="Span exporter; 'otlp' is chosen automatically when OTEL_EXPORTER_OTLP_ENDPOINT is set.")
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0, description="Fraction of root spans sampled (children follow their parent).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    market_source: Literal["synthetic", "live", "none"] = Field("synthetic", description="What the market_data role publishes: the seeded synthetic market, live ccxt.pro feeds of every instance's market (exchange and symbol from the instances file), or nothing (data comes from `hbot data replay` or another publisher).")
    market_seed: int = Field(7, description="Seed of the synthetic market.")
    market_speed: float = Field(1.0, ge=0.0, description="Synthetic market speed: event time per wall time (1 = real time, 100 = x100, 0 = as fast as possible).")
    checkpoint_every: int = Field(500, ge=1, description="Inputs a desk processor handles between state checkpoints (a restart re-processes at most this many).")
    deadman_after_s: float = Field(120.0, ge=0.0, description="Kill switch cancels an instance's orders when its decisions or market feed stop this long (0 = off).")
    metrics_exporter: Literal["none", "otlp", "prometheus"] | None = Field(None, description="Metrics exporter; unset = OTEL_METRICS_EXPORTER, else 'otlp' when OTEL_EXPORTER_OTLP_ENDPOINT is set, else none.")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Port of the Prometheus /metrics endpoint (metrics_exporter=prometheus); OTEL_EXPORTER_PROMETHEUS_PORT overrides it.")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_port(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None
        for part in v.split(","):
            host, _, port = part.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"'{part}' is not host:port")
        return v

    @property
    def clickhouse_dir(self) -> Path:
        """Where the embedded ClickHouse (chDB) keeps its data."""
        return self.home / "clickhouse"

    @property
    def effective_clickhouse_dsn(self) -> str:
        """The configured DSN, or the embedded chDB one under the home folder."""
        return self.clickhouse_dsn or f"chdb://{self.clickhouse_dir.resolve()}"

    @property
    def embedded_broker(self) -> bool:
        """True when no external Kafka is configured."""
        return self.kafka_bootstrap is None

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers to use (the embedded broker's address when none is configured)."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.broker_port}"

    def kafka_client_config(self) -> dict[str, Any]:
        """librdkafka (confluent-kafka) client configuration, security included."""
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "security.protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
            conf["sasl.username"] = self.kafka_sasl_username or ""
            conf["sasl.password"] = self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
        if self.kafka_ssl_ca_file:
            conf["ssl.ca.location"] = str(self.kafka_ssl_ca_file)
        return conf


_FIXES = {
    "int_parsing": "set a whole number",
    "float_parsing": "set a number",
    "greater_than": "set a larger value",
    "greater_than_equal": "set a larger value",
    "less_than_equal": "set a smaller value",
    "literal_error": "use one of the allowed values",
    "bool_parsing": "use true or false",
    "missing": "set it",
    "extra_forbidden": "remove it (unknown field)",
}


def describe_validation_error(exc: ValidationError, prefix: str = "HBOT_", source: str = "environment") -> str:
    """One readable line per error: the field as the user spells it, the problem, and the fix."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        # Environment variables are upper case (HBOT_X); paths in a YAML file keep their spelling.
        name = prefix + (loc.upper() if prefix.endswith("_") else loc)
        fix = _FIXES.get(err["type"], "correct it")
        value = err.get("input")
        shown = "" if isinstance(value, dict) or value is None else f"={value!r}"
        lines.append(f"{name}{shown} in {source}: {err['msg']}; {fix}")
    return "; ".join(lines)


def load_settings(**overrides: Any) -> HbotSettings:
    """Settings from the environment plus explicit overrides (CLI flags); raises :class:`ConfigError`."""
    try:
        return HbotSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


class InstanceConfig(BaseModel):
    """One trading instance: a market, how it executes, and its strategy and risk settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Instance id, e.g. 'bot1'.")
    exchange: str = Field(min_length=1, description="ccxt exchange id, e.g. 'bitget', or 'synthetic'.")
    symbol: str = Field(min_length=1, description="ccxt unified symbol, e.g. 'BTC/USDT:USDT'.")
    market_type: Literal["perp", "spot"] = "perp"
    execution: Literal["paper", "live"] = "paper"
    strategy: dict[str, Any] = Field(default_factory=dict, description="Strategy (EPP v2.4) settings; validated by the strategy.")
    risk: dict[str, Any] = Field(default_factory=dict, description="Risk settings: `gate` (limits, cancel budget) and `guard` (loss limits); validated at start.")
    rules: dict[str, Any] = Field(default_factory=dict, description="Market rules (tick_size, lot_size, min_size, min_notional); tick and lot default to the strategy's.")
    paper: dict[str, Any] = Field(default_factory=dict, description="Paper exchange settings (fees, latency, initial balance) when execution is paper.")
    kill_switch: dict[str, Any] = Field(default_factory=dict, description="Kill switch settings (dry_run, flatten).")
    reconciliation: dict[str, Any] = Field(default_factory=dict, description="Reconciliation settings (interval_s, warning_pct, critical_pct, initial_position_base) of a live instance.")
    feed: dict[str, Any] = Field(default_factory=dict, description="Live feed settings (book_depth, funding_poll_s, candle_poll_s, stale_after_s, ...) when HBOT_MARKET_SOURCE=live.")
    live: dict[str, Any] = Field(default_factory=dict, description="Live venue settings (sandbox, unified_account, margin_mode, retry, poll_interval_s, ...) when execution is live.")

    @property
    def market(self) -> str:
        """Market key ``exchange:symbol``."""
        return f"{self.exchange}:{self.symbol}"


class InstancesFile(BaseModel):
    """The instances YAML: ``instances: [ {id, exchange, symbol, ...}, ... ]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    instances: tuple[InstanceConfig, ...] = ()


def load_instances(path: Path) -> InstancesFile:
    """Parse and validate the instances YAML; raises :class:`ConfigError` naming the field and fix."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"instances file {path} does not exist; create it or unset HBOT_INSTANCES_FILE") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"instances file {path} is not valid YAML: {exc}".replace("\n", " ")) from None
    try:
        return InstancesFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix="", source=str(path))) from None
