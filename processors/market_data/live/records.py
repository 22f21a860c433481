"""ccxt unified structures -> ``hb.market.*`` record dicts (pure: the receive time is passed in).

The builders never raise on odd exchange data: a missing or unparsable number becomes NaN and the
validator rejects the record with a readable reason, so bad data reaches the dead-letter queue
instead of killing the feed. ``produce_time`` is left out, as for the synthetic market: the producer
stamps it. Ids follow :func:`processors.ids.make_id` with ``"live"`` where the synthetic market puts
its run id, so a re-delivered exchange event gets the same id and is dropped downstream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from processors.clock import US_PER_MIN
from processors.ids import make_id

SOURCE = "live"
_MAX_LONG = 2**63 - 1
_US_PER_MS = 1000


def _num(x: Any) -> float:
    """A float from whatever ccxt gave (number, numeric string, None); NaN when it is not a number."""
    if x is None or isinstance(x, bool):
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _ms_to_us(ms: Any) -> int | None:
    """Microseconds from a millisecond timestamp, or ``None`` when there is none."""
    v = _num(ms)
    return None if not math.isfinite(v) else int(round(v * _US_PER_MS))


def book_sequence(nonce: Any, last_sequence: int | None, event_time_us: int) -> int:
    """Sequence of a book record: the exchange's update id when ccxt exposes one (``nonce``).

    Otherwise a number derived from the event time, bumped to stay strictly above the last one, so
    that sequences and ids keep increasing across restarts instead of starting again at 1.
    """
    if nonce is not None:
        try:
            seq = int(nonce)
        except (TypeError, ValueError):
            seq = None
        if seq is not None and 0 <= seq <= _MAX_LONG:
            return seq
    return event_time_us if last_sequence is None else max(last_sequence + 1, event_time_us)


def _levels(side: Sequence[Sequence[Any]], depth: int) -> list[dict[str, float]]:
    # ccxt levels are [price, size] (incremental books append the raw delta as a third item).
    return [{"price": _num(lv[0] if len(lv) > 0 else None), "size": _num(lv[1] if len(lv) > 1 else None)}
            for lv in list(side)[:depth]]


def book_record(market: str, book: Mapping[str, Any], depth: int, received_us: int,
                last_sequence: int | None = None) -> dict[str, Any]:
    """The ``hb.market.book.v1`` record of a ccxt order book: top ``depth`` levels, mid and spread.

    Event time is the exchange's book timestamp, or ``received_us`` when the exchange gives none; the
    sequence comes from :func:`book_sequence` (``last_sequence``: the one given to the previous book).
    """
    bids, asks = _levels(book.get("bids") or [], depth), _levels(book.get("asks") or [], depth)
    event_us = _ms_to_us(book.get("timestamp"))
    event_us = event_us if event_us is not None else received_us
    sequence = book_sequence(book.get("nonce"), last_sequence, event_us)
    mid = spread_bps = math.nan
    if bids and asks:
        bb, ba = bids[0]["price"], asks[0]["price"]
        mid = (bb + ba) / 2
        if math.isfinite(mid) and mid != 0:
            spread_bps = (ba - bb) / mid * 1e4
    return {
        "event_id": make_id("book", market, SOURCE, sequence),
        "event_time": event_us,
        "market": market,
        "sequence": sequence,
        "bids": bids,
        "asks": asks,
        "mid": mid,
        "spread_bps": spread_bps,
        "source": SOURCE,
        "sim_regime": None,
    }


def trade_record(market: str, trade: Mapping[str, Any], received_us: int) -> dict[str, Any]:
    """The ``hb.market.trade.v1`` record of a ccxt public trade.

    The sequence is the exchange's trade id when it is a number (Bitget, Binance, OKX), else the
    event time. A trade without an id gets one from its content, so a re-delivery keeps its id.
    """
    event_us = _ms_to_us(trade.get("timestamp"))
    event_us = event_us if event_us is not None else received_us
    price, size = _num(trade.get("price")), _num(trade.get("amount"))
    trade_id = trade.get("id")
    trade_id = str(trade_id) if trade_id is not None else make_id("t", event_us, price, size, trade.get("side"))
    seq = int(trade_id) if trade_id.isdigit() and int(trade_id) <= _MAX_LONG else event_us
    side = trade.get("side")
    return {
        "event_id": make_id("trade", market, SOURCE, trade_id),
        "event_time": event_us,
        "market": market,
        "trade_id": trade_id,
        "price": price,
        "size": size,
        "aggressor_side": {"buy": "BUY", "sell": "SELL"}.get(str(side).lower(), side),
        "sequence": seq,
        "source": SOURCE,
        "informed": None,
    }


def candle_record(market: str, ohlcv: Sequence[Any], interval: str = "1m", interval_us: int = US_PER_MIN) -> dict[str, Any]:
    """The ``hb.market.candle.v1`` record of one ccxt OHLCV row ``[open ms, o, h, l, c, volume]``.

    Event time is the candle's close (open + interval), as for the synthetic market; the exchange
    does not say how many trades it holds, so ``trade_count`` is 0 (unknown).
    """
    row = list(ohlcv) + [None] * (6 - len(ohlcv))
    open_us = _ms_to_us(row[0]) or 0
    return {
        "event_id": make_id("candle", market, SOURCE, interval, open_us),
        "event_time": open_us + interval_us if open_us else 0,
        "market": market,
        "interval": interval,
        "open_time": open_us,
        "open": _num(row[1]),
        "high": _num(row[2]),
        "low": _num(row[3]),
        "close": _num(row[4]),
        "volume": _num(row[5]),
        "trade_count": 0,
        "source": SOURCE,
    }


def funding_record(market: str, rate: Mapping[str, Any], received_us: int) -> dict[str, Any]:
    """The ``hb.market.funding.v1`` record of a ccxt funding-rate structure (an observation, not a settlement).

    Event time is the exchange's timestamp, or ``received_us`` when it gives none (Bitget's current
    funding endpoint does not). The next settlement is ``nextFundingTimestamp`` when the exchange
    separates it from the current period's ``fundingTimestamp``, else ``fundingTimestamp`` (Bitget
    reports the upcoming settlement there).
    """
    event_us = _ms_to_us(rate.get("timestamp"))
    event_us = event_us if event_us is not None else received_us
    nxt = _ms_to_us(rate.get("nextFundingTimestamp"))
    if nxt is None:
        nxt = _ms_to_us(rate.get("fundingTimestamp"))
    mark = _num(rate.get("markPrice"))
    return {
        "event_id": make_id("funding", market, SOURCE, f"{event_us}:O"),
        "event_time": event_us,
        "market": market,
        "funding_rate": _num(rate.get("fundingRate")),
        "next_funding_time": nxt if nxt is not None else 0,
        "mark_price": None if math.isnan(mark) else mark,
        "is_settlement": False,
        "source": SOURCE,
    }
