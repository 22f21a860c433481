"""Names of the market-data topics, as the cores that emit them refer to them.

They mirror ``streams.catalog.MARKET_TOPICS``; the cores keep their own constants so that they do
not import the Kafka plumbing (a test checks that both agree).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, TypeAlias

BOOK_TOPIC = "hb.market.book.v1"
TRADE_TOPIC = "hb.market.trade.v1"
CANDLE_TOPIC = "hb.market.candle.v1"
FUNDING_TOPIC = "hb.market.funding.v1"

MARKET_TOPICS: tuple[str, ...] = (BOOK_TOPIC, TRADE_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC)

SCHEMA_OF_TOPIC: MappingProxyType[str, str] = MappingProxyType(
    {
        BOOK_TOPIC: "market_book",
        TRADE_TOPIC: "market_trade",
        CANDLE_TOPIC: "market_candle",
        FUNDING_TOPIC: "market_funding",
    }
)
"""Avro schema name (``schemas/<name>.avsc``) of each market topic."""

MarketEvent: TypeAlias = tuple[str, dict[str, Any]]
"""One emitted event: ``(topic name, record dict matching the topic's Avro schema)``."""
