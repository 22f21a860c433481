"""Replaying stored history: one event-time-ordered stream of ``(topic, record)`` over all kinds.

:func:`replay` is a pure iterator over the store (reads files, never a clock, never sleeps): it reads
each kind day by day in row batches and merges the kinds by event time. Pacing to wall-clock time is
the publisher's business (``hbot data replay``), so a backtest can pull the same iterator at full
speed and see exactly what a paced replay publishes.

Order. Within a kind, rows are stored by event time and then the exchange's own order (trade id,
book update id), so same-millisecond trades keep their printed order. Across kinds, equal event times
are broken by a fixed kind rank, then by the per-kind order, so the merge is stable and identical on
every run:

1. candle: its event time is its close, and it summarises trades strictly before that instant;
2. funding;
3. trade: a print is known no later than the book update showing its effect;
4. book.

Records come without ``produce_time`` (the producer stamps it) and with ``source`` as stored (``replay``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from processors.clock import US_PER_DAY
from processors.market_data.history.store import KIND_TOPIC, KINDS, HistoryStore, batch_to_records, day_start_us, days_between
from processors.market_data.topics import MarketEvent

KIND_RANK: dict[str, int] = {"ohlcv": 0, "funding": 1, "trades": 2, "book": 3}
"""Tie-break between kinds at equal event time (see the module docstring)."""


def _kind_stream(store: HistoryStore, exchange: str, symbol: str, kind: str, start_us: int, end_us: int,
                 batch_size: int) -> Iterator[tuple[int, int, int, dict[str, Any]]]:
    """``(event_time, kind rank, position, record)`` of one kind in stored order, within ``[start_us, end_us)``."""
    rank = KIND_RANK[kind]
    pos = 0
    stored = set(store.days(exchange, symbol, kind))
    for day in days_between(start_us, end_us):
        if day not in stored:
            continue
        for batch in store.iter_batches(exchange, symbol, kind, day, batch_size):
            times = pc.cast(batch.column(batch.schema.get_field_index("event_time")), pa.int64())
            mask = pc.and_(pc.greater_equal(times, start_us), pc.less(times, end_us))
            if not pc.all(mask).as_py():
                batch = batch.filter(mask)
            for rec in batch_to_records(batch):
                yield rec["event_time"], rank, pos, rec
                pos += 1


def replay(store: HistoryStore, exchange: str, symbol: str, start_us: int, end_us: int,
           kinds: Sequence[str] = KINDS, batch_size: int = 20_000) -> Iterator[MarketEvent]:
    """The stored records of one market with event time in ``[start_us, end_us)``, in event-time order.

    ``kinds`` picks among ``book``, ``trades``, ``ohlcv``, ``funding``; order ties are broken as the
    module docstring says. Memory stays at one row batch per kind.
    """
    unknown = [k for k in kinds if k not in KIND_TOPIC]
    if unknown:
        raise KeyError(f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    streams = [_kind_stream(store, exchange, symbol, k, start_us, end_us, batch_size) for k in dict.fromkeys(kinds)]
    topic_of_rank = {KIND_RANK[k]: KIND_TOPIC[k] for k in KINDS}
    for _, rank, _, rec in heapq.merge(*streams, key=lambda e: (e[0], e[1], e[2])):
        yield topic_of_rank[rank], rec


def stored_counts(store: HistoryStore, exchange: str, symbol: str, start_us: int, end_us: int,
                  kinds: Iterable[str] = KINDS) -> dict[str, int]:
    """Rows per topic that :func:`replay` yields for the same arguments (counted from the files)."""
    out: dict[str, int] = {}
    for kind in kinds:
        n = 0
        for day in days_between(start_us, end_us):
            lo = day_start_us(day)
            if start_us <= lo and lo + US_PER_DAY <= end_us:
                n += store.day_rows(exchange, symbol, kind, day)  # whole day in range: the footer's count
                continue
            table = store.read_table(exchange, symbol, kind, day)
            if table.num_rows:
                times = pc.cast(table.column("event_time"), pa.int64())
                n += pc.sum(pc.and_(pc.greater_equal(times, start_us), pc.less(times, end_us)).cast(pa.int64())).as_py() or 0
        out[KIND_TOPIC[kind]] = n
    return out
