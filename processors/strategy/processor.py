"""The strategy role's processor: routes sequenced inputs to the EPP v2.4 core of one instance."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from processors.desk import Origin, Output
from processors.instance import InstanceSetup
from processors.strategy.core import Decision, EppV24Core

QUOTE_TOPIC = "hb.quote.v1"
STATE_TOPIC = "hb.strategy_state.v1"


class StrategyProcessor:
    """Market data, fills, signals, intents and guard records in; quotes and state rows out."""

    inputs = frozenset({
        "hb.market.book.v1", "hb.market.trade.v1", "hb.market.candle.v1", "hb.market.funding.v1",
        "hb.fill.v1", "hb.signal.v1", "hb.execution_intent.v1", "hb.guard.v1",
    })

    def __init__(self, setup: InstanceSetup, core: EppV24Core | None = None) -> None:
        self.setup = setup
        self.core = core or EppV24Core(setup.strategy, setup.id, setup.market)
        c = self.core
        self._handlers: dict[str, Callable[..., Decision | None]] = {
            "hb.market.book.v1": c.on_book, "hb.market.trade.v1": c.on_trade, "hb.market.candle.v1": c.on_candle,
            "hb.market.funding.v1": c.on_funding, "hb.fill.v1": c.on_fill, "hb.signal.v1": c.on_signal,
            "hb.execution_intent.v1": c.on_intent, "hb.guard.v1": c.on_guard,
        }

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin) -> list[Output]:
        """Feed the core; a decision becomes one quote and one state row."""
        handler = self._handlers.get(topic)
        if handler is None:
            return []
        decision = handler(record, origin)
        if decision is None:
            return []
        return [(QUOTE_TOPIC, decision.quote), (STATE_TOPIC, decision.state)]

    def snapshot(self) -> dict[str, Any]:
        """The core's snapshot."""
        return self.core.snapshot()

    @classmethod
    def restore(cls, setup: InstanceSetup, snap: Mapping[str, Any] | None) -> "StrategyProcessor":
        """A processor continuing from ``snap`` (a fresh one when None)."""
        if snap is None:
            return cls(setup)
        return cls(setup, EppV24Core.from_snapshot(setup.strategy, snap))
