"""Build the ccxt exchange object a live venue talks through (keys, rate limiting, account mode)."""

from __future__ import annotations

from typing import Any

import ccxt

from hbot.settings import ConfigError
from processors.execution.keys import ExchangeKey
from processors.execution.live.config import LiveVenueConfig


def build_exchange(config: LiveVenueConfig, key: ExchangeKey | None) -> Any:
    """A sync ccxt exchange for ``config`` with ``key``'s credentials; no request is sent here.

    ``enableRateLimit`` is always on (ccxt spaces requests by the exchange's rate limit). A key
    lacking a credential the exchange requires (Bitget: a passphrase) fails here, by name.
    """
    cls = getattr(ccxt, config.exchange_id, None)
    if cls is None or not isinstance(cls, type):
        raise ConfigError(f"exchange {config.exchange_id!r} is not a ccxt exchange id; use e.g. 'bitget'")
    options: dict[str, Any] = {
        "defaultType": config.ccxt_market_type,
        # Only the market type we trade: fewer start-up requests, and nothing else can be mis-resolved.
        "fetchMarkets": {"types": [config.ccxt_market_type]},
    }
    if config.exchange_id == "bitget":
        # Explicit, so ccxt does not probe the account type with an extra signed call at first use.
        options["uta"] = config.unified_account
    params: dict[str, Any] = {"enableRateLimit": True, "timeout": config.timeout_ms, "options": options}
    if config.rate_limit_ms is not None:
        params["rateLimit"] = config.rate_limit_ms
    if key is not None:
        params.update(key.ccxt_credentials())
    exchange = cls(params)
    if key is not None:
        required = {k for k, v in exchange.requiredCredentials.items() if v}
        have = set(key.ccxt_credentials())
        missing = sorted({"apiKey", "secret", "password"} & required - have)
        if missing:
            names = {"password": "passphrase", "apiKey": "api key", "secret": "secret"}
            raise ConfigError(
                f"{config.exchange_id} needs the {', '.join(names[m] for m in missing)} of the {key.role} key ({key.source}); add it"
            )
    if config.sandbox:
        exchange.set_sandbox_mode(True)
    return exchange
