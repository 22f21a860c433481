"""Transaction-cost analysis (ROAD-6) of single fills and of groups of fills.

Every figure is signed from our side of the trade (``s = +1`` for a BUY, ``-1`` for a SELL) and
measured in basis points of the mid at the fill (``m0``), so the figures add up:

- ``pnl_vs_mid_pct = s * (m0 - price) / m0`` — edge captured against the mid at the fill, as a
  fraction (the old ``fills.csv`` column). A maker fill normally has a positive value.
- ``implementation_shortfall_bps = s * (price - mid_at_order) / mid_at_order * 1e4`` — fill price
  against the mid when the order was placed; **positive = cost** (we paid more than the mid we
  decided on). ``None`` when the order's mid is unknown.
- ``market_impact_bps = s * (m0 - m60) / m0 * 1e4`` — how far the mid moved **against us** in the
  60 s after the fill (``m60`` = mid 60 s later); positive = the market went the wrong way.
- ``markout_bps = s * (m60 - price) / m0 * 1e4 = pnl_vs_mid_bps - market_impact_bps`` — what the
  fill is worth 60 s later, marked at the mid.

Adverse selection is reported two ways:

- ``adverse_at_fill``: ``pnl_vs_mid_pct < 0``, the spec's ROAD-6 ``adverse_selection_rate``;
- ``adverse_60s``: ``markout_bps < -cost_floor_bps``. The cost floor is the strategy's own
  ``min_edge_threshold`` in force at the fill (the fees + slippage + funding floor its edge had to
  clear, from ``hb.strategy_state.v1``), so a fill is adverse when 60 s later it lost more than the
  strategy budgets for costs. Without a strategy state the floor is 2 bps, the ROAD-11 label
  (``pnl_vs_mid_pct < -0.0002``).

Group means of bps figures are notional-weighted (cost per unit of quote traded); rates are
fractions of fills. The spread bucket of a fill is its quoted distance from the mid when the order
was placed (``|price - mid_at_order| / mid_at_order``; the mid at the fill when unknown).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, NamedTuple, Sequence

HORIZON_S = 60
DEFAULT_COST_FLOOR_BPS = 2.0
SPREAD_BUCKET_EDGES_BPS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 50.0)
REGIME_ORDER = ("neutral_low_vol", "neutral_high_vol", "up", "down", "high_vol_shock")
DIMENSIONS = ("regime", "hour", "side", "spread")
BPS = 10_000.0


class FillInput(NamedTuple):
    """What TCA needs about one fill (from ``hb.fill.v1`` joined with state and book).

    Fills are many (10^5 a month on a busy desk) and immutable: a named tuple is built ~5x faster
    than a frozen dataclass.
    """

    event_id: str
    event_time: datetime
    instance_id: str
    market: str
    side: str
    price: float
    size: float
    fee_quote: float
    mid_at_fill: float
    mid_at_order: float | None = None
    mid_after: float | None = None
    regime: str = "unknown"
    min_edge_threshold: float | None = None
    liquidity: str = "MAKER"


class FillTca(NamedTuple):
    """TCA figures of one fill (see the module docstring for the formulas); immutable."""

    event_id: str
    event_time: datetime
    instance_id: str
    market: str
    side: str
    regime: str
    hour: int
    spread_bucket: str
    liquidity: str
    notional_quote: float
    fee_quote: float
    fee_bps: float
    quoted_spread_bps: float
    pnl_vs_mid_pct: float
    implementation_shortfall_bps: float | None
    market_impact_bps: float | None
    markout_bps: float | None
    cost_floor_bps: float
    adverse_at_fill: bool
    adverse_60s: bool | None
    spread_capture_quote: float
    markout_quote: float | None

    @property
    def pnl_vs_mid_bps(self) -> float:
        """``pnl_vs_mid_pct`` in basis points."""
        return self.pnl_vs_mid_pct * BPS


def spread_bucket_labels() -> list[str]:
    """All spread bucket labels, narrowest first."""
    edges = SPREAD_BUCKET_EDGES_BPS
    return [f"<{edges[0]:g}"] + [f"{lo:g}-{hi:g}" for lo, hi in zip(edges, edges[1:])] + [f">={edges[-1]:g}"]


_SPREAD_LABELS = tuple(spread_bucket_labels())


def spread_bucket(bps: float) -> str:
    """Label of the spread bucket holding ``bps`` (``<2``, ``2-5``, ..., ``>=50``); an edge opens the upper bucket."""
    return _SPREAD_LABELS[bisect_right(SPREAD_BUCKET_EDGES_BPS, bps)]


def fill_tca(f: FillInput) -> FillTca:
    """TCA of one fill."""
    if f.side not in ("BUY", "SELL"):
        raise ValueError(f"fill {f.event_id}: side must be BUY or SELL, got {f.side!r}")
    if f.mid_at_fill <= 0 or f.price <= 0:
        raise ValueError(f"fill {f.event_id}: price and mid_at_fill must be positive")
    s = 1.0 if f.side == "BUY" else -1.0
    m0 = f.mid_at_fill
    notional = f.price * f.size
    pnl_vs_mid = s * (m0 - f.price) / m0
    order_mid = f.mid_at_order if f.mid_at_order is not None and f.mid_at_order > 0 else None
    shortfall = s * (f.price - order_mid) / order_mid * BPS if order_mid is not None else None
    ref = order_mid if order_mid is not None else m0
    quoted = abs(f.price - ref) / ref * BPS
    m60 = f.mid_after if f.mid_after is not None and f.mid_after > 0 else None
    impact = s * (m0 - m60) / m0 * BPS if m60 is not None else None
    markout = s * (m60 - f.price) / m0 * BPS if m60 is not None else None
    floor = f.min_edge_threshold * BPS if f.min_edge_threshold is not None and f.min_edge_threshold > 0 else DEFAULT_COST_FLOOR_BPS
    return FillTca(
        event_id=f.event_id, event_time=f.event_time, instance_id=f.instance_id, market=f.market, side=f.side,
        regime=f.regime or "unknown", hour=f.event_time.hour, spread_bucket=spread_bucket(quoted), liquidity=f.liquidity,
        notional_quote=notional, fee_quote=f.fee_quote, fee_bps=f.fee_quote / notional * BPS if notional else 0.0,
        quoted_spread_bps=quoted, pnl_vs_mid_pct=pnl_vs_mid, implementation_shortfall_bps=shortfall,
        market_impact_bps=impact, markout_bps=markout, cost_floor_bps=floor,
        adverse_at_fill=pnl_vs_mid < 0.0, adverse_60s=(markout < -floor) if markout is not None else None,
        spread_capture_quote=s * (m0 - f.price) * f.size,
        markout_quote=s * (m60 - f.price) * f.size if m60 is not None else None,
    )


@dataclass(frozen=True)
class TcaBucket:
    """Aggregate TCA of the fills sharing one key of one dimension."""

    dimension: str
    key: str
    fills: int
    notional_quote: float
    fees_quote: float
    fee_bps: float | None
    spread_capture_quote: float
    mean_pnl_vs_mid_bps: float | None
    mean_implementation_shortfall_bps: float | None
    mean_market_impact_bps: float | None
    mean_markout_bps: float | None
    adverse_rate: float | None
    adverse_60s_rate: float | None
    fills_with_horizon: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def summarize(dimension: str, key: str, fills: Sequence[FillTca]) -> TcaBucket:
    """One bucket's figures (notional-weighted means, fractions of fills for rates)."""
    # One pass over the fills: a month of a busy desk is ~10^5 fills and five groupings.
    notional = fees = capture = 0.0
    pnl_n = is_n = is_d = imp_n = imp_d = mo_n = mo_d = 0.0
    adverse = known = adverse_60 = 0
    for f in fills:
        w = f.notional_quote
        notional += w
        fees += f.fee_quote
        capture += f.spread_capture_quote
        pnl_n += f.pnl_vs_mid_pct * BPS * w
        if f.implementation_shortfall_bps is not None:
            is_n += f.implementation_shortfall_bps * w
            is_d += w
        if f.markout_bps is not None:
            imp_n += f.market_impact_bps * w  # type: ignore[operator]  # known together with the markout
            mo_n += f.markout_bps * w
            mo_d += w
            known += 1
            adverse_60 += f.adverse_60s is True
        adverse += f.adverse_at_fill
    imp_d = mo_d
    n = len(fills)
    return TcaBucket(
        dimension=dimension, key=key, fills=n, notional_quote=notional, fees_quote=fees,
        fee_bps=fees / notional * BPS if notional > 0 else None, spread_capture_quote=capture,
        mean_pnl_vs_mid_bps=pnl_n / notional if notional > 0 else None,
        mean_implementation_shortfall_bps=is_n / is_d if is_d > 0 else None,
        mean_market_impact_bps=imp_n / imp_d if imp_d > 0 else None,
        mean_markout_bps=mo_n / mo_d if mo_d > 0 else None,
        adverse_rate=adverse / n if n else None,
        adverse_60s_rate=adverse_60 / known if known else None,
        fills_with_horizon=known,
    )


