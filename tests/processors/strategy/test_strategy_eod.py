"""EOD position close at the UTC rollover [P1-3]."""

from __future__ import annotations

import pytest

from processors.clock import US_PER_S
from processors.strategy.inventory import EOD_CLOSE_PENDING
from tests.processors.strategy.strategy_testkit import NEXT_MIDNIGHT, Feed, sides


def _feed_before_midnight(**config: object) -> Feed:
    feed = Feed(t0=NEXT_MIDNIGHT - 60 * US_PER_S, **config)
    feed.book(100.0)
    return feed


def _cross_midnight(feed: Feed) -> None:
    while feed.t < NEXT_MIDNIGHT:
        feed.book(100.0, dt=10.0)


def test_when_position_notional_below_min_close_at_rollover_then_no_eod_close() -> None:
    feed = _feed_before_midnight()
    feed.fill("BUY", 100.0, 0.04)  # 4 quote < 5
    feed.book(100.0)

    _cross_midnight(feed)

    last = feed.decisions[-1]
    assert feed.core.eod_close_pending is False
    assert EOD_CLOSE_PENDING not in last.state["risk_reasons"]
    assert last.quote["derisk_only"] is False


def test_when_position_notional_above_min_close_then_eod_pending_until_flat() -> None:
    feed = _feed_before_midnight()
    feed.fill("BUY", 100.0, 1.0)  # 100 quote > 5, far inside the inventory band
    before = feed.book(100.0)
    assert before is not None and EOD_CLOSE_PENDING not in before.state["risk_reasons"]

    _cross_midnight(feed)
    pending = feed.decisions[-1]
    assert pending.quote["event_time"] >= NEXT_MIDNIGHT
    assert EOD_CLOSE_PENDING in pending.state["risk_reasons"]
    assert pending.quote["derisk_only"] is True
    assert sides(pending) == {"SELL"}  # long: close by selling

    feed.fill("SELL", 100.03, 0.6)  # partly closed: still pending
    partly = feed.book(100.0)
    assert partly is not None and EOD_CLOSE_PENDING in partly.state["risk_reasons"]
    assert sum(q["size"] for q in partly.quote["quotes"]) <= 0.4 + 1e-12

    feed.fill("SELL", 100.03, 0.4)
    flat = feed.book(100.0)
    assert flat is not None
    assert EOD_CLOSE_PENDING not in flat.state["risk_reasons"]
    assert flat.quote["derisk_only"] is False
    assert feed.core.eod_close_pending is False


def test_when_short_at_rollover_then_eod_close_buys() -> None:
    feed = _feed_before_midnight()
    feed.fill("SELL", 100.0, 1.0)

    _cross_midnight(feed)

    assert sides(feed.decisions[-1]) == {"BUY"}
    assert feed.decisions[-1].quote["derisk_only"] is True


def test_when_close_at_rollover_disabled_then_no_eod_close() -> None:
    feed = _feed_before_midnight(close_position_at_rollover=False)
    feed.fill("BUY", 100.0, 1.0)

    _cross_midnight(feed)

    assert EOD_CLOSE_PENDING not in feed.decisions[-1].state["risk_reasons"]


def test_when_day_rolls_then_realized_pnl_and_fees_reset() -> None:
    feed = _feed_before_midnight()
    feed.fill("BUY", 100.0, 1.0, fee=0.02)
    feed.fill("SELL", 101.0, 1.0, fee=0.02)
    before = feed.book(100.0)
    assert before is not None
    assert before.state["realized_pnl_quote"] == pytest.approx(1.0)
    assert before.state["fees_paid_quote"] == pytest.approx(0.04)

    _cross_midnight(feed)

    after = feed.decisions[-1].state
    assert after["realized_pnl_quote"] == 0.0 and after["fees_paid_quote"] == 0.0
    assert after["equity_quote"] == pytest.approx(10_000 + 1.0 - 0.04)
