"""Daily and multi-day reports from ClickHouse: summary, TCA and the series the plots show.

The queries return per-minute strategy states, fills (with TCA), funding settlements and guard
stops for the whole period at once; days are split in Python, so a 30-day report costs the same
handful of queries as a one-day report. All instances together unless one is named: equity is
summed over instances (each carried forward between its own states), regime counts are
instance-minutes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Sequence

from processors.analytics.performance import drawdown_series
from processors.analytics.pnl import DayInputs, DaySummary, MultiDaySummary, RegimeFills, day_summary, multi_day_summary
from processors.analytics.tca import FillTca
from sinks.clickhouse.analytics import queries as q
from sinks.clickhouse.analytics.tca import NoData, TcaReport, bounds, load_fill_tca, tca_from_fills
from sinks.clickhouse.reader import Reader, as_reader

_Date = date  # build_day_report's parameter is named 'date'
MAX_PLOT_POINTS = 4000
DEFINITIONS = {
    "net_pnl_usdt": "change of mark-to-market equity over the UTC day (realized - fees + change of unrealized)",
    "net_pnl_bps": "net PnL in basis points of start-of-day equity",
    "drawdown_pct": "largest fall of intraday equity from its running peak, as a fraction (0.02 = 2%)",
    "turnover_x": "traded notional / start-of-day equity",
    "regime_counts": "minutes per regime (instance-minutes when several instances are summed)",
    "decomposition": "net = spread_capture + inventory_carry - fees; funding estimated from settlements, not in equity",
    "sharpe_annualised": "mean/std of daily net_pnl_bps * sqrt(365) (crypto trades every day)",
    "sharpe_spec_252": "the same with sqrt(252), as ROAD-1's pass criterion is written",
    "tca": "bps of the mid at the fill, signed from our side; implementation shortfall positive = cost; "
           "market impact positive = mid moved against us within 60 s; adverse_60s = markout < -min_edge_threshold",
}


@dataclass(frozen=True)
class InstanceSeries:
    """Per-minute series of one instance, for the plots."""

    instance_id: str
    market: str
    minutes: list[str]
    base_pct: list[float]
    target_base_pct: list[float]
    position: list[float]
    mid: list[float]
    spread_min_bps: list[float]
    spread_max_bps: list[float]
    min_edge_bps: list[float]
    regime: list[str]


@dataclass(frozen=True)
class EquitySeries:
    """Total equity per minute and its drawdown from the running peak."""

    minutes: list[str]
    equity: list[float]
    drawdown: list[float]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return v


def _series_dict(s: Any) -> dict[str, Any]:
    return {k: getattr(s, k) for k in s.__dataclass_fields__}


@dataclass(frozen=True)
class DayReport:
    """One UTC day: the ROAD-1 summary row, TCA, and the series behind the plots."""

    date: str
    instance: str | None
    instances: list[str]
    markets: list[str]
    summary: DaySummary
    tca: TcaReport | None
    equity: EquitySeries
    series: list[InstanceSeries]
    kind: str = "day"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the numbers the terminal and the HTML show)."""
        return _jsonable({
            "kind": self.kind, "date": self.date, "instance": self.instance, "instances": self.instances,
            "markets": self.markets, "summary": self.summary.to_dict(),
            "tca": self.tca.to_dict() if self.tca else None,
            "equity": _series_dict(self.equity), "series": [_series_dict(s) for s in self.series],
            "definitions": DEFINITIONS,
        })

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=1)


