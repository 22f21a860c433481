"""The topic catalog: every topic hbot uses, with its schema, key, partitions and retention.

The catalog is the single source of truth: ``hbot topics ensure`` creates topics from it, the
ClickHouse sink derives one table per topic from it, and the Helm chart's Strimzi ``KafkaTopic``
resources are generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, record schema, what the key is, and how long data stays."""

    name: str
    schema: str
    key: Literal["market", "instance", "source_topic"]
    partitions: int
    retention_ms: int | None
    compacted: bool = False
    description: str = ""
    sink: bool = True
    """False for derived logs the ClickHouse sink skips (their content is already in the source tables)."""
    extra_config: tuple[tuple[str, str], ...] = field(default=())

    @property
    def table(self) -> str:
        """ClickHouse table name for this topic: ``hb.market.book.v1`` -> ``hb_market_book_v1``."""
        return self.name.replace(".", "_")

    def kafka_config(self) -> dict[str, str]:
        """Topic-level Kafka configuration for ``create_topics``."""
        cfg: dict[str, str] = {}
        if self.compacted:
            cfg["cleanup.policy"] = "compact"
        else:
            cfg["cleanup.policy"] = "delete"
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        cfg.update(dict(self.extra_config))
        return cfg


def _t(name: str, schema: str, key: str, partitions: int, days: int | None, desc: str, **kw) -> TopicSpec:
    return TopicSpec(name, schema, key, partitions, None if days is None else days * DAY_MS, description=desc, **kw)  # type: ignore[arg-type]


_TOPICS: tuple[TopicSpec, ...] = (
    _t("hb.market.book.v1", "market_book", "market", 6, 7, "Order book top N levels, mid, spread"),
    _t("hb.market.trade.v1", "market_trade", "market", 6, 7, "Public trades; drive paper fills"),
    _t("hb.market.candle.v1", "market_candle", "market", 6, 30, "1m OHLCV candles"),
    _t("hb.market.funding.v1", "market_funding", "market", 6, 30, "Funding rate and next funding time"),
    _t("hb.signal.v1", "signal", "market", 6, 30, "Strategy signals with expiry"),
    _t("hb.execution_intent.v1", "execution_intent", "market", 6, 90, "set_target_base_pct, kill_switch, set_regime_override, resume"),
    _t("hb.quote.v1", "quote", "market", 6, 30, "Desired quotes of one strategy decision"),
    _t("hb.order.v1", "order", "market", 6, 90, "Place / cancel / cancel_all after the risk gate"),
    _t("hb.order_update.v1", "order_update", "market", 6, 90, "Ack, reject, cancelled, expired, fills"),
    _t("hb.fill.v1", "fill", "market", 6, 365, "Fills with fee, liquidity, mid at fill"),
    _t("hb.strategy_state.v1", "strategy_state", "market", 6, 90, "One row per decision: the old minute.csv"),
    _t("hb.guard.v1", "guard", "market", 6, 365, "Guard state transitions with reasons"),
    _t("hb.audit.v1", "audit", "instance", 3, 365, "Kill-switch actions, alarms, config changes"),
    _t("hb.reconciliation.v1", "reconciliation", "market", 3, 90, "Exchange vs internal inventory"),
    _t("hb.dlq.v1", "dlq", "source_topic", 3, 30, "Undecodable or invalid input with its origin and reason"),
    _t("hb.sequenced.v1", "sequenced", "market", 6, 7, "Per-market interleaving of every decision input (the sequencer's log)", sink=False),
)

CATALOG: MappingProxyType[str, TopicSpec] = MappingProxyType({t.name: t for t in _TOPICS})

MARKET_TOPICS = ("hb.market.book.v1", "hb.market.trade.v1", "hb.market.candle.v1", "hb.market.funding.v1")
DLQ_TOPIC = "hb.dlq.v1"
SEQUENCED_TOPIC = "hb.sequenced.v1"
SEQUENCED_SOURCES = MARKET_TOPICS + (
    "hb.signal.v1", "hb.execution_intent.v1", "hb.quote.v1", "hb.order.v1", "hb.order_update.v1", "hb.fill.v1", "hb.guard.v1",
)
"""Topics the sequencer merges: everything a market's strategy, risk gate or paper venue decides on."""
SINK_TOPICS = tuple(name for name, spec in CATALOG.items() if spec.sink)


def topic(name: str) -> TopicSpec:
    """The catalog entry for ``name``; a clear error names the known topics."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known topics: {', '.join(CATALOG)}") from None


def topic_for_schema(schema: str) -> TopicSpec:
    """The topic that carries records of ``schema``."""
    for spec in _TOPICS:
        if spec.schema == schema:
            return spec
    raise KeyError(f"no topic carries schema {schema!r}")
