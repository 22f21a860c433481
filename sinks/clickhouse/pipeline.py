"""One ClickHouse insert in flight beside the consumer, offsets committed in batch order after it.

The sink decodes batch k+1 while batch k is inserted in a worker thread (chDB and the driver's
native encoding do their part there). Offsets of a batch are committed only once its insert has
returned, and only after every earlier batch's; there is never more than one batch in flight, so
a batch's insert also never starts before the previous one finished. An insert that fails breaks
the pipeline for good: nothing more is committed, and the records from the failed batch on are
consumed again after a restart (the tables are idempotent, see :mod:`sinks.clickhouse.writer`).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
import time
from typing import Callable

Offsets = dict[tuple[str, int], int]


class InsertFailed(Exception):
    """An earlier batch's insert failed; the pipeline commits nothing more."""


class InsertPipeline:
    """Runs ``insert`` callables one at a time in a worker thread and commits their offsets in order."""

    def __init__(self, commit: Callable[[Offsets], None], while_waiting: Callable[[], None] = lambda: None,
                 every_s: float = 1.0, name: str = "clickhouse-insert") -> None:
        self._commit = commit
        self._while_waiting = while_waiting  # called about every ``every_s`` while an insert is in flight
        self._every_s = every_s
        self._next_call = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._inflight: tuple[Future[object], Offsets] | None = None
        self._failed: BaseException | None = None

    def submit(self, insert: Callable[[], object], offsets: Offsets) -> None:
        """Finish the batch in flight (its commit included), then start ``insert`` for ``offsets``."""
        self.drain()
        self._inflight = (self._pool.submit(insert), dict(offsets))
        self._next_call = time.monotonic() + self._every_s  # wall-clock ok: a progress timer of an I/O adapter

    def drain(self, block: bool = True) -> None:
        """Wait for the batch in flight and commit its offsets; re-raises its insert's failure.

        ``block=False`` commits only if that insert has already returned, and otherwise leaves it in flight
        (calling ``while_waiting`` if it has been running for ``every_s`` since the last call).
        """
        if self._failed is not None:
            raise InsertFailed("an earlier insert failed; its offsets and later ones stay uncommitted") from self._failed
        if self._inflight is None:
            return
        future, offsets = self._inflight
        if not block and not future.done():
            if time.monotonic() >= self._next_call:  # wall-clock ok: the same progress timer
                self._next_call = time.monotonic() + self._every_s
                self._while_waiting()
            return
        self._inflight = None
        try:
            while True:
                try:
                    future.result(timeout=self._every_s)
                    break
                except FutureTimeout:
                    self._while_waiting()
        except BaseException as exc:
            self._failed = exc
            raise
        self._commit(offsets)

    def close(self) -> None:
        """Stop the worker thread once the batch in flight (if any) has finished; commits nothing."""
        self._pool.shutdown(wait=True)