def _key_fn(dimension: str) -> Callable[[FillTca], str]:
    if dimension == "regime":
        return lambda f: f.regime
    if dimension == "hour":
        return lambda f: f"{f.hour:02d}"
    if dimension == "side":
        return lambda f: f.side
    if dimension == "spread":
        return lambda f: f.spread_bucket
    raise ValueError(f"unknown TCA dimension {dimension!r}; use one of {', '.join(DIMENSIONS)}")


def _order(dimension: str, keys: Iterable[str]) -> list[str]:
    keys = set(keys)
    if dimension == "regime":
        known = [r for r in REGIME_ORDER if r in keys]
        return known + sorted(keys - set(known))
    if dimension == "spread":
        return [b for b in spread_bucket_labels() if b in keys]
    return sorted(keys)


def breakdown(fills: Sequence[FillTca], dimension: str) -> list[TcaBucket]:
    """Fills grouped by ``dimension`` (regime, hour, side or spread), in a natural order."""
    key = _key_fn(dimension)
    groups: dict[str, list[FillTca]] = {}
    for f in fills:
        groups.setdefault(key(f), []).append(f)
    return [summarize(dimension, k, groups[k]) for k in _order(dimension, groups)]


@dataclass(frozen=True)
class TcaHeadline:
    """The few TCA numbers a desk looks at first, and where adverse selection is worst."""

    fills: int
    notional_quote: float
    mean_implementation_shortfall_bps: float | None
    mean_market_impact_bps: float | None
    mean_markout_bps: float | None
    mean_pnl_vs_mid_bps: float | None
    adverse_rate: float | None
    adverse_60s_rate: float | None
    worst_regime: str | None
    worst_regime_adverse_60s_rate: float | None
    worst_hour: str | None
    worst_hour_adverse_60s_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _worst(buckets: Sequence[TcaBucket], min_fills: int) -> TcaBucket | None:
    # Rank by the 60 s adverse rate where known; buckets too small to mean anything are skipped
    # unless nothing else is left.
    ranked = [b for b in buckets if b.adverse_60s_rate is not None]
    big = [b for b in ranked if b.fills_with_horizon >= min_fills] or ranked
    return max(big, key=lambda b: (b.adverse_60s_rate or 0.0, b.fills)) if big else None


