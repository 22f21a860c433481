"""A core restored from a JSON snapshot continues exactly like one that never stopped."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from processors.clock import US_PER_MIN
from processors.strategy import EppV24Core
from tests.processors.strategy.strategy_testkit import INSTANCE, MARKET, NEXT_MIDNIGHT, book_record, make_config

CONFIG = make_config(candles_connector="bitget", ml_regime_enabled=True, use_kelly_sizing=True)


def _script(seed: int, n: int = 4000) -> list[tuple[str, dict[str, Any]]]:
    """A mixed, seeded stream of every input kind, crossing a UTC midnight."""
    rng = random.Random(seed)
    t = NEXT_MIDNIGHT - 15 * US_PER_MIN
    mid = 100.0
    seq = 0
    out: list[tuple[str, dict[str, Any]]] = []
    base = {"instance_id": INSTANCE, "market": MARKET}
    for i in range(n):
        t += rng.randint(100_000, 900_000)
        r = rng.random()
        if r < 0.80:
            mid *= 1.0 + rng.gauss(0.0, 0.0004)
            seq += 1
            sizes = tuple(rng.uniform(0.1, 5.0) for _ in range(5))
            out.append(("book", book_record(seq, t, round(mid, 2), bid_sizes=sizes)))
        elif r < 0.88:
            out.append(("trade", {"event_id": f"tr{i}", "event_time": t, "market": MARKET, "price": mid}))
        elif r < 0.95:
            side = rng.choice(["BUY", "SELL"])
            price = mid * (1.0 + rng.uniform(-0.001, 0.001))
            out.append(("fill", {**base, "event_id": f"f{i}", "event_time": t, "side": side, "price": price,
                                 "size": rng.choice([0.5, 1.0, 3.0, 40.0]), "fee_quote": 0.01,
                                 "mid_at_fill": mid}))
        elif r < 0.965:
            open_time = (t // US_PER_MIN - 1) * US_PER_MIN
            out.append(("candle", {"event_id": f"c{i}", "event_time": t, "market": MARKET, "interval": "1m",
                                   "open_time": open_time, "open": mid, "high": mid * 1.002,
                                   "low": mid * 0.998, "close": mid}))
        elif r < 0.975:
            out.append(("funding", {"event_id": f"fu{i}", "event_time": t, "market": MARKET,
                                    "funding_rate": rng.uniform(-0.0003, 0.0003)}))
        elif r < 0.985:
            out.append(("signal", {**base, "event_id": f"s{i}", "event_time": t,
                                   "signal_name": rng.choice(["inventory_rebalance", "regime_override"]),
                                   "signal_value": float(rng.randint(0, 4)) if rng.random() < 0.5 else 0.1,
                                   "expires_at": None}))
        elif r < 0.995:
            action = rng.choice(["set_target_base_pct", "set_regime_override", "resume"])
            out.append(("intent", {**base, "event_id": f"i{i}", "event_time": t, "action": action,
                                   "target_base_pct": rng.uniform(-0.3, 0.3), "regime": "up"}))
        else:
            out.append(("guard", {**base, "event_id": f"g{i}", "event_time": t,
                                  "state": rng.choice(["RUNNING", "SOFT_PAUSE", "HARD_STOP"])}))
    return out


def _run(core: EppV24Core, events: list[tuple[str, dict[str, Any]]]) -> list[tuple[dict, dict]]:
    handlers = {
        "book": core.on_book, "trade": core.on_trade, "fill": core.on_fill, "candle": core.on_candle,
        "funding": core.on_funding, "signal": core.on_signal, "intent": core.on_intent, "guard": core.on_guard,
    }
    out = []
    for kind, rec in events:
        d = handlers[kind](rec)
        if d is not None:
            out.append((d.quote, d.state))
    return out


@pytest.mark.parametrize(("seed", "cut"), [(1, 1), (1, 1777), (2, 2500), (3, 3999)])
def test_when_restored_from_json_snapshot_then_decisions_match_an_uninterrupted_run(seed: int, cut: int) -> None:
    events = _script(seed)
    uninterrupted = _run(EppV24Core(CONFIG, INSTANCE, MARKET), events)

    first = EppV24Core(CONFIG, INSTANCE, MARKET)
    before = _run(first, events[:cut])
    state = json.loads(json.dumps(first.snapshot()))  # what a Faust table would store
    restarted = EppV24Core.from_snapshot(CONFIG, state)
    after = _run(restarted, events[cut:])

    assert len(uninterrupted) > 100
    assert before + after == uninterrupted
    assert json.dumps(restarted.snapshot(), sort_keys=True) == json.dumps(_final_snapshot(events), sort_keys=True)


def _final_snapshot(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    core = EppV24Core(CONFIG, INSTANCE, MARKET)
    _run(core, events)
    return core.snapshot()


def test_when_script_runs_then_it_exercises_the_interesting_paths() -> None:
    decisions = _run(EppV24Core(CONFIG, INSTANCE, MARKET), _script(1))

    sources = {s["regime_source"] for _, s in decisions}
    assert {"price_buffer", "ohlcv"} <= sources
    assert any(q["derisk_only"] for q, _ in decisions)
    assert any("eod_close_pending" in s["risk_reasons"] for _, s in decisions)


def test_when_snapshot_is_for_another_instance_then_restore_refuses() -> None:
    core = EppV24Core(CONFIG, INSTANCE, MARKET)
    state = core.snapshot()

    with pytest.raises(ValueError, match="cannot restore"):
        EppV24Core(CONFIG, "other", MARKET).restore(state)


def test_when_snapshot_serialised_then_it_is_plain_json() -> None:
    core = EppV24Core(CONFIG, INSTANCE, MARKET)
    _run(core, _script(5, n=500))

    state = core.snapshot()

    assert json.loads(json.dumps(state, allow_nan=False)) == state
    assert state["decision_seq"] == core.decision_seq > 0
    assert state["book"]["seq"] > 0 and state["price_buffer"]["bar_count"] > 0
