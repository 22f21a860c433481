"""What the exchange says the account holds, through ccxt (the reconciliation role's I/O side).

Read-only calls with the ``data`` key: ``fetch_positions`` for a perpetual (one-way or hedge mode:
long and short legs are netted), the base currency's balance for a spot market, and the settle (or
quote) currency's total balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExchangeInventory:
    """An account snapshot for one market."""

    position_base: float
    balance_quote: float | None


def _float(value: Any) -> float:
    return 0.0 if value is None else float(value)


def fetch_inventory(exchange: Any, symbol: str) -> ExchangeInventory:
    """Position (base currency, signed) and settle-currency balance of ``symbol`` on a sync ccxt ``exchange``.

    ccxt errors propagate (the caller retries on its next round and logs the failure).
    """
    exchange.load_markets()
    market = exchange.market(symbol)
    balance = exchange.fetch_balance()
    settle = market.get("settle") or market["quote"]
    if market.get("contract"):
        position = 0.0
        size = _float(market.get("contractSize") or 1.0)
        for p in exchange.fetch_positions([symbol]):
            if p.get("symbol") != symbol:
                continue
            contracts = _float(p.get("contracts")) * _float(p.get("contractSize") or size)
            position += -contracts if p.get("side") == "short" else contracts
    else:
        position = _float(balance.get("total", {}).get(market["base"]))
    total = balance.get("total", {}).get(settle)
    return ExchangeInventory(position, None if total is None else float(total))
