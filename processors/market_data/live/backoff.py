"""Reconnect delays: exponential, capped, jittered with an injected random source (no sleeping here)."""

from __future__ import annotations

import random


class Backoff:
    """Delays ``min, 2 min, 4 min, ...`` capped at ``max``, each drawn uniformly from ``[d/2, d]``.

    The jitter keeps many feeds that lost the same exchange from reconnecting in lock step; drawing
    from the upper half keeps the growth visible. ``reset()`` after a success starts over.
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(f"need 0 < min_s <= max_s, got {min_s} and {max_s}")
        self._min, self._max, self._rng = min_s, max_s, rng
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt, seconds (and count the attempt)."""
        # 2**60 already exceeds any sane cap; bounding the exponent avoids float overflow on long outages.
        ceiling = min(self._max, self._min * 2.0 ** min(self.attempts, 60))
        self.attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Forget past failures (call after data flowed again)."""
        self.attempts = 0
