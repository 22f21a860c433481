"""Book snapshots and trades of the synthetic market are well-formed and consistent with each other."""

from __future__ import annotations

import math

import numpy as np
import pytest

from processors.market_data.synthetic import SyntheticMarketConfig, span_us
from processors.market_data.topics import BOOK_TOPIC, TRADE_TOPIC
from tests.processors.market_data.synthetic_frames import frames, prevailing_snapshot, run


def _on_grid(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) < 1e-6


@pytest.mark.parametrize("levels", [10, 15])
def test_when_books_are_emitted_then_they_are_uncrossed_sorted_deep_and_positive(levels: int) -> None:
    # Arrange
    cfg = SyntheticMarketConfig(seed=8, book_levels=levels)
    # Act
    books = [r for t, r in run(cfg, span_us(minutes=30)) if t == BOOK_TOPIC]
    # Assert
    assert len(books) == 30 * 60 * 1000 // cfg.book_interval_ms
    assert [b["sequence"] for b in books] == list(range(1, len(books) + 1))
    assert all(b2["event_time"] - b1["event_time"] == cfg.book_interval_ms * 1000 for b1, b2 in zip(books, books[1:]))
    for b in books:
        bids = [lv["price"] for lv in b["bids"]]
        asks = [lv["price"] for lv in b["asks"]]
        assert len(bids) == len(asks) == levels
        assert bids[0] < asks[0]
        assert all(x > y for x, y in zip(bids, bids[1:])) and all(x < y for x, y in zip(asks, asks[1:]))
        assert all(lv["size"] > 0 and _on_grid(lv["size"], cfg.lot_size) for lv in b["bids"] + b["asks"])
        assert all(_on_grid(p, cfg.tick_size) for p in bids + asks)
        assert b["mid"] == pytest.approx((bids[0] + asks[0]) / 2, abs=1e-9)
        assert b["spread_bps"] == pytest.approx((asks[0] - bids[0]) / b["mid"] * 1e4, rel=1e-5)


def test_when_defaults_are_used_then_price_and_spread_look_like_btc() -> None:
    f = frames(SyntheticMarketConfig(seed=12), span_us(hours=2))
    assert 50_000 < f.mid.min() and f.mid.max() < 80_000
    assert 0.5 < float(np.median(f.spread_bps)) < 5.0
    assert abs(f.imbalance).max() <= 1.0 and f.imbalance.std() > 0.2


def test_when_trades_happen_then_each_hits_the_touch_of_the_prevailing_snapshot() -> None:
    # Arrange
    cfg = SyntheticMarketConfig(seed=13)
    events = run(cfg, span_us(minutes=30))
    f = frames(cfg, span_us(minutes=30))
    trades = [r for t, r in events if t == TRADE_TOPIC]
    # Act
    k = prevailing_snapshot(f)
    # Assert: BUY lifts the best ask, SELL hits the best bid, of the book in force
    assert len(trades) > 1_000 and (k >= 0).all()
    touch = np.where(f.trade_buy, f.best_ask[k], f.best_bid[k])
    np.testing.assert_array_equal(f.trade_price, touch)
    assert [r["sequence"] for r in trades] == list(range(1, len(trades) + 1))
    assert len({r["trade_id"] for r in trades}) == len(trades)
    assert all(cfg.lot_size <= r["size"] <= cfg.trade_size_max for r in trades)
    assert {r["informed"] for r in trades} == {True, False}


def test_when_sizes_are_drawn_then_the_distribution_is_heavy_tailed() -> None:
    f = frames(SyntheticMarketConfig(seed=14), span_us(hours=2))
    median = float(np.median(f.trade_size))
    p999 = float(np.quantile(f.trade_size, 0.999))
    log_size = np.log(f.trade_size)
    excess_kurtosis = float(np.mean((f.trade_size - f.trade_size.mean()) ** 4) / f.trade_size.var() ** 2 - 3)
    assert 0.005 < median < 0.1
    assert p999 / median > 100  # a few prints dwarf the typical one
    assert excess_kurtosis > 10 and math.isfinite(log_size.std())
