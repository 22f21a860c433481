"""Historical data as ``hb.market.*`` records, and the count of what was refused and why.

Event ids depend only on the market and the exchange's own identity of the event (trade id, candle
open time, book update id, funding time), never on when or how it was fetched: fetching a day twice,
importing a recording twice, or fetching trades that a recording also holds yields the same ids, so the
store and every consumer downstream deduplicate them. ``produce_time`` is left out (the producer stamps
it) and ``source`` is ``"replay"``: stored history only ever reaches Kafka through a replay.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.clock import US_PER_MIN
from processors.market_data import validation
from processors.market_data.history.store import KIND_TOPIC
from processors.market_data.synthetic.records import id_maker

SOURCE = "replay"
_MAX_SEQ = 2**63 - 1
FUNDING_INTERVAL_US = 8 * 3600 * 1_000_000
"""Funding period when the market does not say (8 h, the usual perpetual schedule)."""


def numeric_sequence(value: object) -> int:
    """An exchange id as a sequence number when it is a non-negative integer that fits a long, else 0."""
    s = str(value)
    if s.isdigit():
        n = int(s)
        if n <= _MAX_SEQ:
            return n
    return 0


class RecordMaker:
    """Builds the records of one market (``exchange:symbol``)."""

    def __init__(self, market: str, interval: str = "1m") -> None:
        self.market = market
        self.interval = interval
        self._book_id = id_maker("book", market)
        self._trade_id = id_maker("trade", market)
        self._candle_id = id_maker("candle", market, interval)
        self._funding_id = id_maker("funding", market)

    def book(self, time_us: int, sequence: int, bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]]) -> dict[str, Any]:
        """A book snapshot from best-first ``(price, size)`` levels; mid and spread from the best levels.

        Mid and spread are NaN when a side is empty, so validation refuses the record with a reason.
        """
        if bids and asks:
            bb, ba = bids[0][0], asks[0][0]
            mid = (bb + ba) / 2
            spread_bps = (ba - bb) / mid * 1e4 if mid > 0 else math.nan
        else:
            mid = spread_bps = math.nan
        return {
            "event_id": self._book_id(sequence),
            "event_time": time_us,
            "market": self.market,
            "sequence": sequence,
            "bids": [{"price": p, "size": s} for p, s in bids],
            "asks": [{"price": p, "size": s} for p, s in asks],
            "mid": mid,
            "spread_bps": spread_bps,
            "source": SOURCE,
            "sim_regime": None,
        }

    def trade(self, time_us: int, trade_id: str, price: float, size: float, aggressor_side: str, sequence: int) -> dict[str, Any]:
        """A public trade; ``aggressor_side`` is ``BUY`` (lifted the ask) or ``SELL`` (hit the bid)."""
        return {
            "event_id": self._trade_id(trade_id),
            "event_time": time_us,
            "market": self.market,
            "trade_id": trade_id,
            "price": price,
            "size": size,
            "aggressor_side": aggressor_side,
            "sequence": sequence,
            "source": SOURCE,
            "informed": None,
        }

    def candle(self, open_time_us: int, close_time_us: int, o: float, h: float, low: float, c: float,
               volume: float, trade_count: int) -> dict[str, Any]:
        """A closed candle; its event time is its close (when it became known), as on the synthetic market."""
        return {
            "event_id": self._candle_id(open_time_us),
            "event_time": close_time_us,
            "market": self.market,
            "interval": self.interval,
            "open_time": open_time_us,
            "open": o,
            "high": h,
            "low": low,
            "close": c,
            "volume": volume,
            "trade_count": trade_count,
            "source": SOURCE,
        }

    def funding(self, time_us: int, rate: float, next_funding_time_us: int, mark_price: float | None = None,
                is_settlement: bool = True) -> dict[str, Any]:
        """A funding observation (``is_settlement=False``) or settlement."""
        return {
            "event_id": self._funding_id(f"{time_us}:{'S' if is_settlement else 'O'}"),
            "event_time": time_us,
            "market": self.market,
            "funding_rate": rate,
            "next_funding_time": next_funding_time_us,
            "mark_price": mark_price,
            "is_settlement": is_settlement,
            "source": SOURCE,
        }

    # ccxt unified structures -------------------------------------------------------------------------
    def candle_from_ohlcv(self, row: Sequence[Any], interval_us: int = US_PER_MIN) -> dict[str, Any]:
        """``[timestamp ms, open, high, low, close, volume]`` (ccxt ``fetchOHLCV``) as a candle record."""
        t = int(row[0]) * 1000
        return self.candle(t, t + interval_us, _num(row[1]), _num(row[2]), _num(row[3]), _num(row[4]), _num(row[5]), 0)

    def trade_from_ccxt(self, t: Mapping[str, Any]) -> dict[str, Any]:
        """A ccxt public trade (``fetchTrades``): ``side`` there is the taker's side."""
        side = str(t.get("side") or "").upper()
        tid = str(t.get("id"))
        return self.trade(int(t["timestamp"]) * 1000, tid, _num(t.get("price")), _num(t.get("amount")), side, numeric_sequence(tid))

    def funding_from_ccxt(self, f: Mapping[str, Any], interval_us: int = FUNDING_INTERVAL_US) -> dict[str, Any]:
        """A ccxt funding-rate-history entry: a settlement; the next one is one funding period later."""
        t = int(f["timestamp"]) * 1000
        return self.funding(t, _num(f.get("fundingRate")), t + interval_us, None, True)

    def book_from_ccxt(self, ob: Mapping[str, Any], levels: int) -> dict[str, Any]:
        """A ccxt order book (``fetchOrderBook``): its update id (``nonce``) or else its timestamp is the sequence."""
        ts = ob.get("timestamp")
        if ts is None:
            raise ValueError("order book without a timestamp: cannot place it in event time")
        seq = ob.get("nonce")
        seq = int(seq) if seq is not None else int(ts)
        bids = [(_num(p), _num(s)) for p, s, *_ in ob.get("bids", [])[:levels]]
        asks = [(_num(p), _num(s)) for p, s, *_ in ob.get("asks", [])[:levels]]
        return self.book(int(ts) * 1000, seq, bids, asks)


