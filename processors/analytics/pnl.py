"""Daily and multi-day PnL summaries (ROAD-1), with the PnL decomposition and the pass criteria.

Definitions (the reports repeat them):

- **Net PnL** of a day is the change of mark-to-market equity over the day
  (``equity_end - equity_start``; start = the last equity before 00:00 UTC, or the day's first
  one). It equals ``realized - fees + change of unrealized``: a day that ends holding a losing
  position shows it.
- **net_pnl_bps** is net PnL in basis points **of start-of-day equity** (not of turnover): it is
  the day's return, the number the daily loss limit (3 % of equity) and the Sharpe ratio are
  about. ``turnover_x`` = traded notional / start-of-day equity.
- **drawdown_pct** is the largest fall of intraday equity from its running peak (peak starts at
  the start-of-day equity), as a fraction (0.02 = 2 %).
- **Decomposition**: ``net = spread_capture + inventory_carry - fees``. Spread capture is the edge
  of every fill against the mid at the fill (``s * (mid - price) * size``); fees are what the fills
  paid; inventory carry is the rest, i.e. the mark-to-market of the inventory held while the mid
  moved. Funding is not booked in the strategy's equity (perp funding settles on the exchange), so
  it is estimated separately from settlements and the position held at them, and shown next to
  ``net`` as ``net_pnl_with_funding``.
- **regime_counts** are minutes per regime (the regime in force at the end of each minute with a
  strategy state), the old ``minute.csv`` row count per regime.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Mapping, Sequence

from processors.analytics.performance import (
    CRYPTO_PERIODS_PER_YEAR,
    EQUITY_PERIODS_PER_YEAR,
    equity_from_returns,
    max_drawdown,
    mean,
    sample_std,
    sharpe_ratio,
    win_rate,
)

BPS = 10_000.0
MAX_DAILY_LOSS_PCT_HARD = 0.03  # spec: max_daily_loss_pct_hard (3 %)

# ROAD-1 pass criteria, as the spec states them.
ROAD1_MIN_DAYS = 20
ROAD1_MIN_SHARPE = 1.5
ROAD1_MAX_SINGLE_DAY_DRAWDOWN = 0.02


@dataclass(frozen=True)
class DayInputs:
    """Everything one day's summary is computed from (already aggregated over instances)."""

    day: date
    equity_start: float | None
    equity_curve: Sequence[float]
    realized_pnl: float
    fees: float
    fills: int
    turnover: float
    regime_minutes: Mapping[str, int]
    spread_capture: float
    funding: float = 0.0
    daily_loss_hard_stop: bool = False


@dataclass(frozen=True)
class DaySummary:
    """One row of the ROAD-1 tracking table, plus what explains it."""

    date: str
    realized_pnl_usdt: float
    fees_usdt: float
    net_pnl_usdt: float
    net_pnl_bps: float
    drawdown_pct: float
    fills: int
    turnover_x: float
    dominant_regime: str | None
    regime_counts: dict[str, int]
    turnover_usdt: float
    equity_start_usdt: float
    equity_end_usdt: float
    worst_intraday_return_pct: float
    daily_loss_hard_hit: bool
    spread_capture_usdt: float
    inventory_carry_usdt: float
    funding_usdt: float
    net_pnl_with_funding_usdt: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def dominant(counts: Mapping[str, int]) -> str | None:
    """The key with the largest count (ties: first in alphabetical order); ``None`` if empty."""
    if not counts:
        return None
    return max(sorted(counts), key=lambda k: counts[k])


