"""Market-record validation: each bad record is rejected with its stable reason, good ones pass."""

from __future__ import annotations

import math
from typing import Any

import pytest

from processors.clock import US_PER_S
from processors.market_data import validation as v
from processors.market_data.synthetic import SyntheticMarketConfig, span_us
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, TRADE_TOPIC
from processors.market_data.validation import FeedValidator, check_book, check_candle, check_funding, check_trade
from tests.processors.market_data.synthetic_frames import run

MARKET = "bitget:BTC/USDT:USDT"
T = 1_750_000_000_000_000


def book(bids: list[tuple[float, float]] | None = None, asks: list[tuple[float, float]] | None = None, *,
         t: int = T, seq: int = 1, **over: Any) -> dict[str, Any]:
    bids = [(100.0, 1.0), (99.9, 2.0)] if bids is None else bids
    asks = [(100.1, 1.5), (100.2, 3.0)] if asks is None else asks
    rec: dict[str, Any] = {"event_id": f"b{seq}", "event_time": t, "market": MARKET, "sequence": seq,
                           "bids": [{"price": p, "size": s} for p, s in bids],
                           "asks": [{"price": p, "size": s} for p, s in asks], "source": "test", "sim_regime": None}
    if bids and asks and all(math.isfinite(x) for x in (bids[0][0], asks[0][0])):
        mid = (bids[0][0] + asks[0][0]) / 2
        rec.update(mid=mid, spread_bps=(asks[0][0] - bids[0][0]) / mid * 1e4)
    else:
        rec.update(mid=math.nan, spread_bps=math.nan)
    rec.update(over)
    return rec


def trade(tid: str = "1", *, t: int = T, price: float = 100.0, size: float = 0.5, side: str = "BUY") -> dict[str, Any]:
    return {"event_id": f"t{tid}", "event_time": t, "market": MARKET, "trade_id": tid, "price": price, "size": size,
            "aggressor_side": side, "sequence": int(tid), "source": "test", "informed": None}


def candle(open_us: int = T, **over: Any) -> dict[str, Any]:
    rec = {"event_id": f"c{open_us}", "event_time": open_us + 60 * US_PER_S, "market": MARKET, "interval": "1m",
           "open_time": open_us, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 3.0,
           "trade_count": 0, "source": "test"}
    rec.update(over)
    return rec


def funding(t: int = T, **over: Any) -> dict[str, Any]:
    rec = {"event_id": f"f{t}", "event_time": t, "market": MARKET, "funding_rate": 0.0001,
           "next_funding_time": t + 3600 * US_PER_S, "mark_price": 100.0, "is_settlement": False, "source": "test"}
    rec.update(over)
    return rec


def reason(violation: v.Violation | None) -> str | None:
    return None if violation is None else violation.reason


def test_when_records_are_good_then_every_check_passes() -> None:
    assert check_book(book()) is None
    assert check_trade(trade()) is None
    assert check_candle(candle()) is None
    assert check_funding(funding()) is None
    assert check_funding(funding(mark_price=None)) is None


@pytest.mark.parametrize(("record", "expected"), [
    (book(bids=[(math.nan, 1.0)]), v.NAN_PRICE),
    (book(asks=[(math.inf, 1.0)]), v.NAN_PRICE),
    (book(bids=[(0.0, 1.0)]), v.NON_POSITIVE_PRICE),
    (book(asks=[(-100.1, 1.0)]), v.NON_POSITIVE_PRICE),
    (book(bids=[(100.0, math.nan)]), v.NAN_SIZE),
    (book(asks=[(100.1, -0.5)]), v.NEGATIVE_SIZE),
    (book(bids=[(100.0, 0.0)]), v.ZERO_SIZE),
    (book(bids=[(100.2, 1.0)], asks=[(100.1, 1.0)]), v.CROSSED_BOOK),
    (book(bids=[(100.1, 1.0)], asks=[(100.1, 1.0)]), v.LOCKED_BOOK),
    (book(bids=[(99.9, 1.0), (100.0, 1.0)]), v.UNSORTED_LEVELS),
    (book(asks=[(100.1, 1.0), (100.1, 2.0)]), v.UNSORTED_LEVELS),
    (book(bids=[]), v.EMPTY_BOOK),
    (book(mid=100.0), v.INCONSISTENT_MID),
    (book(spread_bps=1.0), v.INCONSISTENT_MID),
    (book(event_time=0), v.BAD_TIME),
])
def test_when_a_book_is_bad_then_its_stable_reason_is_given(record: dict[str, Any], expected: str) -> None:
    violation = check_book(record)
    assert reason(violation) == expected
    assert str(violation).startswith(f"{expected}: ") and len(violation.detail) > 5


