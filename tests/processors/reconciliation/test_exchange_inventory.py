"""``fetch_inventory`` through the real ccxt Bitget code, the exchange faked at the HTTP layer."""

from __future__ import annotations

import pytest

from processors.reconciliation.exchange import fetch_inventory
from tests.processors.execution.live.fake_bitget import FakeBitget, make_exchange

SYMBOL = "BTC/USDT:USDT"


def test_when_the_account_bought_and_sold_then_the_net_position_and_cash_are_reported() -> None:
    # Arrange
    fake = FakeBitget()
    ex = make_exchange(fake)
    fake.add_order("buy-1", "buy", 50_000.0, 0.01)
    fake.fill("buy-1", 0.004)
    fake.add_order("sell-1", "sell", 50_100.0, 0.01)
    fake.fill("sell-1", 0.001)

    # Act
    inv = fetch_inventory(ex, SYMBOL)

    # Assert: signed requests to the position and account endpoints, parsed by ccxt
    assert inv.position_base == pytest.approx(0.003)
    assert inv.balance_quote == pytest.approx(fake.usdt_balance())
    assert fake.requests_to("/api/v2/mix/position/all-position") and fake.requests_to("/api/v2/mix/account/accounts")


def test_when_the_account_is_short_or_flat_then_the_position_is_negative_or_zero() -> None:
    fake = FakeBitget()
    ex = make_exchange(fake)
    assert fetch_inventory(ex, SYMBOL).position_base == 0.0

    fake.add_order("sell-1", "sell", 50_000.0, 0.02)
    fake.fill("sell-1", 0.02)

    assert fetch_inventory(ex, SYMBOL).position_base == pytest.approx(-0.02)