def day_summary(d: DayInputs, max_daily_loss_pct_hard: float = MAX_DAILY_LOSS_PCT_HARD) -> DaySummary:
    """The day's summary from its inputs; raises ``ValueError`` without any equity point."""
    if not d.equity_curve:
        raise ValueError(f"{d.day}: no equity observations")
    start = d.equity_start if d.equity_start is not None else d.equity_curve[0]
    end = d.equity_curve[-1]
    net = end - start
    worst = (min(d.equity_curve) / start - 1.0) if start > 0 else 0.0
    carry = net - d.spread_capture + d.fees
    return DaySummary(
        date=d.day.isoformat(),
        realized_pnl_usdt=d.realized_pnl, fees_usdt=d.fees, net_pnl_usdt=net,
        net_pnl_bps=net / start * BPS if start > 0 else 0.0,
        drawdown_pct=max_drawdown([start, *d.equity_curve]),
        fills=d.fills, turnover_x=d.turnover / start if start > 0 else 0.0,
        dominant_regime=dominant(d.regime_minutes), regime_counts=dict(sorted(d.regime_minutes.items())),
        turnover_usdt=d.turnover, equity_start_usdt=start, equity_end_usdt=end,
        worst_intraday_return_pct=worst,
        daily_loss_hard_hit=d.daily_loss_hard_stop or worst <= -max_daily_loss_pct_hard,
        spread_capture_usdt=d.spread_capture, inventory_carry_usdt=carry, funding_usdt=d.funding,
        net_pnl_with_funding_usdt=net + d.funding,
    )


@dataclass(frozen=True)
class Criterion:
    """One pass/fail criterion: what was measured against what threshold."""

    name: str
    rule: str
    value: float | None
    threshold: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class Decomposition:
    """Where the PnL came from, in quote currency."""

    spread_capture_usdt: float
    inventory_carry_usdt: float
    fees_usdt: float
    funding_usdt: float
    net_pnl_usdt: float
    net_pnl_with_funding_usdt: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class RegimeRow:
    """One regime's share of the range: minutes, days it dominated, fills and their edge."""

    regime: str
    minutes: int
    share: float
    days_dominant: int
    fills: int = 0
    spread_capture_usdt: float = 0.0
    adverse_60s_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class RegimeFills:
    """Fill figures of one regime over the range (from TCA), merged into the regime breakdown."""

    fills: int
    spread_capture_usdt: float
    adverse_60s_rate: float | None


