"""Price and size increments (tick, lot) of a market, inferred from the prices and sizes it printed.

Every price an exchange prints is a whole multiple of its tick size and every size a whole multiple
of its lot size, so the greatest common divisor of the printed values (in units of their finest
decimal) is the tick (lot) itself, or a multiple of it when the sample happens never to use the
finest step. A multiple is still a valid increment to quote on, so the inferred value is never
finer than what the exchange accepts. With thousands of book levels and trades the sample uses the
finest step in practice (the Binance BTCUSDT recording gives 0.1 and 0.001, its contract's
``tickSize`` and ``stepSize``).

Pure: numbers in, numbers out. Values are taken at their shortest decimal spelling (``repr``), which
is how they were written in the exchange's messages (``"61800.20"`` parses to ``61800.2``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from processors.decimals import step_decimals

MAX_DECIMALS = 12
"""Finest increment considered (1e-12); digits beyond it are float noise, not an exchange's step."""


def increment(values: Iterable[float]) -> float | None:
    """The largest step every positive finite value in ``values`` is a whole multiple of; None without any."""
    distinct = {float(v) for v in values if v is not None and math.isfinite(v) and v > 0}
    if not distinct:
        return None
    places = min(MAX_DECIMALS, max(step_decimals(v) for v in distinct))
    scale = 10**places
    step = 0
    for v in distinct:
        step = math.gcd(step, round(v * scale))
        if step == 1:
            break
    return round(step / scale, places) if step else None
