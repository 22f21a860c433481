"""The synthetic market runs on event time only: a start time, an order, and no wall clock."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from processors.market_data.synthetic import SIM_DAY_US, SyntheticMarket, SyntheticMarketConfig, span_us
from tests.processors.market_data.synthetic_frames import T0, run

PRIORITY = {"hb.market.candle.v1": 0, "hb.market.book.v1": 1, "hb.market.funding.v1": 2, "hb.market.trade.v1": 3}


def test_when_span_helper_then_durations_in_microseconds() -> None:
    assert span_us(days=1) == SIM_DAY_US == 86_400_000_000
    assert span_us(hours=1, minutes=30, seconds=0.5) == 5_400_500_000


def test_when_started_at_a_time_then_first_snapshot_is_there_and_events_are_in_event_time_order() -> None:
    # Arrange
    start = T0 + span_us(hours=5, minutes=30, seconds=1.5)
    # Act
    events = run(SyntheticMarketConfig(start_us=start), span_us(minutes=20))
    # Assert
    assert events[0] == ("hb.market.book.v1", events[0][1]) and events[0][1]["event_time"] == start
    keys = [(r["event_time"], PRIORITY[t]) for t, r in events]
    assert keys == sorted(keys)
    assert keys[-1][0] < start + span_us(minutes=20)


def test_when_iter_events_starts_later_then_it_yields_exactly_that_window_of_the_same_market() -> None:
    # Arrange
    cfg = SyntheticMarketConfig(seed=9)
    whole = run(cfg, span_us(minutes=30))
    lo, hi = T0 + span_us(minutes=10), T0 + span_us(minutes=20)
    # Act
    window = list(SyntheticMarket(cfg).iter_events(lo, hi))
    # Assert
    assert window == [(t, r) for t, r in whole if lo <= r["event_time"] < hi]


def test_when_iter_events_starts_before_the_cursor_then_it_refuses() -> None:
    market = SyntheticMarket(SyntheticMarketConfig())
    market.generate(T0 + span_us(minutes=1))
    with pytest.raises(ValueError, match="before the cursor"):
        market.iter_events(T0, T0 + span_us(minutes=2))


def test_when_wall_clock_is_unavailable_then_generation_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: any wall-clock read inside the core now fails loudly
    def boom(*_: object) -> float:
        raise AssertionError("the synthetic market read the wall clock")

    class NoNow(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            raise AssertionError("the synthetic market read the wall clock")

    cfg = SyntheticMarketConfig(seed=11)
    market = SyntheticMarket(cfg)
    for name in ("time", "time_ns", "monotonic", "monotonic_ns"):
        monkeypatch.setattr(time, name, boom)
    monkeypatch.setattr("datetime.datetime", NoNow)
    # Act
    events = market.generate(T0 + span_us(minutes=3))
    # Assert
    assert len(events) > 300
