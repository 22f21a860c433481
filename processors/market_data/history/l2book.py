"""Rebuilding a Level-2 order book from depth diffs, with update-id continuity checks (pure, no I/O).

Binance USD-M rules ("How to manage a local order book correctly"): buffer the diff stream, take a
REST snapshot with ``lastUpdateId`` L, drop buffered diffs with ``u < L``, the first diff applied
must straddle the snapshot (``U <= L + 1`` and ``u >= L``; the futures doc states ``U <= L <= u``,
the spot doc ``U <= L + 1 <= u``, and both describe the same continuity), and from then on each diff's
``pu`` must equal the previous diff's ``u``. A diff that breaks this is a gap: updates were lost, the
book is no longer trustworthy.

Bootstrap policies (``DiffSync(bootstrap=...)``):

``snapshot`` (exact, the default)
    Diffs before the first snapshot are buffered; the book becomes valid when a snapshot bridges
    them. After a gap the book is invalid (no snapshots are emitted from it) until a later snapshot
    in the stream re-synchronises it; diffs in between are counted as skipped.
``diffs`` (for recordings without any REST snapshot)
    Start from an empty book at the first diff and apply diffs with the same continuity checks. Levels
    that never change are unknown, so the book is only declared valid after ``warmup_us`` of event
    time without a gap (near the touch nearly every level is updated within seconds); after a gap it
    is cleared and warmed up again. The levels far from the touch may still be missing: an
    approximation, which is why ``snapshot`` is preferred whenever the file has one.

Sizes are absolute (a diff sets a level's size; 0 deletes it), so re-applying an update the snapshot
already contained is harmless.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from processors.market_data import validation
from processors.market_data.history.formats import DepthDiff, DepthSnapshot, Level


class L2Book:
    """Price -> size per side, with sorted price lists so the best levels are read without sorting."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self._bid_px: list[float] = []  # ascending; the best bid is the last
        self._ask_px: list[float] = []  # ascending; the best ask is the first

    def clear(self) -> None:
        """Remove every level."""
        self.bids.clear()
        self.asks.clear()
        self._bid_px.clear()
        self._ask_px.clear()

    def reset(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the book with a snapshot (levels of size 0 are ignored)."""
        self.clear()
        self.bids.update((p, q) for p, q in bids if q > 0)
        self.asks.update((p, q) for p, q in asks if q > 0)
        self._bid_px = sorted(self.bids)
        self._ask_px = sorted(self.asks)

    def update(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Apply absolute level sizes; size 0 deletes the level."""
        for p, q in bids:
            _set(self.bids, self._bid_px, p, q)
        for p, q in asks:
            _set(self.asks, self._ask_px, p, q)

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best ``n`` levels a side, best first."""
        bids = [(p, self.bids[p]) for p in reversed(self._bid_px[-n:])] if n > 0 else []
        asks = [(p, self.asks[p]) for p in self._ask_px[:n]]
        return bids, asks

    def best(self) -> tuple[Level | None, Level | None]:
        """Best bid and best ask as ``(price, size)``, None for an empty side."""
        bb = (self._bid_px[-1], self.bids[self._bid_px[-1]]) if self._bid_px else None
        ba = (self._ask_px[0], self.asks[self._ask_px[0]]) if self._ask_px else None
        return bb, ba

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)


def _set(levels: dict[float, float], prices: list[float], p: float, q: float) -> None:
    if q == 0:
        if levels.pop(p, None) is not None:
            del prices[bisect_left(prices, p)]
    else:
        if p not in levels:
            insort(prices, p)
        levels[p] = q


@dataclass
class SyncCounters:
    """What happened to the depth stream."""

    diffs: int = 0
    applied: int = 0
    buffered: int = 0
    stale: int = 0
    """Diffs older than the book (``u`` below the snapshot or the last applied id): dropped, as the rules say."""
    skipped: int = 0
    """Diffs that arrived while the book was invalid and could not be used (lost buffer, after a gap)."""
    gaps: int = 0
    bad_diffs: int = 0
    """Diffs with a NaN/negative size or a bad price: refused, and the book invalidated like after a gap."""
    snapshots: int = 0
    snapshots_used: int = 0
    snapshots_ignored: int = 0
    gap_examples: list[str] = field(default_factory=list)


SyncState = Literal["waiting", "bridging", "warming", "synced"]


class DiffSync:
    """Keeps an :class:`L2Book` in sync with a Binance-style diff stream (see the module docstring).

    ``before_invalidate`` is called while the book still holds its last valid state, just before a
    gap or a new snapshot invalidates or replaces it (the importer emits its pending snapshot there).
    """

    def __init__(self, bootstrap: Literal["snapshot", "diffs"] = "snapshot", warmup_us: int = 5_000_000,
                 max_buffer: int = 100_000, before_invalidate: Callable[[], None] | None = None) -> None:
        self.book = L2Book()
        self.bootstrap = bootstrap
        self.warmup_us = warmup_us
        self.state: SyncState = "waiting"
        self.last_id: int | None = None
        self.last_time_us: int | None = None
        self.counters = SyncCounters()
        self._buffer: deque[DepthDiff] = deque()
        self._max_buffer = max_buffer
        self._snap_id: int | None = None
        self._warm_from: int | None = None
        self._before_invalidate = before_invalidate or (lambda: None)

    @property
    def valid(self) -> bool:
        """True when the book reflects the exchange's book as of update ``last_id``."""
        return self.state == "synced"

    # snapshots ---------------------------------------------------------------------------------------
    def on_snapshot(self, snap: DepthSnapshot) -> None:
        """A REST snapshot: (re)start the book from it and bridge the buffered diffs."""
        c = self.counters
        c.snapshots += 1
        if self.bootstrap != "snapshot" or (self.state == "synced" and self.last_id is not None and snap.last_id <= self.last_id):
            c.snapshots_ignored += 1  # nothing newer than what the diffs already gave
            return
        if self.state in ("synced", "warming"):
            self._before_invalidate()
        c.snapshots_used += 1
        self.book.reset(snap.bids, snap.asks)
        self._snap_id = snap.last_id
        self.last_id = None
        self.state = "bridging"
        buffered, self._buffer = self._buffer, deque()
        for d in buffered:
            self._step(d)

    # diffs -----------------------------------------------------------------------------------------
    def on_diff(self, d: DepthDiff) -> bool:
        """Process one diff; True when it was applied to a valid book."""
        self.counters.diffs += 1
        bad = _bad_levels(d)
        if bad is not None:
            self.counters.bad_diffs += 1
            self._gap(d, f"bad level in update {d.first_id}..{d.last_id}: {bad}")
            return False
        return self._step(d)

    def _step(self, d: DepthDiff) -> bool:
        c = self.counters
        if self.state == "waiting":
            if self.bootstrap == "diffs":
                self.book.clear()
                self._apply(d)
                self.state, self._warm_from = "warming", d.time_us
                return False
            if len(self._buffer) >= self._max_buffer:
                self._buffer.popleft()
                c.skipped += 1
            self._buffer.append(d)
            c.buffered += 1
            return False
        if self.state == "bridging":
            assert self._snap_id is not None
            if d.last_id < self._snap_id:
                c.stale += 1
                return False
            if d.first_id <= self._snap_id + 1:
                self._apply(d)
                self.state = "synced"
                return True
            # The snapshot is older than the first diff we still have: updates in between are lost.
            self._gap(d, f"snapshot {self._snap_id} older than the first buffered update {d.first_id}")
            return False
        # synced or warming: strict continuity
        assert self.last_id is not None
        if d.last_id <= self.last_id:
            c.stale += 1
            return False
        contiguous = d.prev_id == self.last_id if d.prev_id is not None else d.first_id == self.last_id + 1
        if not contiguous:
            self._gap(d, f"update {d.first_id}..{d.last_id} (pu {d.prev_id}) after {self.last_id}")
            return False
        self._apply(d)
        if self.state == "warming" and self._warm_from is not None and d.time_us - self._warm_from >= self.warmup_us:
            self.state = "synced"
        return self.state == "synced"

    def _apply(self, d: DepthDiff) -> None:
        self.book.update(d.bids, d.asks)
        self.last_id = d.last_id
        self.last_time_us = d.time_us
        self.counters.applied += 1

    def _gap(self, d: DepthDiff, why: str) -> None:
        c = self.counters
        c.gaps += 1
        if len(c.gap_examples) < 5:
            c.gap_examples.append(why)
        if self.state in ("synced", "warming"):
            self._before_invalidate()
        self.state = "waiting"
        self.last_id = None
        c.skipped += len(self._buffer)
        self._buffer.clear()  # what was buffered cannot bridge past the hole any more
        if _bad_levels(d) is not None:
            c.skipped += 1
        elif self.bootstrap == "diffs":
            self._step(d)  # warm up again from this diff
        else:
            self._buffer.append(d)
            c.buffered += 1


def _bad_levels(d: DepthDiff) -> str | None:
    """Why a diff carries an unusable level (the shared checks' wording), or None."""
    for side, levels in (("bid", d.bids), ("ask", d.asks)):
        for p, q in levels:
            if 0 < p < _INF and 0 <= q < _INF:  # fast path; NaN fails every comparison
                continue
            v = validation.check_price(p, side) or validation.check_size(q, side, allow_zero=True)
            if v is not None:
                return str(v)
    return None


_INF = float("inf")


class SnapshotSampler:
    """Chooses which book states become snapshot records: the last valid state of each interval.

    Event time is cut into buckets of ``interval_us`` (0: every applied diff). The state after the
    last diff applied in a bucket is emitted when the first diff of a later bucket arrives (before it
    is applied), or on :meth:`flush`. A record's event time and sequence are those of that last diff.
    """

    def __init__(self, interval_us: int, levels: int) -> None:
        self.interval_us = interval_us
        self.levels = levels
        self._pending: tuple[int, int] | None = None  # (event time, update id) of the state to emit

    def before(self, time_us: int, book: L2Book) -> tuple[int, int, list[Level], list[Level]] | None:
        """Call before applying a diff at ``time_us``; returns a snapshot to emit, if one is due."""
        p = self._pending
        if p is None:
            return None
        if self.interval_us and time_us // self.interval_us == p[0] // self.interval_us:
            return None
        return self.flush(book)

    def mark(self, time_us: int, update_id: int) -> None:
        """The book now holds the valid state as of ``update_id`` at ``time_us``."""
        self._pending = (time_us, update_id)

    def flush(self, book: L2Book) -> tuple[int, int, list[Level], list[Level]] | None:
        """Emit the pending state now (the book must still hold it)."""
        p, self._pending = self._pending, None
        if p is None:
            return None
        bids, asks = book.top(self.levels)
        return p[0], p[1], bids, asks
