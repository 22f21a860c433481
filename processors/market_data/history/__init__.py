"""Historical market data: fetch (ccxt REST), import (recorded files), store (Parquet), replay.

* :mod:`.store`: the Parquet layout ``HOME/data/<exchange>/<symbol-safe>/<kind>/date=YYYY-MM-DD/part.parquet``
  whose columns are the fields of the ``hb.market.*`` Avro records, plus per-day fetch checkpoints.
* :mod:`.fetch`: :class:`HistoryFetcher`, 1m OHLCV, funding settlements and trades through ccxt,
  paged, rate-limited by ccxt's throttle, resumable per kind and day.
* :mod:`.formats`, :mod:`.l2book`, :mod:`.importer`: recorded files (a registry of line formats; the
  hftbacktest Binance USD-M recorder is built in), L2 book rebuilt from depth diffs with update-id
  continuity, book snapshots, trades and 1m candles.
* :mod:`.replay`: the pure event-time-ordered iterator over a stored range; pacing and publishing
  live in the CLI (``hbot data replay``).

Rows that fail the shared market-data checks (:mod:`processors.market_data.validation`) are never
stored and never dropped silently: fetch and import reports count them per reason.
"""

from processors.market_data.history.fetch import FetchConfig, FetchReport, HistoryFetcher, fetch_book_snapshot
from processors.market_data.history.importer import ImportConfig, ImportReport, RecordingImporter, import_file, import_lines
from processors.market_data.history.replay import replay, stored_counts
from processors.market_data.history.store import KINDS, HistoryStore, StoreError

__all__ = [
    "KINDS",
    "FetchConfig",
    "FetchReport",
    "HistoryFetcher",
    "HistoryStore",
    "ImportConfig",
    "ImportReport",
    "RecordingImporter",
    "StoreError",
    "fetch_book_snapshot",
    "import_file",
    "import_lines",
    "replay",
    "stored_counts",
]
