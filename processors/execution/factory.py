"""Pick the venue of an instance: the paper exchange or live execution through ccxt (instance YAML ``execution``)."""

from __future__ import annotations

import time
from typing import Any, Callable

from hbot.settings import ConfigError, InstanceConfig
from processors.execution.keys import ExchangeKey
from processors.execution.paper import PaperExchange, PaperExchangeConfig
from processors.execution.venue import ExecutionVenue


def make_venue(
    instance: InstanceConfig,
    key: ExchangeKey | None = None,
    *,
    paper: PaperExchangeConfig | None = None,
    live: Any | None = None,
    exchange: Any | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now_us: Callable[[], int] | None = None,
) -> ExecutionVenue:
    """The venue ``instance.execution`` asks for; raises :class:`ConfigError` naming the fix.

    Paper: a ``PaperExchange`` with ``paper`` (default: the spec's fees; perp funding on for perps).
    Live: a ``CcxtVenue`` with ``live`` (a ``LiveVenueConfig``; default: the instance's, with its ``live:`` settings)
    over ``exchange`` (default: a ccxt exchange built with ``key``). A live venue needs a
    ``trade`` or ``kill_switch`` key; the read-only ``data`` key is refused.
    """
    if instance.execution == "paper":
        cfg = paper or PaperExchangeConfig(is_perp=instance.market_type == "perp")
        return PaperExchange(cfg, instance.id, instance.market)
    # Imported here: a paper-only worker never loads ccxt.
    from processors.execution.live import (
        CcxtVenue,
        LiveVenueConfig,
        build_exchange,
        live_venue_config,
    )

    if instance.exchange == "synthetic":
        raise ConfigError(f"instance {instance.id}: execution 'live' needs a real exchange, not 'synthetic'; set execution: paper")
    if key is None:
        raise ConfigError(f"instance {instance.id} trades live but no trade key was loaded; set HBOT_KEY_TRADE_API_KEY/SECRET/PASSPHRASE or HBOT_TRADE_KEY_FILE")
    if key.role == "data":
        raise ConfigError(f"instance {instance.id}: the read-only data key cannot trade; load the trade key (or the kill_switch key for the kill switch)")
    cfg = live if live is not None else live_venue_config(instance)
    if not isinstance(cfg, LiveVenueConfig):
        raise ConfigError(f"instance {instance.id}: live config must be a LiveVenueConfig, got {type(cfg).__name__}")
    if (cfg.exchange_id, cfg.symbol, cfg.market_type) != (instance.exchange, instance.symbol, instance.market_type):
        raise ConfigError(
            f"instance {instance.id}: live config is for {cfg.exchange_id}:{cfg.symbol} ({cfg.market_type}) but the instance trades "
            f"{instance.market} ({instance.market_type}); make them match"
        )
    ex = exchange if exchange is not None else build_exchange(cfg, key)
    kwargs: dict[str, Any] = {"key": key, "sleep": sleep}
    if now_us is not None:
        kwargs["now_us"] = now_us
    return CcxtVenue(ex, cfg, instance.id, instance.market, **kwargs)