def _num(x: Any) -> float:
    """A float from an exchange value; missing or unparsable values become NaN so validation names them."""
    if x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Quality:
    """What was refused (by kind and reason, with one example each) and what arrived out of order.

    Nothing is dropped silently: every refused row is counted here and the count is reported.
    Out-of-order rows are kept (the store sorts by event time) but counted too.
    """

    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    out_of_order: Counter[str] = field(default_factory=Counter)
    _last_time: dict[str, int] = field(default_factory=dict)

    def admit(self, kind: str, record: Mapping[str, Any]) -> bool:
        """True when ``record`` passes the shared market-data checks; otherwise count why and return False."""
        v = validation.check_record(KIND_TOPIC[kind], record)
        if v is not None:
            self.reject(kind, v.reason, v.detail)
            return False
        t = record["event_time"]
        last = self._last_time.get(kind)
        if last is not None and t < last:
            self.out_of_order[kind] += 1
        else:
            self._last_time[kind] = t
        return True

    def reject(self, kind: str, reason: str, detail: str = "") -> None:
        """Count one refused row (or line) of ``kind`` with a stable ``reason``."""
        key = (kind, reason)
        self.rejected[key] += 1
        self.examples.setdefault(key, detail)

    @property
    def total_rejected(self) -> int:
        """All refused rows."""
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        """Human-readable summary, one line per (kind, reason)."""
        out = [f"{kind}: {n} refused ({reason}), e.g. {self.examples.get((kind, reason), '')}"
               for (kind, reason), n in sorted(self.rejected.items())]
        out += [f"{kind}: {n} out of event-time order (kept, stored sorted)" for kind, n in sorted(self.out_of_order.items()) if n]
        return out
