"""Validation of ``hb.market.*`` records: pure checks that say why a record must not reach the strategy.

Every check returns ``None`` for a good record or a :class:`Violation` whose ``reason`` is one of the
stable strings below (they end up at the start of the dead letter's ``reason``, in metrics and in
ClickHouse queries, so they never change meaning) and whose ``detail`` says what was seen.

Two layers:

* stateless checks of one record (:func:`check_book`, :func:`check_trade`, :func:`check_candle`,
  :func:`check_funding`, :func:`check_record`): finite positive prices, finite non-negative sizes,
  sorted and uncrossed books, consistent mid/spread, sane candles and funding;
* :class:`FeedValidator`, one per market, which also remembers what it accepted: event time must not
  go backwards per kind, book sequences must increase (and, for sources whose sequences are
  contiguous, must not skip), a trade id or candle is accepted once, and a book older than
  ``stale_after_s`` (30 s, spec P1-5 ``order_book_stale``) relative to ``now_us`` is stale.

Nothing here reads a clock: "now" is always passed in.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from processors.clock import US_PER_S, to_micros
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, TRADE_TOPIC

# Stable reason codes. Add new ones; never rename or reuse one.
NAN_PRICE = "nan_price"
"""A price is NaN or infinite."""
NON_POSITIVE_PRICE = "non_positive_price"
"""A price is zero or negative."""
NAN_SIZE = "nan_size"
"""A size (level size, trade size, candle volume) is NaN or infinite."""
NEGATIVE_SIZE = "negative_size"
"""A size is negative."""
ZERO_SIZE = "zero_size"
"""A trade of size zero (a book level may not be empty either: it would be a deletion, not a level)."""
EMPTY_BOOK = "empty_book"
"""A book side has no level, so there is no mid."""
CROSSED_BOOK = "crossed_book"
"""Best bid above best ask."""
LOCKED_BOOK = "locked_book"
"""Best bid equal to best ask."""
UNSORTED_LEVELS = "unsorted_levels"
"""Bids not strictly descending or asks not strictly ascending (a repeated price counts)."""
INCONSISTENT_MID = "inconsistent_mid"
"""``mid`` or ``spread_bps`` disagree with the best levels."""
BAD_SIDE = "bad_side"
"""A trade's aggressor side is neither BUY nor SELL."""
INVALID_OHLC = "invalid_ohlc"
"""A candle whose high/low do not bound its open/close."""
NAN_FUNDING_RATE = "nan_funding_rate"
"""A funding rate that is NaN or infinite."""
BAD_TIME = "bad_time"
"""A timestamp that is missing, not positive, or inconsistent (candle opens after it closes)."""
WRONG_MARKET = "wrong_market"
"""A record of another market reached this market's validator."""
OUT_OF_ORDER = "out_of_order"
"""Event time earlier than the last accepted record of the same kind and market."""
SEQUENCE_REGRESSION = "sequence_regression"
"""Book sequence not above the last accepted one (replayed or rewound update)."""
SEQUENCE_GAP = "sequence_gap"
"""Book sequence skipped numbers on a source whose sequences are contiguous."""
DUPLICATE = "duplicate"
"""Same trade id, candle or funding observation as one already accepted (expected after a reconnect)."""
STALE_BOOK = "stale_book"
"""Book older than ``stale_after_s`` relative to now (spec P1-5: 30 s)."""
CHECKSUM_MISMATCH = "checksum_mismatch"
"""The exchange's book checksum disagrees with the locally maintained book (raised by the feed, not here)."""
UNPARSABLE = "unparsable"
"""An exchange message the exchange library could not parse (raised by the feed, not here)."""

STALE_AFTER_S = 30.0
"""Spec P1-5: a book older than 30 s is stale."""

_MID_REL_TOL = 1e-9
_SPREAD_ABS_TOL_BPS = 1e-3


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a record was rejected: a stable machine-readable ``reason`` and a human ``detail``."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def _bad_number(x: Any) -> bool:
    return not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x)


def check_price(price: Any, what: str) -> Violation | None:
    """A price must be a finite number above zero."""
    if _bad_number(price):
        return Violation(NAN_PRICE, f"{what} price is {price!r}")
    if price <= 0:
        return Violation(NON_POSITIVE_PRICE, f"{what} price is {price!r}")
    return None


def check_size(size: Any, what: str, *, allow_zero: bool) -> Violation | None:
    """A size must be finite and not negative (and above zero unless ``allow_zero``)."""
    if _bad_number(size):
        return Violation(NAN_SIZE, f"{what} size is {size!r}")
    if size < 0:
        return Violation(NEGATIVE_SIZE, f"{what} size is {size!r}")
    if size == 0 and not allow_zero:
        return Violation(ZERO_SIZE, f"{what} size is 0")
    return None


def _check_time(record: Mapping[str, Any], field: str) -> Violation | None:
    value = record.get(field)
    if value is None:
        return Violation(BAD_TIME, f"{field} is missing")
    if to_micros(value) <= 0:
        return Violation(BAD_TIME, f"{field} is {value!r}")
    return None


