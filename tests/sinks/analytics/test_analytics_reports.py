"""Day and range reports and TCA computed by the real ClickHouse engine (chDB) on a known desk history."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from processors.analytics.performance import max_drawdown
from sinks.clickhouse.analytics import NoData, build_day_report, build_range_report, tca_report
from sinks.clickhouse.reader import ClientReader
from tests.sinks.analytics.desk_dataset import (
    MIN_EDGE,
    REGIME_BY_HOUR,
    Dataset,
    insert_records,
    at,
    desk,  # noqa: F401  (fixture)
    mid_at,
    on_day,
    us,
)
from tests.samples import sample

pytestmark = pytest.mark.clickhouse


def _expected_curve(ds: Dataset, day: date, instances: list[str]) -> tuple[float, list[float]]:
    """Start-of-day equity and the per-minute total equity, computed straight from the states."""
    per: dict[str, dict[int, float]] = {i: {} for i in instances}
    for s in ds.states:
        if s["instance_id"] in per:
            per[s["instance_id"]][s["event_time"] // 60_000_000] = s["equity_quote"]  # later states overwrite
    day_start = us(datetime.combine(day, datetime.min.time())) // 60_000_000
    last = {}
    for i in instances:
        before = [m for m in per[i] if m < day_start]
        last[i] = per[i][max(before)] if before else per[i][min(per[i])]
    start = sum(last.values())
    curve = []
    for m in sorted({m for i in instances for m in per[i] if day_start <= m < day_start + 1440}):
        for i in instances:
            if m in per[i]:
                last[i] = per[i][m]
        curve.append(sum(last.values()))
    return start, curve


def _side(f: dict[str, Any]) -> float:
    return 1.0 if f["side"] == "BUY" else -1.0


def test_when_a_day_of_two_instances_is_reported_then_every_summary_figure_matches_the_records(clickhouse: Any, desk: Dataset) -> None:
    # Arrange
    instances = list(desk.instances)
    fills = on_day(desk.fills, desk.day1)
    start, curve = _expected_curve(desk, desk.day1, instances)
    last_state = {i: max(on_day(desk.states, desk.day1, i), key=lambda s: s["event_time"]) for i in instances}

    # Act
    r = build_day_report(clickhouse, desk.day1)
    s = r.summary

    # Assert
    assert r.instances == sorted(instances) and s.date == desk.day1.isoformat()
    assert s.fills == len(fills) > 300
    assert s.fees_usdt == pytest.approx(sum(f["fee_quote"] for f in fills))
    assert s.turnover_usdt == pytest.approx(sum(f["price"] * f["size"] for f in fills))
    assert s.realized_pnl_usdt == pytest.approx(sum(last_state[i]["realized_pnl_quote"] for i in instances))
    assert s.equity_start_usdt == pytest.approx(start) and start == pytest.approx(20_000.0)
    assert s.net_pnl_usdt == pytest.approx(curve[-1] - start)
    assert s.net_pnl_bps == pytest.approx((curve[-1] - start) / start * 1e4)
    assert s.drawdown_pct == pytest.approx(max_drawdown([start, *curve]))
    assert s.turnover_x == pytest.approx(s.turnover_usdt / start)
    # 30 s states: every hour is 60 minutes per instance; the schedule gives 8 h of neutral_low_vol
    assert s.regime_counts == {"down": 480, "high_vol_shock": 480, "neutral_high_vol": 480, "neutral_low_vol": 960, "up": 480}
    assert s.dominant_regime == "neutral_low_vol"
    assert s.spread_capture_usdt == pytest.approx(sum(_side(f) * (f["mid_at_fill"] - f["price"]) * f["size"] for f in fills))
    assert s.net_pnl_usdt == pytest.approx(s.spread_capture_usdt + s.inventory_carry_usdt - s.fees_usdt)
    assert s.daily_loss_hard_hit is False


def test_when_settlements_happen_then_funding_is_the_position_held_times_mark_times_rate(clickhouse: Any, desk: Dataset) -> None:
    # Arrange: settlements at 08:00:05 and 16:00:05 of day 1 on both markets; longs pay +1 bp
    expected = 0.0
    for f in on_day(desk.funding, desk.day1):
        if not f["is_settlement"]:
            continue
        for inst, market in desk.instances.items():
            if market == f["market"]:
                held = max((s for s in desk.states if s["instance_id"] == inst and s["event_time"] <= f["event_time"]),
                           key=lambda s: s["event_time"])
                expected -= held["position_base"] * f["mark_price"] * f["funding_rate"]

    # Act
    s = build_day_report(clickhouse, desk.day1).summary

    # Assert
    assert expected != 0.0
    assert s.funding_usdt == pytest.approx(expected)
    assert s.net_pnl_with_funding_usdt == pytest.approx(s.net_pnl_usdt + expected)


def test_when_one_instance_is_reported_on_its_hard_stop_day_then_it_starts_from_yesterdays_close(clickhouse: Any, desk: Dataset) -> None:
    # Arrange
    inst = next(iter(desk.instances))
    start, curve = _expected_curve(desk, desk.day2, [inst])

    # Act
    r = build_day_report(ClientReader(clickhouse), desk.day2, instance=inst)

    # Assert
    assert r.instances == [inst]
    assert r.summary.equity_start_usdt == pytest.approx(start) and start != pytest.approx(10_000.0)
    assert r.summary.net_pnl_usdt == pytest.approx(curve[-1] - start)
    assert r.summary.fills == len(on_day(desk.fills, desk.day2, inst))
    assert r.summary.daily_loss_hard_hit is True  # the guard's daily_loss_hard_limit HARD_STOP on day 2


def test_when_two_days_are_summarized_then_the_statistics_and_road1_criteria_come_from_the_daily_rows(clickhouse: Any, desk: Dataset) -> None:
    # Act
    r = build_range_report(clickhouse, desk.day1, desk.day2)
    m = r.summary

    # Assert
    day1 = build_day_report(clickhouse, desk.day1).summary
    assert m.days_with_data == 2 and [d.date for d in m.daily] == [desk.day1.isoformat(), desk.day2.isoformat()]
    assert m.daily[0] == day1
    assert m.mean_daily_net_pnl_bps == pytest.approx((m.daily[0].net_pnl_bps + m.daily[1].net_pnl_bps) / 2)
    assert m.total_fills == len(desk.fills)
    assert sum(row.fills for row in m.regimes) == len(desk.fills)
    criteria = {c.name: c for c in m.criteria}
    assert criteria["days_observed"].passed is False and criteria["days_observed"].value == 2
    assert criteria["daily_loss_hard_days"].value == 1 and m.passed is False
    assert m.max_drawdown_pct >= max(d.drawdown_pct for d in m.daily) - 1e-12


def test_when_tca_runs_on_the_desk_then_each_fill_gets_the_mid_60s_later_and_the_regime_in_force(clickhouse: Any, desk: Dataset) -> None:
    # Arrange
    index = {inst: k for k, inst in enumerate(desk.instances)}
    by_id = {f["event_id"]: f for f in desk.fills}

    # Act
    report = tca_report(clickhouse, desk.day1, desk.day2)

    # Assert: books every 10 s, so the book at fill + 60 s is exact
    assert len(report.fills) == len(desk.fills)
    for r in report.fills:
        f = by_id[r.event_id]
        t = at(f["event_time"])
        m60 = mid_at(index[f["instance_id"]], t + timedelta(seconds=60))
        s = _side(f)
        assert r.market_impact_bps == pytest.approx(s * (f["mid_at_fill"] - m60) / f["mid_at_fill"] * 1e4)
        assert r.markout_bps == pytest.approx(s * (m60 - f["price"]) / f["mid_at_fill"] * 1e4)
        assert r.implementation_shortfall_bps == pytest.approx(s * (f["price"] - f["mid_at_order"]) / f["mid_at_order"] * 1e4)
        state_t = t - timedelta(seconds=t.second % 30)
        assert r.regime == REGIME_BY_HOUR[state_t.hour]
        assert r.cost_floor_bps == pytest.approx(MIN_EDGE * 1e4)
    # The shock hours carry the adverse selection
    h = report.headline
    assert h.worst_regime == "high_vol_shock" and h.worst_hour in ("20", "21", "22", "23")
    assert h.worst_regime_adverse_60s_rate > 0.2
    calm = {b.key: b for b in report.breakdowns["regime"]}["neutral_low_vol"]
    assert calm.adverse_60s_rate == 0.0


def test_when_hand_built_fills_are_joined_in_clickhouse_then_tca_has_the_known_answers(clickhouse: Any, unique: str) -> None:
    # Arrange: one instance and market of its own on a day of its own
    inst, market = f"tca-{unique}", f"test:{unique}/USDT"
    t0 = datetime(2029, 4, 3, 9, 0, 0) + timedelta(minutes=int(unique[:4], 16) % 600)
    state = sample("strategy_state", 3, {"event_id": f"st-{unique}", "event_time": us(t0 - timedelta(seconds=5)),
                                         "instance_id": inst, "market": market, "regime": "down",
                                         "min_edge_threshold": 0.0005, "equity_quote": 1000.0})
    books = [sample("market_book", 4, {"event_id": f"b-{unique}-{i}", "event_time": us(t0 + timedelta(seconds=s)),
                                       "market": market, "mid": mid})
             for i, (s, mid) in enumerate([(0, 100.0), (30, 99.9), (59, 99.8), (62, 99.0), (200, 99.0)])]
    buy = sample("fill", 5, {"event_id": f"f1-{unique}", "event_time": us(t0 + timedelta(seconds=1)), "instance_id": inst,
                             "market": market, "side": "BUY", "price": 99.9, "size": 2.0, "fee_quote": 0.04,
                             "mid_at_fill": 100.0, "mid_at_order": 100.05, "regime": "up"})
    late = sample("fill", 6, {"event_id": f"f2-{unique}", "event_time": us(t0 + timedelta(seconds=180)), "instance_id": inst,
                              "market": market, "side": "SELL", "price": 99.2, "size": 1.0, "fee_quote": 0.0,
                              "mid_at_fill": 99.0, "mid_at_order": None, "regime": "up"})
    insert_records(clickhouse, "strategy_state", [state])
    insert_records(clickhouse, "market_book", books)
    insert_records(clickhouse, "fill", [buy, late, buy])  # the BUY delivered twice: one row after dedup

    # Act
    report = tca_report(clickhouse, t0 - timedelta(minutes=1), t0 + timedelta(minutes=10), instance=inst)

    # Assert
    assert [f.event_id for f in report.fills] == [f"f1-{unique}", f"f2-{unique}"]
    f1, f2 = report.fills
    assert f1.regime == "down"  # the state in force at the fill, not the fill's own label
    assert f1.market_impact_bps == pytest.approx(20.0)  # fill at +1 s: the last book <= +61 s is the 99.8 at +59 s
    assert f1.markout_bps == pytest.approx(-10.0) and f1.adverse_60s is True and f1.cost_floor_bps == pytest.approx(5.0)
    assert f1.implementation_shortfall_bps == pytest.approx((99.9 - 100.05) / 100.05 * 1e4)
    # The feed ends 20 s after the SELL: its 60 s outcome is unknown, not zero
    assert f2.markout_bps is None and f2.adverse_60s is None
    assert f2.pnl_vs_mid_pct == pytest.approx(0.2 / 99.0)
    assert report.headline.fills == 2 and report.headline.adverse_60s_rate == 1.0


def test_when_a_day_has_no_data_then_the_error_names_the_days_that_do(clickhouse: Any, desk: Dataset) -> None:
    inst = next(iter(desk.instances))
    with pytest.raises(NoData) as err:
        build_day_report(clickhouse, desk.day2 + timedelta(days=1), instance=inst)
    msg = str(err.value)
    assert desk.day1.isoformat() in msg and desk.day2.isoformat() in msg and "hbot demo" in msg
    with pytest.raises(NoData, match="no fills"):
        tca_report(clickhouse, desk.day2 + timedelta(days=3), desk.day2 + timedelta(days=3), instance=inst)


def test_when_the_report_is_serialized_then_json_keeps_the_summary_numbers(clickhouse: Any, desk: Dataset) -> None:
    import json

    r = build_day_report(clickhouse, desk.day1)
    data = json.loads(r.to_json())
    for k, v in r.summary.to_dict().items():
        assert data["summary"][k] == (pytest.approx(v) if isinstance(v, float) else v)
    assert data["tca"]["headline"]["fills"] == r.summary.fills
    assert len(data["equity"]["minutes"]) == len(data["equity"]["equity"]) == 1440
    assert {s["instance_id"] for s in data["series"]} == set(desk.instances)
    counts = defaultdict(int)
    for s in data["series"]:
        for reg in s["regime"]:
            counts[reg] += 1
    assert dict(counts) == r.summary.regime_counts
