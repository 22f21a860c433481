"""Per-level order size: regime sizing, and Kelly sizing with its fallback below 20 fills [ROAD-4]."""

from __future__ import annotations

import math

import pytest

from processors.strategy.realized_edge import FILL_EDGE_EWMA_ALPHA
from tests.processors.strategy.strategy_testkit import Feed


def test_when_kelly_off_then_size_is_equity_times_regime_quote_size_pct() -> None:
    feed = Feed()

    d = feed.book(100.0)

    assert d is not None
    assert d.detail.order_quote == pytest.approx(10_000 * (0.0008 + 0.0012) / 2)  # neutral_low_vol
    assert d.detail.kelly_active is False
    for q in d.quote["quotes"]:
        assert q["size"] * q["price"] == pytest.approx(10.0, abs=0.01)


def test_when_regime_size_below_min_order_then_min_order_applies() -> None:
    feed = Feed(total_amount_quote=1000.0)  # 1 000 x 0.001 = 1 < 5

    d = feed.book(100.0)

    assert d is not None and d.detail.order_quote == 5.0


def _feed_fills(feed: Feed, edges_bps: list[float]) -> None:
    for edge in edges_bps:
        feed.fill("BUY", 100.0 * (1 - edge / 10_000), 0.05)
        feed.book(100.0)


def _edges(n: int) -> list[float]:
    return [10.0 if i % 2 == 0 else 4.0 for i in range(n)]


def test_when_kelly_on_but_fewer_than_20_fills_then_configured_size() -> None:
    feed = Feed(use_kelly_sizing=True, kelly_fraction=0.001, total_amount_quote=1000.0)
    feed.book(100.0)

    _feed_fills(feed, _edges(19))

    last = feed.decisions[-1]
    assert last.detail.kelly_active is False
    assert last.detail.order_quote == 5.0


def test_when_kelly_on_and_20_fills_then_size_follows_the_kelly_formula() -> None:
    feed = Feed(use_kelly_sizing=True, kelly_fraction=0.001, total_amount_quote=1000.0)
    feed.book(100.0)

    _feed_fills(feed, _edges(20))

    last = feed.decisions[-1]
    ewmas: list[float] = []
    value = None
    for e in _edges(20):
        value = e if value is None else FILL_EDGE_EWMA_ALPHA * e + (1 - FILL_EDGE_EWMA_ALPHA) * value
        ewmas.append(value)
    mean = sum(ewmas) / len(ewmas)
    std = math.sqrt(sum((x - mean) ** 2 for x in ewmas) / len(ewmas))
    expected = ewmas[-1] / std * 0.001 * last.state["equity_quote"]
    assert 5.0 < expected < 250.0  # the example sits inside the order limits
    assert last.detail.kelly_active is True
    assert last.detail.order_quote == pytest.approx(expected)


def test_when_kelly_off_then_many_fills_keep_configured_size() -> None:
    feed = Feed(total_amount_quote=1000.0)
    feed.book(100.0)

    _feed_fills(feed, _edges(25))

    assert feed.decisions[-1].detail.kelly_active is False
    assert feed.decisions[-1].detail.order_quote == 5.0


def test_when_kelly_edge_is_negative_then_size_clips_to_min_order() -> None:
    feed = Feed(use_kelly_sizing=True, adverse_fill_count_threshold=200)
    feed.book(100.0)

    _feed_fills(feed, [-3.0 if i % 2 else -1.0 for i in range(20)])

    assert feed.decisions[-1].detail.kelly_active is True
    assert feed.decisions[-1].detail.order_quote == 5.0