@pytest.mark.parametrize(("record", "expected"), [
    (trade(price=math.nan), v.NAN_PRICE),
    (trade(price=-1.0), v.NON_POSITIVE_PRICE),
    (trade(size=-0.5), v.NEGATIVE_SIZE),
    (trade(size=math.nan), v.NAN_SIZE),
    (trade(size=0.0), v.ZERO_SIZE),
    (trade(side="HOLD"), v.BAD_SIDE),
])
def test_when_a_trade_is_bad_then_its_stable_reason_is_given(record: dict[str, Any], expected: str) -> None:
    assert reason(check_trade(record)) == expected


@pytest.mark.parametrize(("record", "expected"), [
    (candle(high=99.5), v.INVALID_OHLC),
    (candle(low=100.7), v.INVALID_OHLC),
    (candle(close=math.nan), v.NAN_PRICE),
    (candle(volume=-1.0), v.NEGATIVE_SIZE),
    (candle(open_time=T + 120 * US_PER_S), v.BAD_TIME),
])
def test_when_a_candle_is_bad_then_its_stable_reason_is_given(record: dict[str, Any], expected: str) -> None:
    assert reason(check_candle(record)) == expected


@pytest.mark.parametrize(("record", "expected"), [
    (funding(funding_rate=math.nan), v.NAN_FUNDING_RATE),
    (funding(mark_price=0.0), v.NON_POSITIVE_PRICE),
    (funding(next_funding_time=0), v.BAD_TIME),
])
def test_when_a_funding_record_is_bad_then_its_stable_reason_is_given(record: dict[str, Any], expected: str) -> None:
    assert reason(check_funding(record)) == expected


def test_when_a_book_is_more_than_30_s_old_then_it_is_stale() -> None:
    # Spec P1-5: stale means older than 30 s; exactly 30 s is still fresh.
    assert v.STALE_AFTER_S == 30.0
    assert not v.is_stale(T, T + 30 * US_PER_S)
    assert v.is_stale(T, T + 30 * US_PER_S + 1)
    assert v.check_stale(book(), T + 30 * US_PER_S) is None
    assert reason(v.check_stale(book(), T + 31 * US_PER_S)) == v.STALE_BOOK
    assert "31.0 s old" in v.check_stale(book(), T + 31 * US_PER_S).detail


def test_when_books_arrive_then_the_feed_validator_rejects_late_rewound_and_stale_ones_and_keeps_going() -> None:
    # Arrange
    fv = FeedValidator(MARKET)
    now = T + US_PER_S
    # Act / Assert: each rejection leaves the state as it was, so the next good book passes
    assert fv.validate(BOOK_TOPIC, book(t=T, seq=10), now) is None
    assert reason(fv.validate(BOOK_TOPIC, book(t=T - 1000, seq=11), now)) == v.OUT_OF_ORDER
    assert reason(fv.validate(BOOK_TOPIC, book(t=T + 1000, seq=10), now)) == v.SEQUENCE_REGRESSION
    assert reason(fv.validate(BOOK_TOPIC, book(t=T - 40 * US_PER_S, seq=12), now)) == v.STALE_BOOK
    assert reason(fv.validate(BOOK_TOPIC, book(bids=[(100.2, 1.0)], t=T + 1000, seq=12), now)) == v.CROSSED_BOOK
    assert fv.validate(BOOK_TOPIC, book(t=T + 1000, seq=15), now) is None  # gaps allowed: not contiguous
    assert fv.validate(BOOK_TOPIC, book(t=T + 1000, seq=16)) is None  # same time is in order; no now, no staleness
    assert fv.last_book_sequence == 16


