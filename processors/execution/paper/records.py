"""Builders of the ``order_update`` and ``fill`` records the paper exchange emits (no produce_time)."""

from __future__ import annotations

from typing import Any

from processors.execution.paper.order import PaperOrder
from processors.ids import make_id


def order_update_record(instance_id: str, market: str, o: PaperOrder, status: str, t: int, reason: str = "") -> dict[str, Any]:
    """A ``schemas/order_update.avsc`` dict for ``o`` now in ``status``; bumps ``o.updates`` for the id."""
    o.updates += 1
    return {
        "event_id": make_id("pou", instance_id, market, o.client_order_id, o.updates, status),
        "event_time": t,
        "instance_id": instance_id,
        "market": market,
        "client_order_id": o.client_order_id,
        "exchange_order_id": o.exchange_order_id,
        "status": status,
        "side": o.side,
        "price": o.price,
        "size": o.size,
        "filled_size": o.filled,
        "remaining_size": max(0.0, o.size - o.filled),
        "reason": reason,
    }


def fill_record(
    instance_id: str,
    market: str,
    o: PaperOrder,
    trade_key: str,
    t: int,
    price: float,
    size: float,
    fee: float,
    liquidity: str,
    mid_at_fill: float,
    fee_asset: str,
) -> dict[str, Any]:
    """A ``schemas/fill.avsc`` dict. ``trade_id`` / ``event_id`` depend only on the order and what filled it."""
    trade_id = make_id("pfill", instance_id, market, o.client_order_id, trade_key)
    return {
        "event_id": trade_id,
        "event_time": t,
        "instance_id": instance_id,
        "market": market,
        "client_order_id": o.client_order_id,
        "exchange_order_id": o.exchange_order_id,
        "trade_id": trade_id,
        "side": o.side,
        "price": price,
        "size": size,
        "fee_quote": fee,
        "fee_asset": fee_asset,
        "liquidity": liquidity,
        "mid_at_fill": mid_at_fill,
        "mid_at_order": o.mid_at_order,
        "order_time": o.order_time,
        "regime": None,
        "is_paper": True,
    }
