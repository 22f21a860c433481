"""The execution role: each paper instance's venue over its market's sequenced log.

Live instances (``execution: live``) are refused here until the ccxt venue is wired to an agent.
"""

from __future__ import annotations

import faust

from hbot.runtime import Runtime
from hbot.settings import ConfigError
from processors.execution.processor import PaperExecutionProcessor
from streams.desk_agent import register_desk_role


def register(app: faust.App, rt: Runtime) -> None:
    """Add the execution agent."""
    live = [s.id for s in rt.instances if s.instance.execution != "paper"]
    if live:
        raise ConfigError(f"instances {live} ask for live execution, which this worker cannot run yet; set execution: paper")
    register_desk_role(app, rt.serde, rt.instances, "execution", PaperExecutionProcessor.restore, rt.settings.checkpoint_every)
