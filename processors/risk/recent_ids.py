"""A bounded set of recently seen ids, for dropping duplicates of an at-least-once stream."""

from __future__ import annotations

from collections import deque
from typing import Iterable


class RecentIds:
    """The last ``max_size`` distinct ids added, oldest evicted first.

    Bounded on purpose: it lives in snapshots (Faust table values), and duplicates from an
    at-least-once replay only come from the uncommitted tail, which is short.
    """

    __slots__ = ("_max", "_order", "_set")

    def __init__(self, max_size: int, ids: Iterable[str] = ()) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self._max = max_size
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        for i in ids:
            self.add(i)

    def __contains__(self, item: object) -> bool:
        return item in self._set

    def __len__(self) -> int:
        return len(self._order)

    def add(self, item: str) -> bool:
        """Remember ``item``; True when it was not already known."""
        if item in self._set:
            return False
        self._order.append(item)
        self._set.add(item)
        if len(self._order) > self._max:
            self._set.discard(self._order.popleft())
        return True

    def to_list(self) -> list[str]:
        """The ids, oldest first (JSON-able; ``RecentIds(n, ids)`` restores the same set)."""
        return list(self._order)