def _check_levels(levels: Sequence[Mapping[str, Any]], side: str) -> Violation | None:
    for i, level in enumerate(levels):
        what = f"{side}[{i}]"
        v = check_price(level.get("price"), what) or check_size(level.get("size"), what, allow_zero=False)
        if v is not None:
            return v
    prices = [lv["price"] for lv in levels]
    # Bids best (highest) first, asks best (lowest) first; strict, so a repeated price is caught too.
    pairs = zip(prices, prices[1:])
    ok = all(a > b for a, b in pairs) if side == "bids" else all(a < b for a, b in pairs)
    if not ok:
        order = "descending" if side == "bids" else "ascending"
        return Violation(UNSORTED_LEVELS, f"{side} prices not strictly {order}: {prices[:10]}")
    return None


def check_book(record: Mapping[str, Any]) -> Violation | None:
    """Stateless checks of one ``hb.market.book.v1`` record (see the module's reason codes)."""
    v = _check_time(record, "event_time")
    if v is not None:
        return v
    bids, asks = record.get("bids") or [], record.get("asks") or []
    v = _check_levels(bids, "bids") or _check_levels(asks, "asks")
    if v is not None:
        return v
    if not bids or not asks:
        return Violation(EMPTY_BOOK, f"{len(bids)} bid and {len(asks)} ask levels")
    best_bid, best_ask = bids[0]["price"], asks[0]["price"]
    if best_bid > best_ask:
        return Violation(CROSSED_BOOK, f"best bid {best_bid!r} > best ask {best_ask!r}")
    if best_bid == best_ask:
        return Violation(LOCKED_BOOK, f"best bid = best ask = {best_bid!r}")
    mid, spread_bps = record.get("mid"), record.get("spread_bps")
    want_mid = (best_bid + best_ask) / 2
    want_spread = (best_ask - best_bid) / want_mid * 1e4
    if _bad_number(mid) or abs(mid - want_mid) > _MID_REL_TOL * want_mid:
        return Violation(INCONSISTENT_MID, f"mid {mid!r} but best levels give {want_mid!r}")
    if _bad_number(spread_bps) or abs(spread_bps - want_spread) > _SPREAD_ABS_TOL_BPS:
        return Violation(INCONSISTENT_MID, f"spread_bps {spread_bps!r} but best levels give {want_spread!r}")
    return None


def check_trade(record: Mapping[str, Any]) -> Violation | None:
    """Stateless checks of one ``hb.market.trade.v1`` record."""
    v = _check_time(record, "event_time") or check_price(record.get("price"), "trade") or check_size(
        record.get("size"), "trade", allow_zero=False)
    if v is not None:
        return v
    if record.get("aggressor_side") not in ("BUY", "SELL"):
        return Violation(BAD_SIDE, f"aggressor_side is {record.get('aggressor_side')!r}")
    return None


def check_candle(record: Mapping[str, Any]) -> Violation | None:
    """Stateless checks of one ``hb.market.candle.v1`` record."""
    v = _check_time(record, "event_time") or _check_time(record, "open_time")
    if v is not None:
        return v
    if to_micros(record["open_time"]) >= to_micros(record["event_time"]):
        return Violation(BAD_TIME, f"open_time {record['open_time']!r} not before event_time {record['event_time']!r}")
    for field in ("open", "high", "low", "close"):
        v = check_price(record.get(field), f"candle {field}")
        if v is not None:
            return v
    v = check_size(record.get("volume"), "candle volume", allow_zero=True)
    if v is not None:
        return v
    o, h, low, c = record["open"], record["high"], record["low"], record["close"]
    if not (low <= min(o, c) and h >= max(o, c)):
        return Violation(INVALID_OHLC, f"open {o!r} high {h!r} low {low!r} close {c!r}")
    return None


def check_funding(record: Mapping[str, Any]) -> Violation | None:
    """Stateless checks of one ``hb.market.funding.v1`` record."""
    v = _check_time(record, "event_time") or _check_time(record, "next_funding_time")
    if v is not None:
        return v
    rate = record.get("funding_rate")
    if _bad_number(rate):
        return Violation(NAN_FUNDING_RATE, f"funding_rate is {rate!r}")
    mark = record.get("mark_price")
    if mark is not None:
        return check_price(mark, "mark")
    return None


_CHECKS = {BOOK_TOPIC: check_book, TRADE_TOPIC: check_trade, CANDLE_TOPIC: check_candle, FUNDING_TOPIC: check_funding}


def check_record(topic: str, record: Mapping[str, Any]) -> Violation | None:
    """Stateless checks of a record of any market topic (``KeyError`` for a topic that is not one)."""
    return _CHECKS[topic](record)


def is_stale(event_time_us: int, now_us: int, stale_after_s: float = STALE_AFTER_S) -> bool:
    """Whether something that happened at ``event_time_us`` is older than ``stale_after_s`` at ``now_us``."""
    return now_us - event_time_us > stale_after_s * US_PER_S


