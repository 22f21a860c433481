"""Synthetic breach through the cores: paper loss -> HARD_STOP -> one kill switch -> every paper order cancelled.

Also a seeded random session of gate + paper exchange checking the inventory cap with in-flight
orders and that the gate's position equals the venue's.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from processors.execution.paper import PaperExchange, PaperExchangeConfig
from processors.execution.venue import VenueEvents
from processors.risk import GateConfig, GuardConfig, GuardState, MarketRules, OpsGuard, RiskGate
from tests.processors.risk.risk_scripts import INSTANCE, MARKET, S, T0, assert_valid, quote

RULES = MarketRules(tick_size=0.1, lot_size=0.001, min_size=0.001, min_notional=5.0)
MS = 1_000


def _book(t: int, seq: int, mid: float) -> dict[str, Any]:
    bid, ask = round(mid - 0.1, 1), round(mid + 0.1, 1)
    return {"event_id": f"b{seq}", "event_time": t, "market": MARKET, "sequence": seq,
            "bids": [{"price": bid, "size": 2.0}, {"price": round(bid - 0.1, 1), "size": 4.0}],
            "asks": [{"price": ask, "size": 2.0}, {"price": round(ask + 0.1, 1), "size": 4.0}],
            "mid": (bid + ask) / 2, "spread_bps": (ask - bid) / mid * 1e4, "source": "test", "sim_regime": None}


def _trade(t: int, tid: str, price: float, size: float, aggressor: str) -> dict[str, Any]:
    return {"event_id": tid, "event_time": t, "market": MARKET, "trade_id": tid, "price": price, "size": size,
            "aggressor_side": aggressor, "sequence": 0, "source": "test", "informed": None}


def _route(gate: RiskGate, ev: VenueEvents) -> None:
    """What the agents do: venue outputs go back to the gate."""
    for u in ev.order_updates:
        assert_valid("order_update", u)
        gate.on_order_update(u)
    for f in ev.fills:
        assert_valid("fill", f)
        gate.on_fill(f)


def test_when_paper_loss_crosses_hard_limit_then_one_kill_switch_and_all_orders_cancelled() -> None:
    # Arrange: a 2-level quote on each side rests on the paper exchange.
    paper = PaperExchange(PaperExchangeConfig(order_latency_ms=0.0, cancel_latency_ms=0.0), INSTANCE, MARKET)
    gate = RiskGate(GateConfig(), RULES, INSTANCE, MARKET, balance_quote=paper.balance_quote)
    guard = OpsGuard(GuardConfig(), INSTANCE, MARKET)
    paper.on_book(_book(T0, 1, 100.0))
    guard.on_book(T0, "b1")
    guard.on_equity(T0, paper.equity(), "start")
    r = gate.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 5.0), ("BUY", 1, 99.8, 5.0),
                                              ("SELL", 0, 100.1, 5.0), ("SELL", 1, 100.2, 5.0)]))
    for c in r.commands:
        _route(gate, paper.on_command(c))
    assert len(paper.open_orders()) == 4
    # Act: a crash sweeps our bids (long 10.0 from ~99.85), the mark falls to 60 -> about -4 % equity.
    _route(gate, paper.on_trade(_trade(T0 + 1 * S, "crash", 60.0, 50.0, "SELL")))
    paper.on_book(_book(T0 + 2 * S, 2, 60.0))
    out = guard.on_equity(T0 + 2 * S, paper.equity(), "mark-2")
    commands = [c for rec in out.records for c in gate.on_guard_record(rec).commands]
    cancelled = VenueEvents()
    for c in commands:
        cancelled.extend(paper.on_command(c))
    _route(gate, cancelled)
    # Assert
    assert out.state == GuardState.HARD_STOP and len(out.intents) == 1
    assert out.intents[0]["action"] == "kill_switch"
    assert [c["action"] for c in commands] == ["CANCEL_ALL"]
    assert paper.open_orders() == [] and len(gate.orders) == 0
    assert {u["status"] for u in cancelled.order_updates} == {"CANCELLED"} and len(cancelled.order_updates) == 2
    # A second HARD_STOP tick and a worker restart publish nothing more, and nothing is placed.
    again = guard.on_equity(T0 + 3 * S, paper.equity(), "mark-3")
    restarted = OpsGuard.restore(json.loads(json.dumps(guard.snapshot())), GuardConfig(), INSTANCE, MARKET)
    after = restarted.tick(T0 + 4 * S, "tick-4")
    requote = gate.on_quote(quote("q2", T0 + 5 * S, 60.0, [("BUY", 0, 59.9, 1.0), ("SELL", 0, 60.1, 1.0)]))
    assert again.intents == () and again.records == () and after.intents == () and after.records == ()
    assert requote.places == []


@pytest.mark.slow
def test_when_random_session_then_cap_holds_at_every_place_and_gate_position_matches_venue() -> None:
    # Arrange: 50 ms latencies so orders are really in flight; small equity so the cap binds often.
    rng = random.Random(7)
    cfg = GateConfig(max_base_pct=0.5, min_base_pct=-0.5, cancel_budget_per_min=10_000, reuse_price_tolerance_bps=0.5)
    paper = PaperExchange(PaperExchangeConfig(order_latency_ms=50.0, cancel_latency_ms=50.0, initial_balance_quote=2_000.0), INSTANCE, MARKET)
    gate = RiskGate(cfg, RULES, INSTANCE, MARKET, balance_quote=2_000.0)
    mid, t, placed = 100.0, T0, 0
    # Act
    for step in range(3000):
        t += 40 * MS
        kind = rng.random()
        if kind < 0.3:
            mid = round(mid + rng.choice([-0.1, 0.0, 0.1]), 1)
            _route(gate, paper.on_book(_book(t, step + 1, mid)))
        elif kind < 0.6:
            aggr = rng.choice(["BUY", "SELL"])
            px = round(mid + (rng.choice([0.1, 0.2, 0.3]) if aggr == "BUY" else -rng.choice([0.1, 0.2, 0.3])), 1)
            _route(gate, paper.on_trade(_trade(t, f"t{step}", px, rng.choice([0.5, 2.0, 6.0]), aggr)))
        else:
            levels = [(s, lv, round(mid + (-1 if s == "BUY" else 1) * (0.1 + 0.1 * lv + 0.1 * rng.randint(0, 2)), 1), rng.choice([2.0, 4.0, 6.0]))
                      for s in ("BUY", "SELL") for lv in (0, 1)]
            r = gate.on_quote(quote(f"q{step}", t, mid, levels, seq=step))
            equity = gate.ledger.equity(mid)
            for c in r.commands:
                _route(gate, paper.on_command(c))
            if r.places:
                placed += len(r.places)
                # The truth is the venue: its position plus every open order filling.
                buys = sum(o["size"] - o["filled_size"] for o in paper.open_orders() if o["side"] == "BUY")
                sells = sum(o["size"] - o["filled_size"] for o in paper.open_orders() if o["side"] == "SELL")
                if any(c["side"] == "BUY" for c in r.places):
                    assert paper.position_base + buys <= 0.5 * equity / mid + 1e-9
                if any(c["side"] == "SELL" for c in r.places):
                    assert paper.position_base - sells >= -0.5 * equity / mid - 1e-9
        # Assert (every step): the gate's position is the venue's, and the gate is never less cautious.
        assert gate.ledger.position_base == pytest.approx(paper.position_base, abs=1e-9)
        assert gate.ledger.balance_quote == pytest.approx(paper.balance_quote, abs=1e-6)
        open_buys = sum(o["size"] - o["filled_size"] for o in paper.open_orders() if o["side"] == "BUY")
        assert gate.worst_case_position("BUY") >= paper.position_base + open_buys - 1e-9
    assert placed > 200 and paper.fees_quote > 0.0
