"""The risk role's processor: the gate and the ops guard of one instance, wired together.

Quotes become order commands through the gate; fills and books move the equity the guard
watches; guard transitions go back into the gate (entering HARD_STOP cancels everything) and out
as ``hb.guard.v1`` records, with the guard's single ``kill_switch`` intent on the first HARD_STOP.
"""

from __future__ import annotations

from typing import Any, Mapping

from processors.desk import Origin, Output
from processors.instance import InstanceSetup
from processors.risk.gate import GateResult, RiskGate
from processors.risk.guard import GuardOutcome, OpsGuard

ORDER_TOPIC = "hb.order.v1"


class RiskProcessor:
    """Gate + guard of one instance, fed from its market's sequenced log."""

    inputs = frozenset({"hb.quote.v1", "hb.fill.v1", "hb.order_update.v1", "hb.execution_intent.v1", "hb.market.book.v1"})

    def __init__(self, setup: InstanceSetup, gate: RiskGate | None = None, guard: OpsGuard | None = None,
                 mid: float | None = None) -> None:
        self.setup = setup
        self.gate = gate or RiskGate(setup.gate, setup.rules, setup.id, setup.market,
                                     balance_quote=setup.paper.initial_balance_quote,
                                     position_base=setup.paper.initial_position_base)
        self.guard = guard or OpsGuard(setup.guard, setup.id, setup.market)
        self.mid = mid
        self.denials = 0

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin) -> list[Output]:
        """Apply one input; returns order commands, guard transitions and kill-switch intents."""
        out: list[Output] = []
        if topic == "hb.quote.v1":
            res = self.gate.on_quote(record)
            self._gate(res, out)
            if res.cancel_budget_breach:
                self._guard(self.guard.on_cancel_budget_breach(record["event_time"], str(record["event_id"])), record, out)
        elif topic == "hb.fill.v1":
            if self.gate.on_fill(record) and self.mid:
                self._guard(self.guard.on_equity(record["event_time"], self.gate.ledger.equity(self.mid), str(record["event_id"])), record, out)
        elif topic == "hb.order_update.v1":
            self.gate.on_order_update(record)
        elif topic == "hb.execution_intent.v1":
            if record.get("instance_id") == self.setup.id:
                self._guard(self.guard.on_intent(record), record, out)
        elif topic == "hb.market.book.v1":
            if record.get("market") == self.setup.market:
                self.mid = float(record["mid"])
                cause = str(record["event_id"])
                self._guard(self.guard.on_book(record["event_time"], cause), record, out)
                self._guard(self.guard.on_equity(record["event_time"], self.gate.ledger.equity(self.mid), cause), record, out)
        return out

    def _gate(self, res: GateResult, out: list[Output]) -> None:
        out.extend((ORDER_TOPIC, c) for c in res.commands)
        self.denials += len(res.denials)

    def _guard(self, outcome: GuardOutcome, cause: Mapping[str, Any], out: list[Output]) -> None:
        out.extend(("hb.guard.v1", r) for r in outcome.records)
        out.extend(("hb.execution_intent.v1", i) for i in outcome.intents)
        if outcome.state != self.gate.guard_state:
            self._gate(self.gate.on_guard_state(outcome.state, cause["event_time"], str(cause["event_id"])), out)

    def snapshot(self) -> dict[str, Any]:
        """Gate, guard and the last mid."""
        return {"gate": self.gate.snapshot(), "guard": self.guard.snapshot(), "mid": self.mid, "denials": self.denials}

    @classmethod
    def restore(cls, setup: InstanceSetup, snap: Mapping[str, Any] | None) -> "RiskProcessor":
        """A processor continuing from ``snap`` (fresh when None)."""
        if snap is None:
            return cls(setup)
        p = cls(setup,
                RiskGate.restore(snap["gate"], setup.gate, setup.rules, setup.id, setup.market),
                OpsGuard.restore(snap["guard"], setup.guard, setup.id, setup.market),
                snap.get("mid"))
        p.denials = int(snap.get("denials", 0))
        return p
