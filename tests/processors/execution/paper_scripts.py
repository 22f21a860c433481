"""Builders of small scripted market events and order commands for the paper exchange tests."""

from __future__ import annotations

from typing import Any

from fastavro import parse_schema
from fastavro.validation import validate

import schemas

INSTANCE = "paper-1"
MARKET = "test:BTC/USDT:USDT"
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
MS = 1_000

_PARSED: dict[str, Any] = {}


def assert_valid(schema: str, record: dict[str, Any]) -> None:
    """Raise unless ``record`` (plus a produce_time, which the producer stamps) is valid for ``schema``."""
    if schema not in _PARSED:
        _PARSED[schema] = parse_schema(schemas.load_schema_json(schema))
    validate({**record, "produce_time": 0}, _PARSED[schema], raise_errors=True)


def assert_all_valid(events: Any) -> None:
    """Validate every order_update and fill of a ``VenueEvents``."""
    for u in events.order_updates:
        assert_valid("order_update", u)
    for f in events.fills:
        assert_valid("fill", f)


def book(t: int, seq: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> dict[str, Any]:
    mid = (bids[0][0] + asks[0][0]) / 2
    rec = {
        "event_id": f"book-{seq}",
        "event_time": t,
        "market": MARKET,
        "sequence": seq,
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
        "mid": mid,
        "spread_bps": (asks[0][0] - bids[0][0]) / mid * 1e4,
        "source": "test",
        "sim_regime": None,
    }
    assert_valid("market_book", rec)
    return rec


# Bid 100.0 x 3.0 / 99.9 x 5.0, ask 100.1 x 2.0 / 100.2 x 4.0; mid 100.05.
def standard_book(t: int = T0, seq: int = 1) -> dict[str, Any]:
    return book(t, seq, [(100.0, 3.0), (99.9, 5.0)], [(100.1, 2.0), (100.2, 4.0)])


def trade(t: int, trade_id: str, price: float, size: float, aggressor: str) -> dict[str, Any]:
    rec = {
        "event_id": f"trade-{trade_id}",
        "event_time": t,
        "market": MARKET,
        "trade_id": trade_id,
        "price": price,
        "size": size,
        "aggressor_side": aggressor,
        "sequence": 0,
        "source": "test",
        "informed": None,
    }
    assert_valid("market_trade", rec)
    return rec


def funding(t: int, rate: float, settlement: bool = True, event_id: str = "fund-1", mark: float | None = None) -> dict[str, Any]:
    rec = {
        "event_id": event_id,
        "event_time": t,
        "market": MARKET,
        "funding_rate": rate,
        "next_funding_time": t + 8 * 3600 * 1_000_000,
        "mark_price": mark,
        "is_settlement": settlement,
        "source": "test",
    }
    assert_valid("market_funding", rec)
    return rec


def command(t: int, action: str, cid: str | None = None, side: str | None = None, price: float | None = None,
            size: float | None = None, post_only: bool = True, reduce_only: bool = False, reason: str = "") -> dict[str, Any]:
    rec = {
        "event_id": f"cmd-{action}-{cid}-{t}",
        "event_time": t,
        "instance_id": INSTANCE,
        "market": MARKET,
        "action": action,
        "client_order_id": cid,
        "side": side,
        "price": price,
        "size": size,
        "post_only": post_only,
        "reduce_only": reduce_only,
        "decision_id": "dec-test",
        "mid_at_decision": None,
        "reason": reason,
    }
    assert_valid("order", rec)
    return rec


def place(t: int, cid: str, side: str, price: float | None, size: float, post_only: bool = True, reduce_only: bool = False) -> dict[str, Any]:
    return command(t, "PLACE", cid, side, price, size, post_only, reduce_only)


def cancel(t: int, cid: str) -> dict[str, Any]:
    return command(t, "CANCEL", cid, reason="test_cancel")


def cancel_all(t: int) -> dict[str, Any]:
    return command(t, "CANCEL_ALL", reason="test_cancel_all")
