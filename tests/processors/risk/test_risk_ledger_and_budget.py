"""Position ledger (fills counted once) and the sliding cancel budget."""

from __future__ import annotations

import json

import pytest

from processors.risk.cancel_budget import CancelBudget
from processors.risk.ledger import PositionLedger
from processors.risk.recent_ids import RecentIds
from tests.processors.risk.risk_scripts import S, T0, fill


def test_when_buy_then_sell_fills_then_cash_position_fees_and_equity_are_exact() -> None:
    # Arrange
    led = PositionLedger(1_000.0)
    # Act
    led.apply_fill(fill(T0, "c1", "f1", "BUY", 100.0, 2.0, fee=0.04))
    led.apply_fill(fill(T0 + 1, "c2", "f2", "SELL", 101.0, 0.5, fee=0.0101))
    # Assert: cash 1000 - 200 - 0.04 + 50.5 - 0.0101 = 850.4499
    assert led.position_base == pytest.approx(1.5)
    assert led.balance_quote == pytest.approx(850.4499, rel=1e-12)
    assert led.fees_quote == pytest.approx(0.0501, rel=1e-12)
    assert led.equity(102.0) == pytest.approx(850.4499 + 1.5 * 102.0, rel=1e-12)


def test_when_fill_replayed_after_restore_then_not_counted_twice() -> None:
    # Arrange
    led = PositionLedger(1_000.0)
    f = fill(T0, "c1", "f1", "BUY", 100.0, 2.0)
    led.apply_fill(f)
    # Act
    restored = PositionLedger.restore(json.loads(json.dumps(led.snapshot())))
    # Assert
    assert restored.apply_fill(f) is False
    assert restored.position_base == 2.0 and restored.fill_count == 1


def test_when_funding_applied_twice_then_counted_once() -> None:
    led = PositionLedger(1_000.0, position_base=1.0)
    assert led.apply_funding(-0.01, "fund-1") is True
    assert led.apply_funding(-0.01, "fund-1") is False
    assert led.balance_quote == pytest.approx(999.99)


def test_when_recent_ids_full_then_oldest_evicted() -> None:
    ids = RecentIds(2, ["a", "b"])
    assert ids.add("c") is True
    assert "a" not in ids and "b" in ids and ids.to_list() == ["b", "c"]


def test_when_budget_used_then_denied_until_window_slides() -> None:
    # Arrange
    b = CancelBudget(2)
    # Act / Assert
    assert b.try_consume(T0) and b.try_consume(T0 + 10 * S)
    assert not b.try_consume(T0 + 20 * S)
    assert b.try_consume(T0 + 21 * S, forced=True)  # risk-reducing cancels always pass, and count
    assert b.used(T0 + 59 * S) == 3
    assert b.used(T0 + 60 * S) == 2  # the first left the 60 s window
    assert not b.try_consume(T0 + 60 * S)
    assert b.try_consume(T0 + 81 * S)
