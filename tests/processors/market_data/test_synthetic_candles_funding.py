"""1m candles match the trades they are built from; funding settles every 8 h from 00:00 UTC."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from processors.market_data.synthetic import SyntheticMarketConfig, span_us
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, TRADE_TOPIC
from tests.processors.market_data.synthetic_frames import HOUR_US, T0, US_PER_MIN, fast_regimes, run

EIGHT_H = 8 * HOUR_US


def test_when_a_minute_closes_then_its_candle_equals_the_ohlcv_of_its_trades() -> None:
    # Arrange: start mid-minute so the first candle is a partial one
    start = T0 + span_us(seconds=20.5)
    events = run(SyntheticMarketConfig(seed=21, start_us=start), span_us(minutes=45))
    by_minute: dict[int, list[dict]] = defaultdict(list)
    for topic, r in events:
        if topic == TRADE_TOPIC:
            by_minute[r["event_time"] - r["event_time"] % US_PER_MIN].append(r)
    # Act
    candles = [r for t, r in events if t == CANDLE_TOPIC]
    # Assert: one candle per closed minute, contiguous, aligned, emitted at the close
    assert [c["open_time"] for c in candles] == [T0 + i * US_PER_MIN for i in range(len(candles))]
    assert len(candles) == 45  # closes at 00:01 ... 00:45; the run ends at 00:45:20.5
    for c in candles:
        trades = by_minute[c["open_time"]]
        prices = [t["price"] for t in trades]
        assert c["event_time"] == c["open_time"] + US_PER_MIN and c["interval"] == "1m"
        assert (c["open"], c["high"], c["low"], c["close"]) == (prices[0], max(prices), min(prices), prices[-1])
        assert c["volume"] == pytest.approx(math.fsum(t["size"] for t in trades), rel=1e-12)
        assert c["trade_count"] == len(trades)


def test_when_a_candle_is_emitted_then_no_trade_of_its_minute_comes_after_it() -> None:
    events = run(SyntheticMarketConfig(seed=22), span_us(minutes=20))
    closed_until = 0
    for topic, r in events:
        if topic == CANDLE_TOPIC:
            closed_until = r["open_time"] + US_PER_MIN
        elif topic == TRADE_TOPIC:
            assert r["event_time"] >= closed_until


def test_when_a_minute_has_no_trade_then_its_candle_is_flat_at_the_last_price_with_zero_volume() -> None:
    # Arrange: a trickle of trades so that some minutes stay empty
    cfg = SyntheticMarketConfig(seed=23, regimes=fast_regimes(0.002))
    events = run(cfg, span_us(hours=2))
    # Act
    last_price = cfg.initial_price
    empty = 0
    for topic, r in events:
        if topic == TRADE_TOPIC:
            last_price = r["price"]
        elif topic == CANDLE_TOPIC and r["trade_count"] == 0:
            empty += 1
            # Assert
            assert (r["open"], r["high"], r["low"], r["close"], r["volume"]) == (last_price,) * 4 + (0.0,)
    assert empty > 10


def test_when_funding_is_published_then_settlements_fall_on_8h_utc_boundaries_with_correct_next_time() -> None:
    # Arrange: 27 h from 05:30 UTC crosses 08:00, 16:00, 00:00 and 08:00 UTC
    start = T0 + span_us(hours=5, minutes=30)
    cfg = SyntheticMarketConfig(seed=24, start_us=start, book_interval_ms=2000, regimes=fast_regimes(0.01))
    events = run(cfg, span_us(hours=27))
    mid_at = {r["event_time"]: r["mid"] for t, r in events if t == BOOK_TOPIC}
    # Act
    funding = [r for t, r in events if t == FUNDING_TOPIC]
    settlements = [r for r in funding if r["is_settlement"]]
    # Assert
    assert [s["event_time"] for s in settlements] == [T0 + h * HOUR_US for h in (8, 16, 24, 32)]
    assert all(s["next_funding_time"] == s["event_time"] + EIGHT_H for s in settlements)
    for r in funding:
        assert r["event_time"] % (60 * 1_000_000) == 0
        assert r["next_funding_time"] == (r["event_time"] // EIGHT_H + 1) * EIGHT_H
        assert abs(r["funding_rate"]) <= cfg.funding_cap
        assert r["mark_price"] == mid_at[r["event_time"]]
    times = [r["event_time"] for r in funding]
    assert times == list(range(times[0], times[-1] + 1, 60 * 1_000_000)) and len(times) == 27 * 60
    assert len({r["funding_rate"] for r in funding}) > 100  # the rate moves
