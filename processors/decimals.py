"""Decimal places of a price or size increment, for rounding to it without binary noise."""

from __future__ import annotations

from decimal import Decimal


def step_decimals(step: float) -> int:
    """Decimals needed to print multiples of ``step`` exactly as written (0.001 -> 3, 0.5 -> 1, 5.0 -> 0)."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exponent))
