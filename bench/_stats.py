"""Small helpers shared by the benchmarks: medians of runs, percentiles, a plain-text table.

Benchmarks import it as ``from _stats import ...`` (Python puts the script's folder on
``sys.path`` when it runs ``python bench/bench_x.py``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """Median of ``values`` (the figure every bench reports, robust to one noisy run)."""
    return float(statistics.median(values))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted values, nearest-rank (no interpolation).

    Nearest rank is what latency tools report: p99 of 1000 samples is the 990th smallest, a value
    that was actually observed.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def spread(values: Sequence[float]) -> str:
    """``min..max`` of the runs, to show how noisy a median is."""
    return f"{min(values):,.0f}..{max(values):,.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], first_width: int | None = None) -> str:
    """A right-aligned plain-text table (first column left-aligned); floats get thousands separators."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    if first_width:
        widths[0] = max(widths[0], first_width)
    lines = ["  ".join(str(h).ljust(widths[0]) if i == 0 else str(h).rjust(widths[i]) for i, h in enumerate(headers))]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    return "\n".join(lines)