def test_when_sequences_are_contiguous_and_one_skips_then_it_is_a_gap_and_the_stream_resynchronises() -> None:
    fv = FeedValidator(MARKET, contiguous_sequence=True)
    assert fv.validate(BOOK_TOPIC, book(seq=1)) is None
    assert fv.validate(BOOK_TOPIC, book(seq=2)) is None
    gap = fv.validate(BOOK_TOPIC, book(seq=5))
    assert reason(gap) == v.SEQUENCE_GAP and "2 missing" in gap.detail
    assert fv.validate(BOOK_TOPIC, book(seq=6)) is None
    assert reason(fv.validate(BOOK_TOPIC, book(seq=6))) == v.SEQUENCE_REGRESSION


def test_when_trades_arrive_then_duplicates_and_late_trades_are_rejected() -> None:
    fv = FeedValidator(MARKET)
    assert fv.validate(TRADE_TOPIC, trade("1", t=T)) is None
    assert fv.validate(TRADE_TOPIC, trade("2", t=T)) is None  # same timestamp is fine
    assert reason(fv.validate(TRADE_TOPIC, trade("1", t=T))) == v.DUPLICATE
    assert reason(fv.validate(TRADE_TOPIC, trade("3", t=T - 1))) == v.OUT_OF_ORDER
    assert reason(fv.validate(TRADE_TOPIC, trade("4", t=T, size=-1.0))) == v.NEGATIVE_SIZE
    assert fv.validate(TRADE_TOPIC, trade("3", t=T + 1)) is None  # a rejected id was not remembered


def test_when_trade_memory_is_full_then_the_oldest_ids_are_forgotten() -> None:
    fv = FeedValidator(MARKET, remember_trades=2)
    for i in range(1, 4):
        assert fv.validate(TRADE_TOPIC, trade(str(i))) is None
    assert reason(fv.validate(TRADE_TOPIC, trade("3"))) == v.DUPLICATE
    assert fv.validate(TRADE_TOPIC, trade("1")) is None


def test_when_candles_and_funding_repeat_then_they_are_duplicates_and_earlier_ones_out_of_order() -> None:
    fv = FeedValidator(MARKET)
    assert fv.validate(CANDLE_TOPIC, candle(T)) is None
    assert reason(fv.validate(CANDLE_TOPIC, candle(T))) == v.DUPLICATE
    assert reason(fv.validate(CANDLE_TOPIC, candle(T - 60 * US_PER_S))) == v.OUT_OF_ORDER
    assert fv.validate(CANDLE_TOPIC, candle(T + 60 * US_PER_S)) is None
    assert fv.validate(FUNDING_TOPIC, funding(T)) is None
    assert reason(fv.validate(FUNDING_TOPIC, funding(T))) == v.DUPLICATE
    assert reason(fv.validate(FUNDING_TOPIC, funding(T - 1))) == v.OUT_OF_ORDER


def test_when_a_record_of_another_market_arrives_then_it_is_rejected() -> None:
    fv = FeedValidator(MARKET)
    assert reason(fv.validate(TRADE_TOPIC, {**trade(), "market": "okx:BTC/USDT:USDT"})) == v.WRONG_MARKET


def test_when_the_synthetic_market_is_validated_then_nothing_is_rejected() -> None:
    # The validator and the synthetic market agree on what a good record is (contiguous sequences included).
    cfg = SyntheticMarketConfig(seed=3, book_interval_ms=500)
    fv = FeedValidator(cfg.market, contiguous_sequence=True)
    events = run(cfg, span_us(minutes=10))
    rejected = [(t, fv.validate(t, r)) for t, r in events]
    assert len(events) > 1000
    assert [x for x in rejected if x[1] is not None] == []
