"""Inventory target, skew and derisk-only quoting [P0-1]."""

from __future__ import annotations

import math

import pytest

from processors.strategy.inventory import BASE_PCT_ABOVE_MAX, BASE_PCT_BELOW_MIN, inventory_skew
from tests.processors.strategy.strategy_testkit import Feed, make_config, sides


def test_when_short_beyond_min_base_pct_then_only_buy_is_quoted_for_at_most_the_position() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.fill("SELL", 100.0, 61.0)  # -6 100 of 10 000 equity: base_pct -0.61 < -0.60

    d = feed.book(100.0)

    assert d is not None
    assert d.quote["derisk_only"] is True
    assert BASE_PCT_BELOW_MIN in d.state["risk_reasons"]
    assert sides(d) == {"BUY"}
    assert sum(q["size"] for q in d.quote["quotes"]) <= 61.0
    # derisk_spread_pct 3 bps from mid, rounded down to the tick
    assert d.quote["quotes"][0]["price"] == pytest.approx(99.97)


def test_when_long_beyond_max_base_pct_then_only_sell_is_quoted() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.fill("BUY", 100.0, 61.0)

    d = feed.book(100.0)

    assert d is not None
    assert d.quote["derisk_only"] is True
    assert BASE_PCT_ABOVE_MAX in d.state["risk_reasons"]
    assert sides(d) == {"SELL"}
    assert d.quote["quotes"][0]["price"] == pytest.approx(100.03)


def test_when_derisk_spread_is_zero_then_regime_half_spread_is_used() -> None:
    feed = Feed(derisk_spread_pct=0.0)
    feed.book(100.0)
    feed.fill("BUY", 100.0, 61.0)

    d = feed.book(100.0)

    assert d is not None
    # the fill made 0.61x daily turnover: the regime spread moved 0.61/3 of the way to spread_max
    spread = 0.0025 + (0.0045 - 0.0025) * 0.61 / 3.0
    assert d.detail.spread_pct == pytest.approx(spread)
    assert d.quote["quotes"][0]["price"] == pytest.approx(math.ceil(100.0 * (1 + spread / 2) / 0.01) * 0.01)


def test_when_set_target_base_pct_intent_then_next_decision_carries_the_target() -> None:
    feed = Feed()
    first = feed.book(100.0)
    assert first is not None and first.state["target_net_base_pct"] == 0.0

    feed.intent("set_target_base_pct", target_base_pct=0.1)
    d = feed.book(100.0)  # nothing else changed: the intent alone makes this book decide

    assert d is not None
    assert d.state["target_net_base_pct"] == pytest.approx(0.1)
    assert d.detail.inventory_skew > 0  # below target: lean to buy


def test_when_target_intent_is_null_then_regime_target_returns() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.intent("set_target_base_pct", target_base_pct=0.2)
    feed.book(100.0)

    feed.intent("set_target_base_pct", target_base_pct=None)
    d = feed.book(100.0)

    assert d is not None and d.state["target_net_base_pct"] == 0.0


@pytest.mark.parametrize(("requested", "perp", "expected"), [(0.9, True, 0.6), (-0.9, True, -0.6), (-0.3, False, 0.0)])
def test_when_target_outside_the_allowed_band_then_clipped(requested: float, perp: bool, expected: float) -> None:
    feed = Feed(is_perp=perp)
    feed.book(100.0)
    feed.intent("set_target_base_pct", target_base_pct=requested)

    d = feed.book(100.0)

    assert d is not None and d.state["target_net_base_pct"] == pytest.approx(expected)


def test_when_inventory_rebalance_signal_then_target_changes() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.signal("inventory_rebalance", 0.25)

    d = feed.book(100.0)

    assert d is not None and d.state["target_net_base_pct"] == pytest.approx(0.25)


def test_when_intent_is_for_another_instance_then_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    rec = {
        "event_id": "x", "event_time": feed.t, "instance_id": "someone-else", "market": feed.core.market,
        "producer": "t", "action": "set_target_base_pct", "target_base_pct": 0.3, "regime": None,
        "reason": "", "metadata": {},
    }

    assert feed.core.on_intent(rec) is None
    assert feed.book(100.0) is None  # nothing became dirty


def test_when_long_above_target_then_skew_leans_to_selling() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.fill("BUY", 100.0, 20.0)  # base_pct 0.2, target 0

    d = feed.book(100.0)

    assert d is not None
    assert d.detail.skew < 0
    asks = [q["price"] for q in d.quote["quotes"] if q["side"] == "SELL"]
    bids = [q["price"] for q in d.quote["quotes"] if q["side"] == "BUY"]
    assert min(asks) - 100.0 < 100.0 - max(bids)


def test_when_inventory_error_is_large_then_skew_is_capped() -> None:
    cfg = make_config(inventory_skew_cap_pct=0.002)

    assert inventory_skew(0.5, -0.5, "neutral_low_vol", 0.0, cfg) == pytest.approx(0.002)
    assert inventory_skew(-0.5, 0.5, "up", 0.0, cfg) == pytest.approx(-0.002)
    # below the cap: (0.002 - 0) * 0.5 * (1 + 1 * 0.5), the band being half the high-vol band
    assert inventory_skew(0.002, 0.0, "neutral_low_vol", 0.004, cfg) == pytest.approx(0.0015)


def test_when_spot_then_sells_never_exceed_the_position_held() -> None:
    feed = Feed(is_perp=False)
    first = feed.book(100.0)
    assert first is not None and sides(first) == {"BUY"}  # nothing held: nothing to sell

    feed.fill("BUY", 100.0, 0.15)
    d = feed.book(100.0)

    assert d is not None
    assert sum(q["size"] for q in d.quote["quotes"] if q["side"] == "SELL") <= 0.15
