"""Instance configs: every part validated, a bad value named by its path in the instances file."""

from __future__ import annotations

import pytest

from hbot.settings import ConfigError, InstanceConfig
from processors.instance import demo_instance, instance_setup


def test_when_the_demo_instance_is_set_up_then_rules_follow_the_strategy_and_the_market_type() -> None:
    s = instance_setup(demo_instance())
    assert s.rules.tick_size == s.strategy.tick_size == 0.1
    assert s.paper.is_perp and s.strategy.is_perp
    assert s.market == "synthetic:BTC/USDT:USDT"


@pytest.mark.parametrize(("part", "values", "path"), [
    ("risk", {"gate": {"max_order_notional_quote": -1}}, "instances[b1].risk.gate.max_order_notional_quote"),
    ("risk", {"guard": {"max_daily_loss_pct_hard": 2}}, "instances[b1].risk.guard.max_daily_loss_pct_hard"),
    ("paper", {"taker_slippage_bps": -3}, "instances[b1].paper.taker_slippage_bps"),
    ("risk", {"limits": {}}, "instances[b1].risk has unknown keys"),
])
def test_when_a_value_is_bad_then_the_error_names_its_path(part: str, values: dict, path: str) -> None:
    inst = InstanceConfig(id="b1", exchange="x", symbol="BTC/USDT:USDT", **{part: values})
    with pytest.raises(ConfigError, match=path.replace("[", r"\[").replace("]", r"\]")):
        instance_setup(inst)