def headline(fills: Sequence[FillTca], min_fills: int = 5,
             breakdowns: dict[str, list[TcaBucket]] | None = None) -> TcaHeadline:
    """Overall figures plus the regime and the hour with the highest 60 s adverse-selection rate.

    ``breakdowns`` (by regime and hour) are reused when already computed.
    """
    total = summarize("all", "all", fills)
    breakdowns = breakdowns or {}
    wr = _worst(breakdowns.get("regime") or breakdown(fills, "regime"), min_fills)
    wh = _worst(breakdowns.get("hour") or breakdown(fills, "hour"), min_fills)
    return TcaHeadline(
        fills=total.fills, notional_quote=total.notional_quote,
        mean_implementation_shortfall_bps=total.mean_implementation_shortfall_bps,
        mean_market_impact_bps=total.mean_market_impact_bps, mean_markout_bps=total.mean_markout_bps,
        mean_pnl_vs_mid_bps=total.mean_pnl_vs_mid_bps, adverse_rate=total.adverse_rate,
        adverse_60s_rate=total.adverse_60s_rate,
        worst_regime=wr.key if wr else None, worst_regime_adverse_60s_rate=wr.adverse_60s_rate if wr else None,
        worst_hour=wh.key if wh else None, worst_hour_adverse_60s_rate=wh.adverse_60s_rate if wh else None,
    )
