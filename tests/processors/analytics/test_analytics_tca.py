"""TCA of hand-built fills whose shortfall, impact, markout and adverse flags are known."""

from __future__ import annotations

from datetime import datetime

import pytest

from processors.analytics.tca import (
    DEFAULT_COST_FLOOR_BPS,
    FillInput,
    breakdown,
    fill_tca,
    headline,
    spread_bucket,
    spread_bucket_labels,
)

T = datetime(2031, 5, 4, 14, 30, 0)


def _fill(event_id: str = "f", side: str = "BUY", price: float = 99.9, size: float = 2.0, fee: float = 0.04,
          mid: float = 100.0, mid_at_order: float | None = 100.05, mid_after: float | None = 99.8,
          regime: str = "up", min_edge: float | None = 0.0005, t: datetime = T) -> FillInput:
    return FillInput(event_id=event_id, event_time=t, instance_id="bot1", market="x:BTC/USDT", side=side, price=price,
                     size=size, fee_quote=fee, mid_at_fill=mid, mid_at_order=mid_at_order, mid_after=mid_after,
                     regime=regime, min_edge_threshold=min_edge)


def test_when_a_buy_fills_below_mid_and_the_market_then_falls_then_each_tca_figure_has_its_known_value() -> None:
    # Act
    r = fill_tca(_fill())

    # Assert: signed from our side, bps of the mid at the fill
    assert r.pnl_vs_mid_pct == pytest.approx(0.001)
    assert r.implementation_shortfall_bps == pytest.approx((99.9 - 100.05) / 100.05 * 1e4)  # negative: a gain
    assert r.market_impact_bps == pytest.approx(20.0)  # mid fell 20 bps after we bought: against us
    assert r.markout_bps == pytest.approx(-10.0)
    assert r.markout_bps == pytest.approx(r.pnl_vs_mid_bps - r.market_impact_bps)
    assert r.cost_floor_bps == pytest.approx(5.0)
    assert r.adverse_at_fill is False and r.adverse_60s is True
    assert r.spread_capture_quote == pytest.approx(0.2) and r.markout_quote == pytest.approx(-0.2)
    assert r.fee_bps == pytest.approx(0.04 / 199.8 * 1e4)
    assert r.spread_bucket == "10-20" and r.hour == 14


def test_when_a_sell_is_followed_by_a_small_rise_then_impact_is_a_cost_but_the_fill_is_not_adverse() -> None:
    # Act: no order mid, no state floor
    r = fill_tca(_fill(side="SELL", price=100.2, size=1.0, mid_at_order=None, mid_after=100.1, min_edge=None))

    # Assert
    assert r.pnl_vs_mid_pct == pytest.approx(0.002)
    assert r.implementation_shortfall_bps is None
    assert r.quoted_spread_bps == pytest.approx(20.0) and r.spread_bucket == "20-50"
    assert r.market_impact_bps == pytest.approx(10.0)
    assert r.markout_bps == pytest.approx(10.0)
    assert r.cost_floor_bps == DEFAULT_COST_FLOOR_BPS
    assert r.adverse_60s is False


def test_when_a_fill_crosses_the_mid_then_it_is_adverse_at_fill_and_without_horizon_its_60s_flag_is_unknown() -> None:
    r = fill_tca(_fill(side="SELL", price=99.95, size=1.0, mid_after=None))
    assert r.pnl_vs_mid_pct == pytest.approx(-0.0005)
    assert r.adverse_at_fill is True
    assert r.adverse_60s is None and r.markout_bps is None and r.market_impact_bps is None


def test_when_fills_are_grouped_then_bps_means_are_notional_weighted_and_rates_are_fractions_of_fills() -> None:
    # Arrange: two BUYs in 'up' (markouts -10 and +10 bps, notionals ~200 and ~100), one SELL in 'down'
    fills = [fill_tca(_fill("a", size=2.0, mid_after=99.8)),
             fill_tca(_fill("b", size=1.0, mid_after=100.0, price=99.9)),
             fill_tca(_fill("c", side="SELL", price=100.2, size=1.0, mid_after=100.1, regime="down"))]

    # Act
    by_side = {b.key: b for b in breakdown(fills, "side")}
    by_regime = {b.key: b for b in breakdown(fills, "regime")}

    # Assert: 'b' marks out at (100 - 99.9)/100 = +10 bps
    buy = by_side["BUY"]
    assert buy.fills == 2
    assert buy.mean_markout_bps == pytest.approx((-10 * 199.8 + 10 * 99.9) / (199.8 + 99.9))
    assert buy.adverse_60s_rate == pytest.approx(0.5)
    assert by_regime["down"].adverse_60s_rate == 0.0
    assert [b.key for b in breakdown(fills, "regime")] == ["up", "down"]  # regime order, not alphabetical


def test_when_one_regime_is_mostly_adverse_then_the_headline_names_it_and_its_hour() -> None:
    # Arrange: 'high_vol_shock' at 03:00 loses on 4 of 5 fills, 'up' at 14:00 on 1 of 5
    fills = []
    for i in range(5):
        fills.append(fill_tca(_fill(f"s{i}", regime="high_vol_shock", t=T.replace(hour=3), mid_after=99.8 if i < 4 else 100.1)))
        fills.append(fill_tca(_fill(f"u{i}", regime="up", mid_after=99.8 if i == 0 else 100.1)))

    # Act
    h = headline(fills)

    # Assert
    assert h.fills == 10 and h.adverse_60s_rate == pytest.approx(0.5)
    assert h.worst_regime == "high_vol_shock" and h.worst_regime_adverse_60s_rate == pytest.approx(0.8)
    assert h.worst_hour == "03" and h.worst_hour_adverse_60s_rate == pytest.approx(0.8)


def test_when_spreads_are_bucketed_then_edges_fall_into_the_upper_bucket() -> None:
    assert [spread_bucket(x) for x in (0.0, 1.99, 2.0, 9.99, 10.0, 49.9, 50.0, 500.0)] == \
        ["<2", "<2", "2-5", "5-10", "10-20", "20-50", ">=50", ">=50"]
    assert spread_bucket_labels() == ["<2", "2-5", "5-10", "10-20", "20-50", ">=50"]


def test_when_a_fill_has_a_bad_side_or_price_then_it_is_refused_with_its_id() -> None:
    with pytest.raises(ValueError, match="f1"):
        fill_tca(_fill("f1", side="HOLD"))
    with pytest.raises(ValueError, match="f2"):
        fill_tca(_fill("f2", mid=0.0))
