"""Risk: the ops guard (RUNNING / SOFT_PAUSE / HARD_STOP, kill-switch intent) and the risk gate
(desired quotes -> place / cancel commands within limits). Pure cores; the Faust agent lives beside them.
"""

from processors.risk.gate import GateConfig, GateResult, RiskGate
from processors.risk.guard import GuardConfig, GuardOutcome, OpsGuard
from processors.risk.guard_state import GuardState
from processors.risk.ledger import PositionLedger
from processors.risk.market_rules import MarketRules

__all__ = [
    "GateConfig",
    "GateResult",
    "GuardConfig",
    "GuardOutcome",
    "GuardState",
    "MarketRules",
    "OpsGuard",
    "PositionLedger",
    "RiskGate",
]
