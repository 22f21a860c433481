"""Builders of the ``order_update`` and ``fill`` records of the live venue (no produce_time).

Ids depend only on what happened, never on when we saw it: an order update's id is derived from
the order and its new state, a fill's from the exchange's trade id, so a poll that sees the same
thing twice (or a restarted worker re-reading it) yields the same ids and downstream drops them.
"""

from __future__ import annotations

from typing import Any

from processors.execution.live.order import LiveOrder
from processors.ids import make_id


def order_update_record(instance_id: str, market: str, o: LiveOrder, status: str, t: int, reason: str = "") -> dict[str, Any]:
    """A ``schemas/order_update.avsc`` dict for ``o`` now in ``status``."""
    return {
        "event_id": make_id("lou", instance_id, market, o.client_order_id, status, repr(float(o.filled))),
        "event_time": int(t),
        "instance_id": instance_id,
        "market": market,
        "client_order_id": o.client_order_id,
        "exchange_order_id": o.exchange_order_id,
        "status": status,
        "side": o.side if o.side in ("BUY", "SELL") else None,
        "price": o.price,
        "size": float(o.size),
        "filled_size": float(o.filled),
        "remaining_size": o.remaining,
        "reason": reason,
    }


def fill_record(
    instance_id: str,
    market: str,
    *,
    client_order_id: str,
    exchange_order_id: str | None,
    trade_id: str,
    t: int,
    side: str,
    price: float,
    size: float,
    fee_quote: float,
    fee_asset: str,
    liquidity: str,
    mid_at_fill: float,
    mid_at_order: float | None,
    order_time: int | None,
) -> dict[str, Any]:
    """A ``schemas/fill.avsc`` dict of an exchange fill; ``event_id`` depends only on the exchange trade id."""
    return {
        "event_id": make_id("lfill", instance_id, market, trade_id),
        "event_time": int(t),
        "instance_id": instance_id,
        "market": market,
        "client_order_id": client_order_id,
        "exchange_order_id": exchange_order_id,
        "trade_id": trade_id,
        "side": side,
        "price": float(price),
        "size": float(size),
        "fee_quote": float(fee_quote) if fee_quote else 0.0,  # no -0.0 in records
        "fee_asset": fee_asset,
        "liquidity": liquidity,
        "mid_at_fill": float(mid_at_fill),
        "mid_at_order": mid_at_order,
        "order_time": order_time,
        "regime": None,
        "is_paper": False,
    }
