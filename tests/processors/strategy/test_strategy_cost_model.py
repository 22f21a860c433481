"""Cost floor, funding and the per-side edge gate [P1-1]."""

from __future__ import annotations

import dataclasses

import pytest

from processors.strategy import PHASE0_SPECS, EppV24Core
from processors.strategy.core import EDGE_GATE_BLOCKED
from processors.strategy.cost_model import funding_cost_bps, min_edge_threshold
from tests.processors.strategy.strategy_testkit import INSTANCE, MARKET, Feed, make_config, sides


def _threshold_after(funding_rate: float, position_side: str | None, **config: object) -> dict:
    feed = Feed(**config)
    feed.book(100.0)
    if position_side is not None:
        feed.fill(position_side, 100.0, 10.0)  # 1 000 quote of 10 000 equity: well inside the band
    feed.funding(funding_rate)
    d = feed.book(100.0)
    assert d is not None
    return d.state


def test_when_short_and_funding_1bp_then_min_edge_threshold_rises_by_exactly_1bp() -> None:
    with_funding = _threshold_after(0.0001, "SELL")
    without = _threshold_after(0.0, "SELL")

    assert with_funding["base_pct"] < 0
    assert with_funding["min_edge_threshold"] - without["min_edge_threshold"] == pytest.approx(0.0001, abs=1e-15)
    assert with_funding["funding_rate_bps"] == pytest.approx(1.0)


def test_when_long_and_funding_positive_then_no_extra_cost() -> None:
    with_funding = _threshold_after(0.0001, "BUY")
    without = _threshold_after(0.0, "BUY")

    assert with_funding["min_edge_threshold"] == without["min_edge_threshold"]


def test_when_spot_then_funding_never_enters_the_floor() -> None:
    with_funding = _threshold_after(0.0001, "SELL", is_perp=False)
    without = _threshold_after(0.0, "SELL", is_perp=False)

    assert with_funding["min_edge_threshold"] == without["min_edge_threshold"]


def test_when_funding_observation_is_older_than_max_age_then_ignored() -> None:
    feed = Feed(funding_max_age_s=3600.0)
    feed.book(100.0)
    feed.fill("SELL", 100.0, 10.0)
    feed.funding(0.0001)
    fresh = feed.book(100.0)
    for _ in range(4):
        feed.book(100.0, dt=1000.0)
    feed.fill("SELL", 100.0, 0.1)  # forces a decision
    old = feed.book(100.0)

    assert fresh is not None and old is not None
    assert fresh.state["funding_rate_bps"] == pytest.approx(1.0)
    assert old.state["funding_rate_bps"] == 0.0
    assert fresh.state["min_edge_threshold"] - old.state["min_edge_threshold"] == pytest.approx(0.0001, abs=1e-15)


@pytest.mark.parametrize(
    ("rate", "base_pct", "perp", "expected_bps"),
    [
        (0.0001, -0.2, True, 1.0),  # short pays a positive rate
        (0.0001, 0.2, True, 0.0),  # long: rebate capped at 0
        (0.0001, 0.0, True, 0.0),  # flat counts as long (spec: sign = -1 only when base_pct < 0)
        (-0.0002, 0.2, True, 2.0),  # mirrored: long pays a negative rate
        (-0.0002, -0.2, True, 0.0),
        (0.0001, -0.2, False, 0.0),  # spot: no funding
    ],
)
def test_when_funding_sign_and_position_vary_then_cost_is_sign_aware(
    rate: float, base_pct: float, perp: bool, expected_bps: float
) -> None:
    assert funding_cost_bps(rate, base_pct, perp) == pytest.approx(expected_bps)


def test_when_flat_market_then_threshold_is_fee_plus_slippage_plus_min_net_edge() -> None:
    feed = Feed()

    d = feed.book(100.0)

    assert d is not None
    assert d.state["min_edge_threshold"] == pytest.approx((2.0 + 1.0 + 2.0) / 10_000)  # spec defaults
    assert d.detail.cost_floor_bps == pytest.approx(3.0)


def _drift_decision(**config: object):
    feed = Feed(**config)
    feed.book(100.0, dt=0.0)
    feed.book(100.0, dt=10.0)
    feed.book(100.0, dt=10.0)
    d = feed.book(100.2, dt=10.0)  # the sample 30 s after the first: +20 bps
    assert d is not None
    return d


def test_when_mid_drifted_over_30s_then_smoothed_drift_joins_the_floor() -> None:
    d = _drift_decision()

    assert d.detail.drift_30s == pytest.approx(0.002)
    # EWMA per 10 s sample with alpha 0.2 over raw drifts 0, 0, 0, 20 bps
    assert d.detail.drift_smooth == pytest.approx(0.2 * 0.002)
    assert d.detail.cost_floor_bps == pytest.approx(3.0 + 0.2 * 20.0)
    assert d.state["min_edge_threshold"] == pytest.approx(min_edge_threshold(3.0 + 4.0, 2.0))


def test_when_smoothing_is_off_then_raw_drift_joins_the_floor() -> None:
    d = _drift_decision(drift_smoothing_alpha=1.0)

    assert d.detail.cost_floor_bps == pytest.approx(3.0 + 20.0)


def _core_with_neutral_spec(**spec_changes: object) -> Feed:
    specs = dict(PHASE0_SPECS)
    specs["neutral_low_vol"] = dataclasses.replace(PHASE0_SPECS["neutral_low_vol"], **spec_changes)
    return Feed(EppV24Core(make_config(), INSTANCE, MARKET, specs=specs))


def test_when_no_level_clears_the_threshold_then_nothing_is_quoted() -> None:
    # one level at full spread 10 bps: expected edge 0.45 * 10 = 4.5 bps < 3 + 2 = 5 bps
    feed = _core_with_neutral_spec(spread_min=0.0010, spread_max=0.0010, levels_min=1, levels_max=1)

    d = feed.book(100.0)

    assert d is not None
    assert d.quote["quotes"] == []
    assert d.state["net_edge"] < d.state["min_edge_threshold"]
    assert EDGE_GATE_BLOCKED in d.state["risk_reasons"]
    assert d.quote["derisk_only"] is False


def test_when_only_outer_levels_clear_then_only_they_are_quoted() -> None:
    # half spread 5 bps, level step 2 bps: distances 5, 7, 9, 11 bps -> edges 4.5, 6.3, 8.1, 9.9 bps vs 5
    feed = _core_with_neutral_spec(spread_min=0.0010, spread_max=0.0010)

    d = feed.book(100.0)

    assert d is not None
    for side in ("BUY", "SELL"):
        prices = sorted(q["price"] for q in d.quote["quotes"] if q["side"] == side)
        assert len(prices) == 3
    assert min(abs(q["price"] - 100.0) for q in d.quote["quotes"]) == pytest.approx(0.07)


def test_when_imbalance_widens_one_side_then_only_that_side_clears_the_threshold() -> None:
    # strong bids (imbalance 0.6): the ask moves out by 6 bps, the bid in; only the ask clears 5 bps
    feed = _core_with_neutral_spec(spread_min=0.0010, spread_max=0.0010, levels_min=1, levels_max=1)

    d = feed.book(100.0, bid_sizes=(4.0,) * 5, ask_sizes=(1.0,) * 5)

    assert d is not None
    assert d.state["ob_imbalance"] == pytest.approx(0.6)
    assert sides(d) == {"SELL"}
    assert d.detail.sell_edges[0] >= d.state["min_edge_threshold"] > d.detail.buy_edges[0]
