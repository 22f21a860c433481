"""The risk role's processor: gate and guard wired together, as the risk agent runs them."""

from __future__ import annotations

import json
from typing import Any

from processors.instance import demo_instance, instance_setup
from processors.risk.processor import RiskProcessor

SETUP = instance_setup(demo_instance())
T0 = 1_704_067_200_000_000
ORIGIN = ("hb.sequenced.v1", 0, 0)


def book(i: int, mid: float) -> dict[str, Any]:
    return {"event_id": f"b{i}", "event_time": T0 + i * 1_000_000, "market": SETUP.market, "sequence": i,
            "bids": [{"price": mid - 0.1, "size": 5.0}], "asks": [{"price": mid + 0.1, "size": 5.0}],
            "mid": mid, "spread_bps": 0.2 / mid * 1e4, "source": "test", "sim_regime": None}


def fill(i: int, side: str, price: float, size: float) -> dict[str, Any]:
    return {"event_id": f"f{i}", "event_time": T0 + i * 1_000_000, "instance_id": SETUP.id, "market": SETUP.market,
            "client_order_id": f"c{i}", "exchange_order_id": None, "trade_id": f"t{i}", "side": side, "price": price,
            "size": size, "fee_quote": 0.0, "fee_asset": "USDT", "liquidity": "MAKER", "mid_at_fill": price,
            "mid_at_order": price, "order_time": None, "regime": None, "is_paper": True}


def quote(i: int, mid: float) -> dict[str, Any]:
    return {"event_id": f"q{i}", "event_time": T0 + i * 1_000_000, "instance_id": SETUP.id, "market": SETUP.market,
            "config_id": "c", "decision_seq": i, "regime": "neutral_low_vol", "mid": mid, "derisk_only": False,
            "quotes": [{"side": "BUY", "level": 0, "price": mid - 1.0, "size": 0.01},
                       {"side": "SELL", "level": 0, "price": mid + 1.0, "size": 0.01}],
            "input_event_ids": [], "input_offsets": []}


def topics(outputs: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [r for t, r in outputs if t == name]


def test_when_a_large_loss_crosses_the_hard_limit_then_one_kill_switch_intent_and_no_new_orders() -> None:
    p = RiskProcessor(SETUP)
    p.on_event("hb.market.book.v1", book(1, 50_000.0), ORIGIN)
    placed = p.on_event("hb.quote.v1", quote(2, 50_000.0), ORIGIN)
    assert len(topics(placed, "hb.order.v1")) == 2
    p.on_event("hb.fill.v1", fill(3, "BUY", 50_000.0, 0.1), ORIGIN)  # 5,000 USDT long on a 10,000 account
    out = p.on_event("hb.market.book.v1", book(4, 45_000.0), ORIGIN)  # -500 USDT: 5 % > the 3 % hard limit
    intents = topics(out, "hb.execution_intent.v1")
    assert [i["action"] for i in intents] == ["kill_switch"]
    assert topics(out, "hb.guard.v1")[-1]["state"] == "HARD_STOP"
    assert [o["action"] for o in topics(out, "hb.order.v1")] == ["CANCEL_ALL"]
    # Later ticks, a restart from the snapshot, and the strategy still quoting: nothing new is placed or fired.
    again = p.on_event("hb.market.book.v1", book(5, 44_000.0), ORIGIN)
    restored = RiskProcessor.restore(SETUP, json.loads(json.dumps(p.snapshot())))
    after = restored.on_event("hb.market.book.v1", book(6, 43_000.0), ORIGIN) + restored.on_event("hb.quote.v1", quote(7, 43_000.0), ORIGIN)
    assert topics(again + after, "hb.execution_intent.v1") == []
    assert [o for o in topics(again + after, "hb.order.v1") if o["action"] == "PLACE"] == []


def test_when_a_fill_is_replayed_then_equity_counts_it_once() -> None:
    p = RiskProcessor(SETUP)
    p.on_event("hb.market.book.v1", book(1, 50_000.0), ORIGIN)
    p.on_event("hb.fill.v1", fill(2, "BUY", 50_000.0, 0.01), ORIGIN)
    p.on_event("hb.fill.v1", fill(2, "BUY", 50_000.0, 0.01), ORIGIN)
    assert p.gate.ledger.position_base == 0.01
