"""A sliding event-time window counting cancel requests against a per-minute budget."""

from __future__ import annotations

from collections import deque
from typing import Iterable

from processors.clock import US_PER_MIN


class CancelBudget:
    """At most ``budget`` cancels in any ``window_us`` of event time.

    ``forced`` cancels (risk-reducing: guard, inventory cap, derisk) always go out but still use the
    budget, so strategy churn right after them is throttled. Optional cancels may be held to a lower
    ``limit``, which keeps the rest of the budget for the forced ones.
    """

    __slots__ = ("budget", "window_us", "_times")

    def __init__(self, budget: int, window_us: int = US_PER_MIN, times: Iterable[int] = ()) -> None:
        self.budget = budget
        self.window_us = window_us
        self._times: deque[int] = deque(sorted(times))

    def _prune(self, now_us: int) -> None:
        horizon = now_us - self.window_us
        while self._times and self._times[0] <= horizon:
            self._times.popleft()

    def used(self, now_us: int) -> int:
        """Cancels counted in the window ending at ``now_us``."""
        self._prune(now_us)
        return len(self._times)

    def try_consume(self, now_us: int, forced: bool = False, limit: int | None = None) -> bool:
        """Count one cancel at ``now_us`` if fewer than ``limit`` (default: the budget) are in the window,
        or if ``forced``; False when denied."""
        self._prune(now_us)
        if not forced and len(self._times) >= (self.budget if limit is None else limit):
            return False
        self._times.append(now_us)
        return True

    def exceeded(self, now_us: int) -> bool:
        """True when more cancels than the budget are in the window (only forced ones can get it there)."""
        return self.used(now_us) > self.budget

    def to_list(self) -> list[int]:
        """Event times (us) of the cancels still in the window, for a snapshot."""
        return list(self._times)
