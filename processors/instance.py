"""Typed configs of one trading instance, built once from its instances-YAML entry.

The YAML keeps each part's settings as a mapping (``strategy``, ``risk.gate``, ``risk.guard``,
``rules``, ``paper``, ``kill_switch``, ``reconciliation``); this module turns them into the frozen config objects the cores take, and
reports a bad value with its full path in the YAML (``instances[bot1].risk.gate.max_base_pct``)
and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel, ValidationError

from hbot.settings import ConfigError, InstanceConfig, describe_validation_error
from processors.execution.paper import PaperExchangeConfig
from processors.kill_switch.core import KillSwitchConfig
from processors.reconciliation.core import ReconciliationConfig
from processors.risk import GateConfig, GuardConfig, MarketRules
from processors.strategy.config import EppV24Config

M = TypeVar("M", bound=BaseModel)


def _build(model: type[M], values: Mapping[str, Any], where: str) -> M:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix=f"{where}.", source="the instances file")) from None


@dataclass(frozen=True)
class InstanceSetup:
    """Everything the desk's processors need to know about one instance, validated."""

    instance: InstanceConfig
    strategy: EppV24Config
    gate: GateConfig
    guard: GuardConfig
    rules: MarketRules
    paper: PaperExchangeConfig
    kill_switch: KillSwitchConfig
    reconciliation: ReconciliationConfig

    @property
    def id(self) -> str:
        """Instance id."""
        return self.instance.id

    @property
    def market(self) -> str:
        """Market key ``exchange:symbol``."""
        return self.instance.market


def instance_setup(inst: InstanceConfig) -> InstanceSetup:
    """Validate every part of ``inst``; raises :class:`ConfigError` naming the YAML path of a bad value."""
    where = f"instances[{inst.id}]"
    risk = dict(inst.risk)
    unknown = set(risk) - {"gate", "guard"}
    if unknown:
        raise ConfigError(f"{where}.risk has unknown keys {sorted(unknown)}; use risk.gate and risk.guard")
    strategy = _build(EppV24Config, {"is_perp": inst.market_type == "perp", **inst.strategy}, f"{where}.strategy")
    rules_values = {"tick_size": strategy.tick_size, "lot_size": strategy.lot_size, "min_size": strategy.lot_size, **inst.rules}
    paper_values = {"is_perp": inst.market_type == "perp", "maker_fee_bps": strategy.maker_fee_bps, **inst.paper}
    return InstanceSetup(
        instance=inst,
        strategy=strategy,
        gate=_build(GateConfig, risk.get("gate", {}), f"{where}.risk.gate"),
        guard=_build(GuardConfig, risk.get("guard", {}), f"{where}.risk.guard"),
        rules=_build(MarketRules, rules_values, f"{where}.rules"),
        paper=_build(PaperExchangeConfig, paper_values, f"{where}.paper"),
        kill_switch=_build(KillSwitchConfig, inst.kill_switch, f"{where}.kill_switch"),
        reconciliation=_build(ReconciliationConfig, inst.reconciliation, f"{where}.reconciliation"),
    )


DEMO_MARKET = "synthetic:BTC/USDT:USDT"


def demo_instance(exchange: str = "synthetic", symbol: str = "BTC/USDT:USDT", tick_size: float = 0.1,
                  lot_size: float = 0.001) -> InstanceConfig:
    """The instance the embedded desk trades when no instances file is given: paper, on the synthetic BTC perp.

    ``hbot demo --source`` trades the recording's market instead (its exchange, symbol and increments);
    a unified symbol with a settle currency (``BTC/USDT:USDT``) is a perpetual, anything else spot.
    """
    return InstanceConfig(
        id="demo",
        exchange=exchange,
        symbol=symbol,
        market_type="perp" if ":" in symbol else "spot",
        execution="paper",
        strategy={"tick_size": tick_size, "lot_size": lot_size, "total_amount_quote": 10_000.0},
        paper={"initial_balance_quote": 10_000.0},
    )
