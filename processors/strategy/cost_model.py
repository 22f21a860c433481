"""The cost floor and the edge a quoted side must clear [P1-1].

``cost_floor_bps = maker fee + slippage + smoothed 30 s drift + funding cost + turnover penalty``
and ``min_edge_threshold = (cost_floor_bps + min_net_edge_bps) / 10_000`` (a fraction of mid).

Funding (perps only, sign-aware) follows the spec's P1-1 text and acceptance criterion: with a
positive rate a net *short* pays, so the rate in bps joins the floor; a net long (or flat) position
earns it, counted as 0 (conservative cap, never a negative cost). The same rule mirrored covers a
negative rate (a long pays it). Note that this is the spec's convention, which is the opposite of
the usual exchange convention quoted in the funding schema (longs pay shorts when positive); it is
kept because the spec's acceptance test requires it.

Expected edge of a quoted side (the desk's capture model, ``fill_factor x spread``): a side quoted
``distance`` from the reference price is worth ``fill_factor * 2 * distance``, so a symmetric quote
of full spread ``s`` is worth ``fill_factor * s``; it is quoted only when that clears
``min_edge_threshold``. ``net_edge`` in the state rows is that value for the symmetric spread, to
be read against ``min_edge_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

BPS = 10_000.0


def funding_cost_bps(funding_rate: float, base_pct: float, is_perp: bool) -> float:
    """Funding cost in bps added to the floor: short pays a positive rate, long a negative one; else 0."""
    if not is_perp or funding_rate == 0.0:
        return 0.0
    rate_bps = funding_rate * BPS
    if base_pct < 0.0:
        return rate_bps if rate_bps > 0.0 else 0.0
    return -rate_bps if rate_bps < 0.0 else 0.0


def turnover_penalty_bps(turnover_x: float, turnover_cap_x: float, penalty_step: float) -> float:
    """The desk's soft throttle: ``penalty_step`` per 1x of daily turnover beyond the cap, in bps."""
    excess = turnover_x - turnover_cap_x
    return excess * penalty_step * BPS if excess > 0.0 else 0.0


@dataclass(frozen=True, slots=True)
class CostFloor:
    """The components of one cost floor, in bps."""

    fee_bps: float
    slippage_bps: float
    drift_bps: float
    funding_bps: float
    turnover_bps: float

    @property
    def total_bps(self) -> float:
        """The cost floor in bps."""
        return self.fee_bps + self.slippage_bps + self.drift_bps + self.funding_bps + self.turnover_bps


def cost_floor(
    *,
    maker_fee_bps: float,
    slippage_bps: float,
    adverse_drift: float,
    funding_bps: float,
    turnover_bps: float,
) -> CostFloor:
    """Build the cost floor; ``adverse_drift`` is a fraction of mid (negative drift counts as 0)."""
    drift_bps = adverse_drift * BPS if adverse_drift > 0.0 else 0.0
    return CostFloor(maker_fee_bps, slippage_bps, drift_bps, funding_bps, turnover_bps)


def min_edge_threshold(cost_floor_bps: float, min_net_edge_bps: float) -> float:
    """The edge (fraction of mid) a side must clear: cost floor plus the required net edge."""
    return (cost_floor_bps + min_net_edge_bps) / BPS


def expected_side_edge(fill_factor: float, distance: float) -> float:
    """Expected edge (fraction of mid) of a side quoted ``distance`` (fraction of mid) from its reference."""
    return fill_factor * 2.0 * distance
