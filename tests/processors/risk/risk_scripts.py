"""Builders of quote / order-update / fill / intent records for the risk tests, and Avro validation."""

from __future__ import annotations

from typing import Any

from fastavro import parse_schema
from fastavro.validation import validate

import schemas

INSTANCE = "bot1"
MARKET = "test:BTC/USDT:USDT"
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z, microseconds
S = 1_000_000

_PARSED: dict[str, Any] = {}


def assert_valid(schema: str, record: dict[str, Any]) -> None:
    """Raise unless ``record`` plus a produce_time (the producer stamps it) is valid for ``schema``."""
    if schema not in _PARSED:
        _PARSED[schema] = parse_schema(schemas.load_schema_json(schema))
    validate({**record, "produce_time": 0}, _PARSED[schema], raise_errors=True)


def quote(event_id: str, t: int, mid: float, levels: list[tuple[str, int, float, float]], derisk_only: bool = False, seq: int = 1) -> dict[str, Any]:
    rec = {
        "event_id": event_id,
        "event_time": t,
        "instance_id": INSTANCE,
        "market": MARKET,
        "config_id": "cfg-test",
        "decision_seq": seq,
        "regime": "neutral_low_vol",
        "mid": mid,
        "quotes": [{"side": s, "level": lv, "price": p, "size": q} for s, lv, p, q in levels],
        "derisk_only": derisk_only,
        "input_event_ids": [],
        "input_offsets": [],
    }
    assert_valid("quote", rec)
    return rec


def update(t: int, cid: str, status: str, size: float, filled: float = 0.0, n: int = 0) -> dict[str, Any]:
    rec = {
        "event_id": f"ou-{cid}-{status}-{n}",
        "event_time": t,
        "instance_id": INSTANCE,
        "market": MARKET,
        "client_order_id": cid,
        "exchange_order_id": None,
        "status": status,
        "side": None,
        "price": None,
        "size": size,
        "filled_size": filled,
        "remaining_size": max(0.0, size - filled),
        "reason": "",
    }
    assert_valid("order_update", rec)
    return rec


def fill(t: int, cid: str, trade_id: str, side: str, price: float, size: float, fee: float = 0.0) -> dict[str, Any]:
    rec = {
        "event_id": trade_id,
        "event_time": t,
        "instance_id": INSTANCE,
        "market": MARKET,
        "client_order_id": cid,
        "exchange_order_id": None,
        "trade_id": trade_id,
        "side": side,
        "price": price,
        "size": size,
        "fee_quote": fee,
        "fee_asset": "USDT",
        "liquidity": "MAKER",
        "mid_at_fill": price,
        "mid_at_order": None,
        "order_time": None,
        "regime": None,
        "is_paper": True,
    }
    assert_valid("fill", rec)
    return rec


def intent(event_id: str, t: int, action: str, producer: str = "signal_router", metadata: dict[str, str] | None = None) -> dict[str, Any]:
    rec = {
        "event_id": event_id,
        "event_time": t,
        "instance_id": INSTANCE,
        "market": MARKET,
        "producer": producer,
        "action": action,
        "target_base_pct": None,
        "regime": None,
        "reason": "",
        "metadata": metadata or {},
    }
    assert_valid("execution_intent", rec)
    return rec
