"""The strategy role: the EPP v2.4 processor of each instance over its market's sequenced log."""

from __future__ import annotations

import faust

from hbot.runtime import Runtime
from processors.strategy.processor import StrategyProcessor
from streams.desk_agent import register_desk_role


def register(app: faust.App, rt: Runtime) -> None:
    """Add the strategy agent."""
    register_desk_role(app, rt.serde, rt.instances, "strategy", StrategyProcessor.restore, rt.settings.checkpoint_every)
