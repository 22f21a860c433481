"""Seed and config fully determine the synthetic market; how the caller chunks time does not matter."""

from __future__ import annotations

import pytest

import processors.market_data.synthetic.market as market_module
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us
from processors.market_data.topics import BOOK_TOPIC, MARKET_TOPICS
from tests.processors.market_data.synthetic_frames import run


def test_when_same_seed_and_config_then_every_record_is_identical_including_ids() -> None:
    # Arrange
    cfg = SyntheticMarketConfig(seed=42)
    # Act
    first = run(cfg, span_us(minutes=30))
    second = run(SyntheticMarketConfig(seed=42), span_us(minutes=30))
    # Assert
    assert len(first) > 5_000
    assert {topic for topic, _ in first} == set(MARKET_TOPICS)
    assert first == second


def test_when_seed_differs_then_prices_and_ids_differ() -> None:
    # Arrange / Act
    a = run(SyntheticMarketConfig(seed=1), span_us(minutes=10))
    b = run(SyntheticMarketConfig(seed=2), span_us(minutes=10))
    # Assert: same clock, different market
    books_a = [r for t, r in a if t == BOOK_TOPIC]
    books_b = [r for t, r in b if t == BOOK_TOPIC]
    assert [r["event_time"] for r in books_a] == [r["event_time"] for r in books_b]
    assert [r["mid"] for r in books_a] != [r["mid"] for r in books_b]
    assert not {r["event_id"] for _, r in a} & {r["event_id"] for _, r in b}


def test_when_config_changes_then_event_ids_change() -> None:
    # Arrange / Act: same seed, a different spread
    a = run(SyntheticMarketConfig(seed=3), span_us(seconds=30))
    b = run(SyntheticMarketConfig(seed=3, spread_bps=3.0), span_us(seconds=30))
    # Assert: a changed config is a different market, so no id may collide in a shared store
    assert a[0][1]["sequence"] == b[0][1]["sequence"] == 1
    assert a[0][1]["event_id"] != b[0][1]["event_id"]


def test_when_generated_in_arbitrary_chunks_then_stream_equals_one_shot_run() -> None:
    # Arrange
    cfg = SyntheticMarketConfig(seed=5)
    whole = run(cfg, span_us(minutes=40))
    market = SyntheticMarket(cfg)
    # Act: odd chunk sizes that straddle windows, blocks and minute boundaries
    pieces = []
    for step in (1, 7_000_001, span_us(minutes=13), span_us(seconds=0.25), span_us(minutes=3)):
        pieces += market.generate(market.cursor_us + step)
    for _, chunk in market.iter_chunks(market.start_us + span_us(minutes=40), span_us(seconds=97)):
        pieces += chunk
    # Assert
    assert pieces == whole


def test_when_iterator_is_abandoned_midway_then_next_call_resumes_exactly() -> None:
    # Arrange
    cfg = SyntheticMarketConfig(seed=6)
    whole = run(cfg, span_us(minutes=20))
    market = SyntheticMarket(cfg)
    it = market.iter_events(market.start_us, market.start_us + span_us(minutes=20))
    # Act: take 1234 events, drop the iterator, continue
    head = [next(it) for _ in range(1234)]
    del it
    tail = market.generate(market.start_us + span_us(minutes=20))
    # Assert
    assert head + tail == whole


def test_when_records_are_built_in_other_window_sizes_then_stream_is_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: the record-building window is a performance knob, not part of the model
    cfg = SyntheticMarketConfig(seed=7)
    whole = run(cfg, span_us(minutes=20))
    # Act / Assert
    for steps in (1, 5, 1000):
        monkeypatch.setattr(market_module, "_WINDOW_STEPS", steps)
        assert run(cfg, span_us(minutes=20)) == whole
