"""The EPP v2.4 market-making strategy: a pure, deterministic core (this package) and its agent.

Public API::

    from processors.strategy import EppV24Config, EppV24Core, Decision

    core = EppV24Core(EppV24Config(), instance_id="bot1", market="bitget:BTC/USDT:USDT")
    decision = core.on_book(book_record)          # -> Decision | None
    if decision:
        produce("hb.quote.v1", decision.quote)
        produce("hb.strategy_state.v1", decision.state)
    table[market] = core.snapshot()               # JSON-able; EppV24Core.from_snapshot(cfg, state)
"""

from processors.strategy.config import EppV24Config
from processors.strategy.core import Decision, DecisionDetail, EppV24Core
from processors.strategy.regimes import PHASE0_SPECS, REGIME_INDEX, REGIME_NAMES, RegimeSpec

__all__ = [
    "Decision",
    "DecisionDetail",
    "EppV24Config",
    "EppV24Core",
    "PHASE0_SPECS",
    "REGIME_INDEX",
    "REGIME_NAMES",
    "RegimeSpec",
]
