"""Builders for the live venue tests: a venue on the fake Bitget, order commands, a recording sleep."""

from __future__ import annotations

from typing import Any

from tests.processors.execution.live.fake_bitget import FakeBitget, make_exchange
from tests.processors.execution.paper_scripts import assert_valid
from processors.execution.keys import ExchangeKey
from processors.execution.live import CcxtVenue, LiveVenueConfig, RetryPolicy
from pydantic import SecretStr

INSTANCE = "live-1"
SYMBOL = "BTC/USDT:USDT"
MARKET = f"bitget:{SYMBOL}"
T0_US = 1_767_225_600_000_000


class Sleeps:
    """An injected sleep that records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def trade_key(fake: FakeBitget) -> ExchangeKey:
    """The fake's credentials as a trade key."""
    return ExchangeKey(role="trade", api_key=SecretStr(fake.api_key), secret=SecretStr(fake.secret),
                       passphrase=SecretStr(fake.passphrase), source="test")


def live_config(unified: bool = False, **overrides: Any) -> LiveVenueConfig:
    """The venue config of the tests (ccxt spacing 1 ms so tests do not wait on the rate limiter)."""
    base: dict[str, Any] = {"exchange_id": "bitget", "symbol": SYMBOL, "rate_limit_ms": 1, "unified_account": unified,
                            "retry": RetryPolicy(max_retries=4, base_delay_s=0.25, multiplier=2.0, max_delay_s=8.0)}
    base.update(overrides)
    return LiveVenueConfig(**base)


def make_venue(fake: FakeBitget, unified: bool = False, sleeps: Sleeps | None = None, **overrides: Any) -> CcxtVenue:
    """A started ``CcxtVenue`` over a real ccxt.bitget whose HTTP goes to ``fake``."""
    cfg = live_config(unified, **overrides)
    ex = make_exchange(fake, unified=unified)
    v = CcxtVenue(ex, cfg, INSTANCE, MARKET, key=trade_key(fake), sleep=sleeps if sleeps is not None else Sleeps(),
                  now_us=lambda: fake.now_ms * 1000)
    v.start()
    return v


def place(cid: str, side: str = "BUY", price: float | None = 25000.0, size: float = 0.001, post_only: bool = True,
          reduce_only: bool = False, t: int = T0_US) -> dict[str, Any]:
    """A PLACE command (``schemas/order.avsc``)."""
    cmd = {"event_id": f"cmd-{cid}", "event_time": t, "produce_time": t, "instance_id": INSTANCE, "market": MARKET,
           "action": "PLACE", "client_order_id": cid, "side": side, "price": price, "size": size,
           "post_only": post_only, "reduce_only": reduce_only, "decision_id": f"dec-{cid}", "mid_at_decision": 25010.0,
           "reason": "new_quote"}
    assert_valid("order", cmd)
    return cmd


def cancel(cid: str, reason: str = "reprice", t: int = T0_US) -> dict[str, Any]:
    """A CANCEL command."""
    cmd = {"event_id": f"cancel-{cid}", "event_time": t, "produce_time": t, "instance_id": INSTANCE, "market": MARKET,
           "action": "CANCEL", "client_order_id": cid, "side": None, "price": None, "size": None, "post_only": True,
           "reduce_only": False, "decision_id": "", "mid_at_decision": None, "reason": reason}
    assert_valid("order", cmd)
    return cmd


def cancel_all(reason: str = "guard_hard_stop", t: int = T0_US) -> dict[str, Any]:
    """A CANCEL_ALL command."""
    cmd = {"event_id": f"cancel-all-{reason}", "event_time": t, "produce_time": t, "instance_id": INSTANCE,
           "market": MARKET, "action": "CANCEL_ALL", "client_order_id": None, "side": None, "price": None, "size": None,
           "post_only": True, "reduce_only": False, "decision_id": "", "mid_at_decision": None, "reason": reason}
    assert_valid("order", cmd)
    return cmd
