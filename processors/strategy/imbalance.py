"""Top-of-book order imbalance and the skew it adds [ROAD-3].

``imbalance = (bid_depth - ask_depth) / (bid_depth + ask_depth)`` over the top ``imbalance_levels``
levels, in [-1, 1]. Beyond ``imbalance_threshold`` (0.3) the skew moves by
``imbalance_skew_pct * imbalance``: strong bids (positive) give a positive skew, which widens the ask
(the side facing the incoming buyers); strong asks widen the bid. It is added to the inventory skew
and the sum is capped by ``inventory_skew_cap_pct``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def book_imbalance(bids: Sequence[dict[str, Any]], asks: Sequence[dict[str, Any]], levels: int) -> float:
    """Depth imbalance of the top ``levels`` levels; 0 when the book has no depth."""
    bid_depth = 0.0
    for level in bids[:levels]:
        bid_depth += level["size"]
    ask_depth = 0.0
    for level in asks[:levels]:
        ask_depth += level["size"]
    total = bid_depth + ask_depth
    if total <= 0.0:
        return 0.0
    return (bid_depth - ask_depth) / total


def imbalance_skew(imbalance: float, threshold: float, skew_pct: float) -> float:
    """Skew (fraction of mid) from the imbalance: 0 inside the threshold, ``skew_pct * imbalance`` beyond."""
    if -threshold <= imbalance <= threshold:
        return 0.0
    return skew_pct * imbalance


def combine_skew(inventory: float, imbalance: float, cap: float) -> float:
    """Inventory plus imbalance skew, capped to ``[-cap, cap]``."""
    total = inventory + imbalance
    return -cap if total < -cap else cap if total > cap else total
