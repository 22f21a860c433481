"""The execution role: each instance's venue over its market's sequenced log.

Paper instances run the paper exchange. Live instances (``execution: live``) send their orders
through a ``CcxtVenue`` with the trade key (the only key this role loads), poll the exchange for
fills and order states, and scan for orphan orders when the worker takes the instance. Bad live
settings, a missing key or an unknown exchange stop the worker at start with one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import faust

from hbot.runtime import Runtime
from hbot.settings import ConfigError
from processors.desk import DeskProcessor
from processors.execution.processor import PaperExecutionProcessor
from processors.instance import InstanceSetup
from streams.desk_agent import register_desk_role

log = logging.getLogger(__name__)


PAPER_IDLE_AFTER_S = 1.0
"""After this long without input, paper venues complete their pending cancels and arrivals (the feed stopped)."""


def _wall_us() -> int:
    return time.time_ns() // 1000


def live_builders(setups: list[InstanceSetup], configs: Mapping[str, Any], key: Any) -> dict[str, Any]:
    """A restore function per live instance: ``build(snap) -> LiveExecutionProcessor`` over one ccxt exchange object.

    The exchange objects are made here, once (no request is sent): a bad config fails the worker's
    start, not its first order.
    """
    from processors.execution.live import CcxtVenue, build_exchange
    from processors.execution.live.processor import LiveExecutionProcessor

    out: dict[str, Any] = {}
    for s in setups:
        cfg = configs[s.id]
        ex = build_exchange(cfg, key)

        def build(snap: Mapping[str, Any] | None, s: InstanceSetup = s, cfg: Any = cfg, ex: Any = ex) -> LiveExecutionProcessor:
            venue = (CcxtVenue.restore(snap, ex, cfg, s.id, s.market, key=key) if snap
                     else CcxtVenue(ex, cfg, s.id, s.market, key=key))
            return LiveExecutionProcessor(s, venue, _wall_us)

        out[s.id] = build
    return out


def register(app: faust.App, rt: Runtime) -> None:
    """Add the execution agent (and, with live instances, its exchange poll timer)."""
    live = [s for s in rt.instances if s.instance.execution == "live"]
    live_build: dict[str, Any] = {}
    poll_s: float | None = None
    if live:
        from processors.execution.keys import load_key_for_worker
        from processors.execution.live.config import live_configs

        configs = live_configs(live)  # the settings first: they are the user's fix, the key is the operator's
        try:
            key = load_key_for_worker("execution")
        except ConfigError as exc:
            raise ConfigError(f"instances {[s.id for s in live]} trade live, which needs the trade key: {exc}") from None
        live_build = live_builders(live, configs, key)
        poll_s = min(c.poll_interval_s for c in configs.values())
        log.info("execution: %d live instance(s) %s through ccxt with the %s key", len(live), [s.id for s in live], key.role)

    def build(setup: InstanceSetup, snap: Mapping[str, Any] | None) -> DeskProcessor:
        if setup.id in live_build:
            return live_build[setup.id](snap)
        return PaperExecutionProcessor.restore(setup, snap)

    register_desk_role(app, rt.serde, rt.instances, "execution", build, rt.settings.checkpoint_every, poll_every_s=poll_s,
                       idle_after_s=PAPER_IDLE_AFTER_S)
