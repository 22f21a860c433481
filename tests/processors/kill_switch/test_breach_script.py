"""The breach script through the desk's processors in one process (no broker): it must breach as designed.

This pins what the broker acceptance test (``test_breach_on_broker.py``) and the kill-switch
latency bench rely on: the strategy's orders rest, the sweep builds a long position, the crash
book alone trips the hard daily-loss limit with orders still open, and the later books change
nothing.
"""

from __future__ import annotations

import json

from hbot.settings import InstanceConfig
from processors.clock import to_micros
from processors.instance import instance_setup
from tests.processors.kill_switch.breach_scenario import (
    HARD_LOSS,
    MarketScript,
    cancelled,
    hard_stops,
    instance_entry,
    kill_intents,
    open_at,
    open_orders,
    run_through_cores,
)


def test_when_the_breach_script_runs_through_the_cores_then_one_stop_one_kill_switch_and_every_open_order_cancelled() -> None:
    setup = instance_setup(InstanceConfig.model_validate(json.loads(json.dumps(instance_entry("ks", "KS/USDT:USDT")))))
    script = MarketScript(setup.market)
    build = [script.quiet(), script.sweep(), script.quiet(3)]
    crash = script.crash()
    stop_t = int(crash[0][1]["event_time"])
    seen = run_through_cores(setup, [*build, crash, script.after(3)])

    assert [s for s in seen if s.topic == "hb.fill.v1"], "the sweep fills bids"
    stops = hard_stops(seen)
    assert len(stops) == 1 and to_micros(stops[0].record["event_time"]) == stop_t
    assert stops[0].record["daily_pnl_pct"] <= -HARD_LOSS
    assert len(kill_intents(seen)) == 1
    was_open = open_at(seen, stop_t)
    assert len(was_open) >= 2 and was_open <= set(cancelled(seen)) and not open_orders(seen)
    audits = [s.record["action"] for s in seen if s.topic == "hb.audit.v1"]
    assert audits == ["cancel_all", "kill_switch_completed"]
