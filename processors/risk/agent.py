"""The risk role: gate and ops guard of each instance over its market's sequenced log."""

from __future__ import annotations

import faust

from hbot.runtime import Runtime
from processors.risk.processor import RiskProcessor
from streams.desk_agent import register_desk_role


def register(app: faust.App, rt: Runtime) -> None:
    """Add the risk agent."""
    register_desk_role(app, rt.serde, rt.instances, "risk", RiskProcessor.restore, rt.settings.checkpoint_every)
