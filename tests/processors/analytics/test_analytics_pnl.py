"""Daily and multi-day summaries (ROAD-1) on hand-made inputs with known answers."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from processors.analytics.pnl import DayInputs, RegimeFills, day_summary, dominant, multi_day_summary

D = date(2031, 3, 1)


def _day(i: int, start: float, curve: list[float], spread: float = 10.0, fees: float = 2.0, hard: bool = False,
         regimes: dict[str, int] | None = None) -> DayInputs:
    return DayInputs(day=D + timedelta(days=i), equity_start=start, equity_curve=curve, realized_pnl=5.0, fees=fees,
                     fills=10, turnover=20_000.0, regime_minutes=regimes or {"up": 900, "down": 540},
                     spread_capture=spread, funding=-0.5, daily_loss_hard_stop=hard)


def test_when_a_day_ends_above_its_start_then_net_bps_drawdown_turnover_and_decomposition_follow() -> None:
    # Arrange: 10,000 -> 10,050 peak -> 9,990 trough -> 10,020 close
    d = _day(0, 10_000.0, [10_010.0, 10_050.0, 9_990.0, 10_020.0])

    # Act
    s = day_summary(d)

    # Assert
    assert s.net_pnl_usdt == pytest.approx(20.0)
    assert s.net_pnl_bps == pytest.approx(20.0)  # 20 / 10,000 in bps
    assert s.drawdown_pct == pytest.approx(60 / 10_050)
    assert s.turnover_x == pytest.approx(2.0)
    assert s.inventory_carry_usdt == pytest.approx(20.0 - 10.0 + 2.0)  # net = spread + carry - fees
    assert s.net_pnl_with_funding_usdt == pytest.approx(19.5)
    assert s.dominant_regime == "up" and s.regime_counts == {"down": 540, "up": 900}
    assert s.worst_intraday_return_pct == pytest.approx(-0.001)
    assert s.daily_loss_hard_hit is False


def test_when_intraday_equity_falls_3_pct_below_the_start_then_the_day_counts_as_a_hard_loss_day() -> None:
    s = day_summary(_day(0, 10_000.0, [9_800.0, 9_700.0, 9_900.0]))
    assert s.daily_loss_hard_hit is True and s.drawdown_pct == pytest.approx(0.03)


def test_when_the_day_has_no_equity_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="no equity"):
        day_summary(_day(0, 10_000.0, []))


def test_when_counts_tie_then_the_dominant_regime_is_the_first_alphabetically() -> None:
    assert dominant({"up": 5, "down": 5, "neutral_low_vol": 1}) == "down"
    assert dominant({}) is None


def _road1_days(n: int, returns_bps: list[float], **kw: float) -> list:
    days = []
    equity = 10_000.0
    for i in range(n):
        r = returns_bps[i % len(returns_bps)] / 1e4
        end = equity * (1 + r)
        days.append(day_summary(_day(i, equity, [end], **kw)))
        equity = end
    return days


def test_when_20_steady_winning_days_then_every_road1_criterion_passes_with_the_spec_sharpe() -> None:
    # Arrange: daily returns alternating 10 and 30 bps; spread capture dwarfs carry
    days = _road1_days(20, [10.0, 30.0], spread=500.0, fees=1.0)
    start, end = D, D + timedelta(days=19)

    # Act
    m = multi_day_summary(start, end, days, {"up": RegimeFills(100, 400.0, 0.3)})

    # Assert
    bps = [d.net_pnl_bps for d in days]
    mean = sum(bps) / 20
    std = math.sqrt(sum((b - mean) ** 2 for b in bps) / 19)
    assert m.days_with_data == 20 and m.missing_days == []
    assert m.mean_daily_net_pnl_bps == pytest.approx(mean)
    assert m.sharpe_spec_252 == pytest.approx(mean / std * math.sqrt(252))
    assert m.sharpe_annualised == pytest.approx(mean / std * math.sqrt(365))
    assert m.win_rate == 1.0 and m.max_drawdown_pct == 0.0
    assert {c.name: c.passed for c in m.criteria} == {
        "days_observed": True, "mean_daily_net_pnl_bps": True, "sharpe": True, "max_single_day_drawdown": True,
        "daily_loss_hard_days": True, "spread_capture_dominant": True}
    assert m.passed is True
    up = next(r for r in m.regimes if r.regime == "up")
    assert up.minutes == 900 * 20 and up.days_dominant == 20 and up.fills == 100 and up.adverse_60s_rate == 0.3


def test_when_days_are_few_lossy_and_carried_by_inventory_then_the_failing_criteria_are_named() -> None:
    # Arrange: 5 days, -40 / +10 bps, one hard-stop day, tiny spread capture
    days = _road1_days(5, [-40.0, 10.0], spread=1.0, fees=0.0)
    days[2] = day_summary(_day(2, days[2].equity_start_usdt, [days[2].equity_end_usdt], spread=1.0, fees=0.0, hard=True))

    # Act: a 7-day window, two days missing
    m = multi_day_summary(D, D + timedelta(days=6), days)

    # Assert
    failed = {c.name for c in m.criteria if not c.passed}
    assert failed == {"days_observed", "mean_daily_net_pnl_bps", "sharpe", "daily_loss_hard_days", "spread_capture_dominant"}
    assert m.passed is False
    assert m.missing_days == [(D + timedelta(days=5)).isoformat(), (D + timedelta(days=6)).isoformat()]
    assert m.win_rate == pytest.approx(2 / 5)
    # Compounded daily returns never regain the start: the trough is the last day's close
    assert m.max_drawdown_pct == pytest.approx(1 - 0.996 * 1.001 * 0.996 * 1.001 * 0.996)