@dataclass(frozen=True)
class MultiDaySummary:
    """ROAD-1's multi-day summary: statistics over the days, regimes, decomposition, criteria."""

    start: str
    end: str
    days_checked: int
    days_with_data: int
    missing_days: list[str]
    mean_daily_net_pnl_bps: float | None
    std_daily_net_pnl_bps: float | None
    sharpe_annualised: float | None
    sharpe_spec_252: float | None
    max_drawdown_pct: float
    max_single_day_drawdown_pct: float
    win_rate: float | None
    total_net_pnl_usdt: float
    total_fees_usdt: float
    total_turnover_usdt: float
    total_fills: int
    decomposition: Decomposition
    regimes: list[RegimeRow]
    criteria: list[Criterion]
    passed: bool
    daily: list[DaySummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def decompose(days: Sequence[DaySummary]) -> Decomposition:
    """Sum of the daily decompositions."""
    return Decomposition(
        spread_capture_usdt=sum((d.spread_capture_usdt for d in days), 0.0),
        inventory_carry_usdt=sum((d.inventory_carry_usdt for d in days), 0.0),
        fees_usdt=sum((d.fees_usdt for d in days), 0.0),
        funding_usdt=sum((d.funding_usdt for d in days), 0.0),
        net_pnl_usdt=sum((d.net_pnl_usdt for d in days), 0.0),
        net_pnl_with_funding_usdt=sum((d.net_pnl_with_funding_usdt for d in days), 0.0),
    )


def regime_breakdown(days: Sequence[DaySummary], fills: Mapping[str, RegimeFills] | None = None) -> list[RegimeRow]:
    """Minutes, share of minutes and days dominated per regime, with fill figures when given."""
    minutes: dict[str, int] = {}
    dominated: dict[str, int] = {}
    for d in days:
        for r, n in d.regime_counts.items():
            minutes[r] = minutes.get(r, 0) + n
        if d.dominant_regime:
            dominated[d.dominant_regime] = dominated.get(d.dominant_regime, 0) + 1
    fills = fills or {}
    total = sum(minutes.values())
    rows = []
    for r in sorted(set(minutes) | set(fills), key=lambda k: (-minutes.get(k, 0), k)):
        f = fills.get(r)
        rows.append(RegimeRow(
            regime=r, minutes=minutes.get(r, 0), share=minutes.get(r, 0) / total if total else 0.0,
            days_dominant=dominated.get(r, 0), fills=f.fills if f else 0,
            spread_capture_usdt=f.spread_capture_usdt if f else 0.0, adverse_60s_rate=f.adverse_60s_rate if f else None,
        ))
    return rows


def road1_criteria(days: Sequence[DaySummary], mean_bps: float | None, sharpe_252: float | None,
                   decomposition: Decomposition) -> list[Criterion]:
    """The ROAD-1 pass criteria, each with its measured value."""
    worst_dd = max((d.drawdown_pct for d in days), default=0.0)
    hard_days = sum(1 for d in days if d.daily_loss_hard_hit)
    spread = decomposition.spread_capture_usdt
    carry = decomposition.inventory_carry_usdt
    return [
        Criterion("days_observed", f"at least {ROAD1_MIN_DAYS} daily observations", float(len(days)),
                  float(ROAD1_MIN_DAYS), len(days) >= ROAD1_MIN_DAYS),
        Criterion("mean_daily_net_pnl_bps", "mean daily net_pnl_bps > 0", mean_bps, 0.0,
                  mean_bps is not None and mean_bps > 0),
        Criterion("sharpe", "annualised Sharpe (mean/std * sqrt(252), as specified) >= 1.5", sharpe_252,
                  ROAD1_MIN_SHARPE, sharpe_252 is not None and sharpe_252 >= ROAD1_MIN_SHARPE),
        Criterion("max_single_day_drawdown", "max single-day drawdown < 2%", worst_dd,
                  ROAD1_MAX_SINGLE_DAY_DRAWDOWN, worst_dd < ROAD1_MAX_SINGLE_DAY_DRAWDOWN),
        Criterion("daily_loss_hard_days", "no day hits max_daily_loss_pct_hard (3%)", float(hard_days), 0.0,
                  hard_days == 0),
        Criterion("spread_capture_dominant",
                  "spread capture is the dominant PnL source: positive and >= |inventory carry|",
                  spread, abs(carry), spread > 0 and spread >= abs(carry)),
    ]


def multi_day_summary(start: date, end: date, days: Sequence[DaySummary],
                      regime_fills: Mapping[str, RegimeFills] | None = None,
                      periods_per_year: float = CRYPTO_PERIODS_PER_YEAR,
                      equity_curve: Sequence[float] | None = None) -> MultiDaySummary:
    """Aggregate daily summaries over ``[start, end]`` (inclusive) into ROAD-1's summary.

    Statistics are over the days that have data; missing days are listed, not counted as zero.
    The range's max drawdown is taken on ``equity_curve`` (e.g. minute equity over the whole
    range) when given, else on the curve compounded from the daily returns.
    """
    days = sorted(days, key=lambda d: d.date)
    wanted = [date.fromordinal(o).isoformat() for o in range(start.toordinal(), end.toordinal() + 1)]
    have = {d.date for d in days}
    bps = [d.net_pnl_bps for d in days]
    m = mean(bps)
    sharpe_252 = sharpe_ratio(bps, EQUITY_PERIODS_PER_YEAR)
    deco = decompose(days)
    criteria = road1_criteria(days, m, sharpe_252, deco)
    return MultiDaySummary(
        start=start.isoformat(), end=end.isoformat(), days_checked=len(wanted), days_with_data=len(days),
        missing_days=[w for w in wanted if w not in have],
        mean_daily_net_pnl_bps=m, std_daily_net_pnl_bps=sample_std(bps),
        sharpe_annualised=sharpe_ratio(bps, periods_per_year), sharpe_spec_252=sharpe_252,
        max_drawdown_pct=max_drawdown(equity_curve) if equity_curve else max_drawdown(equity_from_returns([b / BPS for b in bps])),
        max_single_day_drawdown_pct=max((d.drawdown_pct for d in days), default=0.0),
        win_rate=win_rate([d.net_pnl_usdt for d in days]),
        total_net_pnl_usdt=deco.net_pnl_usdt, total_fees_usdt=deco.fees_usdt,
        total_turnover_usdt=sum((d.turnover_usdt for d in days), 0.0), total_fills=sum(d.fills for d in days),
        decomposition=deco, regimes=regime_breakdown(days, regime_fills), criteria=criteria,
        passed=all(c.passed for c in criteria), daily=list(days),
    )