@dataclass(frozen=True)
class RangeReport:
    """Several days: ROAD-1's multi-day summary with pass/fail criteria, TCA, and plot series."""

    start: str
    end: str
    instance: str | None
    instances: list[str]
    markets: list[str]
    summary: MultiDaySummary
    tca: TcaReport | None
    equity: EquitySeries
    series: list[InstanceSeries] = field(default_factory=list)
    kind: str = "range"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the numbers the terminal and the HTML show)."""
        return _jsonable({
            "kind": self.kind, "start": self.start, "end": self.end, "instance": self.instance,
            "instances": self.instances, "markets": self.markets, "summary": self.summary.to_dict(),
            "tca": self.tca.to_dict() if self.tca else None,
            "equity": _series_dict(self.equity), "series": [_series_dict(s) for s in self.series],
            "definitions": DEFINITIONS,
        })

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=1)


# --- loading ---------------------------------------------------------------------------------------

@dataclass
class _Period:
    minutes: list[datetime]
    total_equity: list[float]
    initial_equity: float
    rows: list[dict[str, Any]]
    instances: list[str]
    markets: list[str]
    fills: list[FillTca]
    funding_by_day: dict[date, float]
    hard_stop_days: set[date]
    series: list[InstanceSeries]
    minute_idx_by_day: dict[date, list[int]] = field(default_factory=dict)
    rows_by_day: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    fills_by_day: dict[date, list[FillTca]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, m in enumerate(self.minutes):
            self.minute_idx_by_day.setdefault(m.date(), []).append(i)
        for r in self.rows:
            self.rows_by_day.setdefault(r["minute"].date(), []).append(r)
        for f in self.fills:
            self.fills_by_day.setdefault(f.event_time.date(), []).append(f)


def _load(reader: Reader, start: datetime, end: datetime, instance: str | None, max_points: int) -> _Period:
    rows = reader.query_rows(*q.state_minutes(start, end, instance))
    series = _instance_series(reader, start, end, instance, max_points)
    before = {r["instance_id"]: float(r["equity"]) for r in reader.query_rows(*q.equity_before(start, instance))}
    instances = sorted({r["instance_id"] for r in rows})
    instance_markets = {s.instance_id: s.market for s in series}
    # Carry each instance's equity forward between its own states; before its first state in the
    # period it holds its last equity before the period (or, without one, its first equity).
    last: dict[str, float] = {}
    for r in rows:
        last.setdefault(r["instance_id"], before.get(r["instance_id"], float(r["equity"])))
    initial = sum(last.values())
    minutes: list[datetime] = []
    totals: list[float] = []
    for r in rows:
        last[r["instance_id"]] = float(r["equity"])
        if minutes and minutes[-1] == r["minute"]:
            totals[-1] = sum(last.values())
        else:
            minutes.append(r["minute"])
            totals.append(sum(last.values()))
    fills = load_fill_tca(reader, start, end, instance)
    funding: dict[date, float] = {}
    if instance_markets:
        for f in reader.query_rows(*q.funding_settlements(start, end, instance_markets)):
            price = f["mark_price"] if f["mark_price"] is not None else f["mid"]
            if f["position"] is None or price is None:
                continue
            # Longs pay shorts when the rate is positive: a long position's funding is a cost.
            day = f["event_time"].date()
            funding[day] = funding.get(day, 0.0) - float(f["position"]) * float(price) * float(f["funding_rate"])
    stops = {r["day"] for r in reader.query_rows(*q.daily_loss_hard_stops(start, end, instance))}
    return _Period(minutes, totals, initial, rows, instances, sorted(set(instance_markets.values())), fills, funding,
                   stops, series)


def _no_data(reader: Reader, what: str, instance: str | None) -> NoData:
    days = [r["day"].isoformat() for r in reader.query_rows(*q.days_with_data(instance))]
    where = getattr(reader, "where", "ClickHouse")
    who = f" for instance {instance}" if instance else ""
    have = f"days with data: {', '.join(sorted(days))}" if days else "there is no strategy state at all"
    return NoData(f"no strategy state{who} in {where} for {what}; {have}; run `hbot demo` first to produce a day")


def _day_inputs(p: _Period, day: date) -> DayInputs | None:
    idx = p.minute_idx_by_day.get(day)
    if not idx:
        return None
    start_equity = p.total_equity[idx[0] - 1] if idx[0] > 0 else p.initial_equity
    realized: dict[str, float] = {}
    regimes: dict[str, int] = {}
    for r in p.rows_by_day.get(day, []):
        realized[r["instance_id"]] = float(r["realized"])  # rows are in time order: the last wins
        regimes[r["regime"]] = regimes.get(r["regime"], 0) + 1
    fills = p.fills_by_day.get(day, [])
    return DayInputs(
        day=day, equity_start=start_equity, equity_curve=[p.total_equity[i] for i in idx],
        realized_pnl=sum(realized.values(), 0.0), fees=sum((f.fee_quote for f in fills), 0.0), fills=len(fills),
        turnover=sum((f.notional_quote for f in fills), 0.0), regime_minutes=regimes,
        spread_capture=sum((f.spread_capture_quote for f in fills), 0.0), funding=p.funding_by_day.get(day, 0.0),
        daily_loss_hard_stop=day in p.hard_stop_days,
    )


def _stride(n: int, max_points: int) -> int:
    return max(1, math.ceil(n / max_points))


def _equity_series(p: _Period, max_points: int) -> EquitySeries:
    dd = drawdown_series([p.initial_equity, *p.total_equity])[1:]
    k = _stride(len(p.minutes), max_points)
    sel = range(0, len(p.minutes), k)
    return EquitySeries(minutes=[p.minutes[i].isoformat() for i in sel], equity=[p.total_equity[i] for i in sel],
                        drawdown=[dd[i] for i in sel])


def _instance_series(reader: Reader, start: datetime, end: datetime, instance: str | None,
                     max_points: int) -> list[InstanceSeries]:
    minutes = (end - start).total_seconds() / 60.0
    bucket_s = 60 * max(1, math.ceil(minutes / max_points))
    by_inst: dict[str, list[dict[str, Any]]] = {}
    for r in reader.query_rows(*q.state_series(start, end, instance, bucket_s)):
        by_inst.setdefault(r["instance_id"], []).append(r)
    return [InstanceSeries(
        instance_id=inst, market=rows[0]["market"], minutes=[r["t"].isoformat() for r in rows],
        base_pct=[float(r["base_pct"]) for r in rows], target_base_pct=[float(r["target_base_pct"]) for r in rows],
        position=[float(r["position"]) for r in rows], mid=[float(r["mid"]) for r in rows],
        spread_min_bps=[float(r["spread_min"]) * 1e4 for r in rows],
        spread_max_bps=[float(r["spread_max"]) * 1e4 for r in rows],
        min_edge_bps=[float(r["min_edge_threshold"]) * 1e4 for r in rows], regime=[r["regime"] for r in rows],
    ) for inst, rows in sorted(by_inst.items())]


def build_day_report(reader: Reader | Any, date: _Date | str, instance: str | None = None,  # noqa: A002 - the API's name
                     max_points: int = MAX_PLOT_POINTS) -> DayReport:
    """The report of one UTC ``date`` (all instances, or one); :class:`NoData` when the day has no state."""
    reader = as_reader(reader)
    day = _Date.fromisoformat(date) if isinstance(date, str) else date
    start, end = bounds(day, day)
    p = _load(reader, start, end, instance, max_points)
    inputs = _day_inputs(p, day)
    if inputs is None:
        raise _no_data(reader, day.isoformat(), instance)
    tca = tca_from_fills(p.fills, start, end, instance) if p.fills else None
    return DayReport(date=day.isoformat(), instance=instance, instances=p.instances, markets=p.markets,
                     summary=day_summary(inputs), tca=tca, equity=_equity_series(p, max_points),
                     series=p.series)


def build_range_report(reader: Reader | Any, start: date | str, end: date | str, instance: str | None = None,
                       max_points: int = MAX_PLOT_POINTS) -> RangeReport:
    """ROAD-1's multi-day report over ``[start, end]`` (whole UTC days, end inclusive)."""
    reader = as_reader(reader)
    start = date.fromisoformat(start) if isinstance(start, str) else start
    end = date.fromisoformat(end) if isinstance(end, str) else end
    s, e = bounds(start, end)
    p = _load(reader, s, e, instance, max_points)
    days: list[DaySummary] = []
    for o in range(start.toordinal(), end.toordinal() + 1):
        inputs = _day_inputs(p, date.fromordinal(o))
        if inputs is not None:
            days.append(day_summary(inputs))
    if not days:
        raise _no_data(reader, f"{start} .. {end}", instance)
    tca = tca_from_fills(p.fills, s, e, instance) if p.fills else None
    regime_fills = {b.key: RegimeFills(b.fills, b.spread_capture_quote, b.adverse_60s_rate)
                    for b in (tca.breakdowns["regime"] if tca else [])}
    summary = multi_day_summary(start, end, days, regime_fills,
                                equity_curve=[p.initial_equity, *p.total_equity])
    return RangeReport(start=start.isoformat(), end=end.isoformat(), instance=instance, instances=p.instances,
                       markets=p.markets, summary=summary, tca=tca, equity=_equity_series(p, max_points),
                       series=p.series)


def daily_rows(summaries: Sequence[DaySummary]) -> list[dict[str, Any]]:
    """The ROAD-1 tracking table rows (its columns, in its order)."""
    cols = ("date", "realized_pnl_usdt", "fees_usdt", "net_pnl_usdt", "net_pnl_bps", "drawdown_pct", "fills",
            "turnover_x", "dominant_regime")
    return [{c: getattr(d, c) for c in cols} for d in summaries]


__all__ = ["DayReport", "RangeReport", "NoData", "build_day_report", "build_range_report", "daily_rows",
           "InstanceSeries", "EquitySeries"]
