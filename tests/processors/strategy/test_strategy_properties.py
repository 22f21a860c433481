"""Properties of every decision (hypothesis): quotes never cross the book, bid < ask, sizes within
the order limits, and derisk-only quoting never increases |position|."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.clock import US_PER_S
from processors.strategy import REGIME_NAMES, Decision, EppV24Core
from processors.decimals import step_decimals
from processors.strategy.quote_ladder import buy_prices, sell_prices
from tests.processors.strategy.strategy_testkit import INSTANCE, MARKET, NEXT_MIDNIGHT, T0, make_config

TICKS = [0.0001, 0.01, 0.1, 1.0]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _book(seq: int, t: int, bid: float, ask: float, bid_sizes: list[float], ask_sizes: list[float], tick: float):
    return {
        "event_id": f"b{seq}", "event_time": t, "market": MARKET, "sequence": seq,
        "bids": [{"price": bid - i * tick, "size": s} for i, s in enumerate(bid_sizes)],
        "asks": [{"price": ask + i * tick, "size": s} for i, s in enumerate(ask_sizes)],
        "mid": (bid + ask) / 2, "spread_bps": 0.0,
    }


def _check(d: Decision, core: EppV24Core, bid: float, ask: float, tick: float, position: float) -> None:
    cfg = core.config
    quotes = d.quote["quotes"]
    buys = [q for q in quotes if q["side"] == "BUY"]
    sells = [q for q in quotes if q["side"] == "SELL"]
    for q in buys:
        assert 0.0 < q["price"] < ask, ("BUY crosses the best ask", q, ask)
    for q in sells:
        assert q["price"] > bid, ("SELL crosses the best bid", q, bid)
    if buys and sells:
        assert max(q["price"] for q in buys) < min(q["price"] for q in sells)
    for q in quotes:
        assert abs(q["price"] / tick - round(q["price"] / tick)) < 1e-6, ("price off the tick grid", q)
        notional = q["price"] * q["size"]
        assert q["size"] > 0.0
        assert cfg.min_order_quote * (1 - 1e-9) <= notional <= cfg.max_order_quote * (1 + 1e-9), q
    for side_quotes, sign in ((buys, -1.0), (sells, 1.0)):
        prices = [q["price"] for q in side_quotes]
        assert len(set(prices)) == len(prices)
        assert [q["level"] for q in side_quotes] == list(range(len(side_quotes)))
        assert prices == sorted(prices, key=lambda p: sign * p)
    if not cfg.is_perp:
        assert sum(q["size"] for q in sells) <= max(0.0, position) + 1e-12
    if d.quote["derisk_only"]:
        reducing = "SELL" if position > 0 else "BUY"
        assert all(q["side"] == reducing for q in quotes)
        worst_case = position + sum(q["size"] if q["side"] == "BUY" else -q["size"] for q in quotes)
        assert abs(worst_case) <= abs(position) + 1e-12, "derisk quotes could increase |position|"


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    tick = draw(st.sampled_from(TICKS))
    price = draw(st.floats(min_value=max(1.0, 20 * tick), max_value=100_000.0))
    bid = round(math.floor(price / tick) * tick, 6)
    ask = round(bid + draw(st.integers(min_value=1, max_value=40)) * tick, 6)
    return {
        "tick": tick,
        "bid": bid,
        "ask": ask,
        "bid_sizes": draw(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=5)),
        "ask_sizes": draw(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=5)),
        "position_quote": draw(st.floats(-15_000.0, 15_000.0)),
        "target": draw(st.none() | st.floats(-0.6, 0.6)),
        "funding": draw(st.floats(-0.001, 0.001)),
        "is_perp": draw(st.booleans()),
        "regime": draw(st.none() | st.sampled_from(REGIME_NAMES)),
        "skew_cap": draw(st.floats(0.0005, 0.02)),
        "kelly": draw(st.booleans()),
        "midnight": draw(st.booleans()),  # the second book comes after a UTC rollover (EOD close)
    }


@SETTINGS
@given(s=scenarios())
def test_when_any_book_position_and_overrides_then_decision_properties_hold(s: dict[str, Any]) -> None:
    cfg = make_config(tick_size=s["tick"], is_perp=s["is_perp"], inventory_skew_cap_pct=s["skew_cap"],
                      use_kelly_sizing=s["kelly"])
    core = EppV24Core(cfg, INSTANCE, MARKET)
    mid = (s["bid"] + s["ask"]) / 2
    base = {"instance_id": INSTANCE, "market": MARKET}
    t0 = NEXT_MIDNIGHT - 10 * US_PER_S if s["midnight"] else T0
    first = core.on_book(_book(1, t0, s["bid"], s["ask"], s["bid_sizes"], s["ask_sizes"], s["tick"]))
    assert first is not None
    _check(first, core, s["bid"], s["ask"], s["tick"], 0.0)

    size = abs(s["position_quote"]) / mid
    if size > 0.0:
        side = "BUY" if s["position_quote"] > 0 else "SELL"
        core.on_fill({**base, "event_id": "f1", "event_time": t0 + 1, "side": side, "price": mid, "size": size,
                      "fee_quote": 0.0, "mid_at_fill": mid})
    core.on_funding({"event_id": "fu", "event_time": t0 + 2, "market": MARKET, "funding_rate": s["funding"]})
    if s["target"] is not None:
        core.on_intent({**base, "event_id": "i1", "event_time": t0 + 3, "action": "set_target_base_pct",
                        "target_base_pct": s["target"]})
    if s["regime"] is not None:
        core.on_intent({**base, "event_id": "i2", "event_time": t0 + 4, "action": "set_regime_override",
                        "regime": s["regime"]})
    t2 = NEXT_MIDNIGHT + US_PER_S if s["midnight"] else T0 + 5
    second = core.on_book(_book(2, t2, s["bid"], s["ask"], s["bid_sizes"], s["ask_sizes"], s["tick"]))

    assert second is not None
    _check(second, core, s["bid"], s["ask"], s["tick"], core.position_base)


@SETTINGS
@given(
    steps=st.lists(
        st.tuples(st.floats(-0.004, 0.004), st.integers(1, 8), st.sampled_from(["none", "BUY", "SELL"]),
                  st.floats(0.1, 80.0)),
        min_size=5, max_size=60,
    ),
    is_perp=st.booleans(),
)
def test_when_a_random_path_with_fills_then_every_decision_keeps_the_properties(
    steps: list[tuple[float, int, str, float]], is_perp: bool
) -> None:
    tick = 0.01
    core = EppV24Core(make_config(is_perp=is_perp), INSTANCE, MARKET)
    t = T0
    mid = 100.0
    for seq, (ret, spread_ticks, fill_side, fill_size) in enumerate(steps, start=1):
        t += 7_000_000
        mid = max(1.0, mid * (1.0 + ret))
        bid = round(math.floor(mid / tick) * tick, 2)
        ask = round(bid + spread_ticks * tick, 2)
        if fill_side != "none":
            core.on_fill({"instance_id": INSTANCE, "market": MARKET, "event_id": f"f{seq}", "event_time": t - 1,
                          "side": fill_side, "price": mid, "size": fill_size, "fee_quote": 0.0, "mid_at_fill": mid})
        position = core.position_base
        d = core.on_book(_book(seq, t, bid, ask, [1.0, 2.0, 1.0], [1.5, 1.0, 1.0], tick))
        if d is not None:
            _check(d, core, bid, ask, tick, position)


@SETTINGS
@given(
    tick=st.sampled_from(TICKS),
    price=st.floats(1.0, 100_000.0),
    spread_ticks=st.integers(1, 30),
    distances=st.lists(st.floats(-0.01, 0.05), min_size=1, max_size=5),
    own_bid_offset=st.floats(-0.01, 0.01),
)
def test_when_any_distances_then_ladder_prices_never_cross(
    tick: float, price: float, spread_ticks: int, distances: list[float], own_bid_offset: float
) -> None:
    dec = step_decimals(tick)
    bid = round(math.floor(price / tick) * tick, dec) + 10 * tick
    ask = round(bid + spread_ticks * tick, dec)
    mid = (bid + ask) / 2

    buys = buy_prices(mid, distances, ask, tick, dec)
    own_best_bid = buys[0] if buys else mid * (1 + own_bid_offset)
    sells = sell_prices(mid, distances, bid, own_best_bid, tick, dec)

    assert all(0 < p < ask for p in buys)
    assert all(p > bid and p > own_best_bid for p in sells)
    assert all(a > b for a, b in zip(buys, buys[1:])) and all(a < b for a, b in zip(sells, sells[1:]))
