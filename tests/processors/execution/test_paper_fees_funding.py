"""Paper exchange fees (maker / taker with slippage) and funding settlements."""

from __future__ import annotations

import pytest

from tests.processors.execution.paper_scripts import INSTANCE, MARKET, MS, T0, assert_all_valid, funding, place, standard_book, trade
from processors.execution.paper import PaperExchange, PaperExchangeConfig


def _exchange(**cfg: object) -> PaperExchange:
    x = PaperExchange(PaperExchangeConfig(order_latency_ms=0.0, cancel_latency_ms=0.0, **cfg), INSTANCE, MARKET)  # type: ignore[arg-type]
    x.on_book(standard_book())
    return x


def test_when_maker_fill_then_fee_is_2bp_of_notional() -> None:
    # Arrange: SELL 1.0 at 100.1 behind 2.0.
    x = _exchange()
    x.on_command(place(T0 + 1 * MS, "a1", "SELL", 100.1, 1.0))
    # Act
    ev = x.on_trade(trade(T0 + 2 * MS, "t1", 100.1, 3.0, "BUY"))
    # Assert: 100.1 * 1.0 * 0.0002 = 0.02002
    (f,) = ev.fills
    assert f["fee_quote"] == pytest.approx(0.02002, rel=1e-12)
    assert f["liquidity"] == "MAKER" and f["fee_asset"] == "USDT"
    assert x.balance_quote == pytest.approx(10_000.0 + 100.1 - 0.02002, rel=1e-12)
    assert x.position_base == -1.0


def test_when_taker_buy_walks_two_levels_then_slippage_1bp_and_fee_6bp_per_level() -> None:
    # Arrange: non-post-only BUY 3.0 limit 100.2 against asks 100.1 x 2.0, 100.2 x 4.0.
    x = _exchange()
    # Act
    ev = x.on_command(place(T0 + 1 * MS, "tk", "BUY", 100.2, 3.0, post_only=False))
    # Assert: 2.0 at 100.1 * 1.0001 = 100.11001, 1.0 at 100.2 * 1.0001 = 100.21002.
    assert [(f["price"], f["size"], f["liquidity"]) for f in ev.fills] == [
        (pytest.approx(100.11001, rel=1e-12), 2.0, "TAKER"),
        (pytest.approx(100.21002, rel=1e-12), 1.0, "TAKER"),
    ]
    assert [f["fee_quote"] for f in ev.fills] == [
        pytest.approx(200.22002 * 0.0006, rel=1e-12),
        pytest.approx(100.21002 * 0.0006, rel=1e-12),
    ]
    assert x.fees_quote == pytest.approx(0.180258024, rel=1e-12)
    assert x.balance_quote == pytest.approx(10_000.0 - 300.43004 - 0.180258024, rel=1e-12)
    assert x.position_base == pytest.approx(3.0)
    assert [u["status"] for u in ev.order_updates] == ["ACK", "PARTIALLY_FILLED", "FILLED"]
    assert_all_valid(ev)


def test_when_fees_configured_then_configured_rates_apply() -> None:
    # Arrange: a 1 bp maker rebate.
    x = _exchange(maker_fee_bps=-1.0)
    x.on_command(place(T0 + 1 * MS, "b1", "BUY", 100.05, 2.0))
    # Act
    ev = x.on_trade(trade(T0 + 2 * MS, "t1", 100.05, 2.0, "SELL"))
    # Assert: -100.05 * 2 * 0.0001 = -0.02001 (a rebate)
    assert ev.fills[0]["fee_quote"] == pytest.approx(-0.02001, rel=1e-12)
    assert x.balance_quote == pytest.approx(10_000.0 - 200.1 + 0.02001, rel=1e-12)


@pytest.mark.parametrize(
    ("position", "rate", "expected_amount"),
    [
        (1.0, 0.0001, -1.0 * 100.05 * 0.0001),   # long pays a positive rate
        (-2.0, 0.0001, 2.0 * 100.05 * 0.0001),   # short receives it
        (1.0, -0.0002, 1.0 * 100.05 * 0.0002),   # long receives a negative rate
        (0.0, 0.0001, 0.0),
    ],
)
def test_when_funding_settles_then_position_times_mid_times_rate_moves_balance(position: float, rate: float, expected_amount: float) -> None:
    # Arrange
    x = _exchange(initial_position_base=position)
    # Act
    ev = x.on_funding(funding(T0 + 1 * MS, rate))
    # Assert
    (entry,) = ev.ledger
    assert entry["amount_quote"] == pytest.approx(expected_amount, rel=1e-12, abs=1e-15)
    assert entry["mark_price"] == 100.05
    assert x.balance_quote == pytest.approx(10_000.0 + expected_amount, rel=1e-12)
    assert x.funding_quote == pytest.approx(expected_amount, rel=1e-12, abs=1e-15)


def test_when_funding_is_an_observation_or_a_repeat_then_nothing_is_paid() -> None:
    # Arrange
    x = _exchange(initial_position_base=1.0)
    # Act
    observation = x.on_funding(funding(T0 + 1 * MS, 0.0001, settlement=False))
    settle = x.on_funding(funding(T0 + 2 * MS, 0.0001, event_id="f2"))
    repeat = x.on_funding(funding(T0 + 2 * MS, 0.0001, event_id="f2"))
    # Assert
    assert observation.ledger == [] and repeat.ledger == [] and len(settle.ledger) == 1
    assert x.balance_quote == pytest.approx(10_000.0 - 0.010005, rel=1e-12)


def test_when_settlement_is_replayed_after_later_events_then_paid_once() -> None:
    # Arrange: the settlement, then market time moves on, then the same settlement is redelivered.
    x = _exchange(initial_position_base=1.0)
    x.on_funding(funding(T0 + 1 * MS, 0.0001))
    x.on_trade(trade(T0 + 500 * MS, "t1", 100.0, 1.0, "SELL"))
    # Act
    again = x.on_funding(funding(T0 + 1 * MS, 0.0001))
    # Assert
    assert again.ledger == [] and "duplicate_funding_settlement" in again.notes
    assert x.balance_quote == pytest.approx(10_000.0 - 0.010005, rel=1e-12)


def test_when_market_is_spot_then_funding_is_ignored() -> None:
    # Arrange
    x = _exchange(initial_position_base=1.0, is_perp=False)
    # Act
    ev = x.on_funding(funding(T0 + 1 * MS, 0.0001))
    # Assert
    assert ev.ledger == [] and x.balance_quote == 10_000.0
