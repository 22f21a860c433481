"""Typed, frozen configuration of one live market-data feed."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from processors.market_data.validation import STALE_AFTER_S


class LiveFeedConfig(BaseModel):
    """One market's live feed: which ccxt.pro exchange and symbol, how deep, how to retry, how often to poll.

    Only public data is read, so the feed needs no API key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str = Field("bitget", min_length=1, description="ccxt.pro exchange id, e.g. 'bitget'.")
    symbol: str = Field("BTC/USDT:USDT", min_length=1, description="ccxt unified symbol, e.g. 'BTC/USDT:USDT' (a perpetual).")
    book_depth: int = Field(
        15, ge=1, le=200,
        description="Levels per side in each book record. 1, 5, 15 and 50 use the exchange's fixed-depth snapshot "
                    "channel where it has one (Bitget 'books15'); other depths the full incremental book, checksummed.")
    backoff_min_s: float = Field(0.5, gt=0, description="First reconnect delay after a network error, seconds.")
    backoff_max_s: float = Field(30.0, gt=0, description="Cap of the exponential reconnect delay, seconds.")
    funding_poll_s: float = Field(60.0, gt=0, description="Interval between funding-rate polls, seconds.")
    candle_poll_s: float = Field(15.0, gt=0, description="Interval between 1m-candle polls; closed candles are published once.")
    stale_after_s: float = Field(
        STALE_AFTER_S, gt=0,
        description="A book older than this (exchange time vs local clock) is rejected as stale, and a stream silent "
                    "this long is reconnected (spec P1-5: 30 s).")
    trades: bool = Field(True, description="Stream public trades.")
    funding: bool = Field(True, description="Poll funding (perpetuals only; ignored on spot markets).")
    candles: bool = Field(True, description="Poll closed 1m candles.")

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, v: str) -> str:
        import ccxt.pro  # heavy import, only when a config is built

        if v not in ccxt.pro.exchanges:
            raise ValueError(f"'{v}' is not a ccxt.pro exchange id (e.g. 'bitget', 'binance', 'okx')")
        return v

    @model_validator(mode="after")
    def _backoff_order(self) -> LiveFeedConfig:
        if self.backoff_min_s > self.backoff_max_s:
            raise ValueError(f"backoff_min_s ({self.backoff_min_s}) must not exceed backoff_max_s ({self.backoff_max_s})")
        return self

    @property
    def market(self) -> str:
        """Market key ``exchange:symbol`` (the Kafka key of every record)."""
        return f"{self.exchange}:{self.symbol}"

    @property
    def config_id(self) -> str:
        """Stable id of this configuration (hash of its JSON)."""
        return hashlib.blake2b(self.model_dump_json().encode(), digest_size=8).hexdigest()