def check_stale(record: Mapping[str, Any], now_us: int, stale_after_s: float = STALE_AFTER_S) -> Violation | None:
    """A :data:`STALE_BOOK` violation when the book's event time is older than ``stale_after_s`` at ``now_us``."""
    event_us = to_micros(record["event_time"])
    if is_stale(event_us, now_us, stale_after_s):
        return Violation(STALE_BOOK, f"book is {(now_us - event_us) / US_PER_S:.1f} s old (limit {stale_after_s:g} s)")
    return None


class FeedValidator:
    """Validates the records of one market in arrival order and remembers what it accepted.

    Only accepted records move the state, so one bad record does not poison the ones after it: after
    an out-of-order book the next in-order book passes. The one exception is a sequence gap: the
    record is rejected (what came before it was lost) but its sequence becomes the new baseline, so
    the stream resynchronises at once instead of rejecting everything after the hole.

    ``contiguous_sequence``: the source numbers book updates 1, 2, 3, ... (synthetic, replayed or
    recorded files, exchanges with update ids), so a skip is a loss. Live ccxt feeds coalesce updates
    and keep only increase checks. ``stale_after_s=None`` disables the staleness check.
    """

    def __init__(self, market: str, *, contiguous_sequence: bool = False, stale_after_s: float | None = STALE_AFTER_S,
                 remember_trades: int = 10_000) -> None:
        self.market = market
        self.contiguous_sequence = contiguous_sequence
        self.stale_after_s = stale_after_s
        self._remember = remember_trades
        self._last_time: dict[str, int] = {}
        self._last_book_seq: int | None = None
        self._last_candle_open: int | None = None
        self._trade_ids: OrderedDict[str, None] = OrderedDict()

    @property
    def last_book_sequence(self) -> int | None:
        """Sequence of the last accepted (or resynchronised-to) book."""
        return self._last_book_seq

    def validate(self, topic: str, record: Mapping[str, Any], now_us: int | None = None) -> Violation | None:
        """``None`` and the record is accepted (state updated), or why it is rejected (state kept).

        ``now_us`` enables the staleness check of books; without it staleness is not judged.
        """
        if record.get("market") != self.market:
            return Violation(WRONG_MARKET, f"record of {record.get('market')!r} on the validator of {self.market!r}")
        v = check_record(topic, record)
        if v is not None:
            return v
        if topic == BOOK_TOPIC and now_us is not None and self.stale_after_s is not None:
            v = check_stale(record, now_us, self.stale_after_s)
            if v is not None:
                return v
        v = self._check_identity(topic, record)
        if v is not None:
            return v
        event_us = to_micros(record["event_time"])
        last = self._last_time.get(topic)
        if last is not None and event_us < last:
            return Violation(OUT_OF_ORDER,
                             f"event_time {event_us} before the last accepted {last} ({(last - event_us) / 1000:.3f} ms)")
        if topic == BOOK_TOPIC:
            v = self._check_sequence(int(record["sequence"]))
            if v is not None:
                return v
        self._accept(topic, record, event_us)
        return None

    def _check_identity(self, topic: str, record: Mapping[str, Any]) -> Violation | None:
        if topic == TRADE_TOPIC and str(record.get("trade_id")) in self._trade_ids:
            return Violation(DUPLICATE, f"trade {record.get('trade_id')} already accepted")
        if topic == CANDLE_TOPIC and self._last_candle_open is not None:
            open_us = to_micros(record["open_time"])
            if open_us == self._last_candle_open:
                return Violation(DUPLICATE, f"candle opening at {open_us} already accepted")
        if topic == FUNDING_TOPIC and self._last_time.get(topic) == to_micros(record["event_time"]):
            return Violation(DUPLICATE, f"funding observation at {to_micros(record['event_time'])} already accepted")
        return None

    def _check_sequence(self, seq: int) -> Violation | None:
        last = self._last_book_seq
        if last is None:
            return None
        if seq <= last:
            return Violation(SEQUENCE_REGRESSION, f"sequence {seq} not above the last accepted {last}")
        if self.contiguous_sequence and seq != last + 1:
            self._last_book_seq = seq  # resynchronise: the next contiguous book passes
            return Violation(SEQUENCE_GAP, f"sequence {seq} after {last}: {seq - last - 1} missing")
        return None

    def _accept(self, topic: str, record: Mapping[str, Any], event_us: int) -> None:
        self._last_time[topic] = event_us
        if topic == BOOK_TOPIC:
            self._last_book_seq = int(record["sequence"])
        elif topic == TRADE_TOPIC:
            self._trade_ids[str(record["trade_id"])] = None
            if len(self._trade_ids) > self._remember:
                self._trade_ids.popitem(last=False)
        elif topic == CANDLE_TOPIC:
            self._last_candle_open = to_micros(record["open_time"])
