"""The demo's pacing gate: the market waits for the desk, and a desk starved by hidden records is not waited on forever."""

from __future__ import annotations

import time
from typing import Any

from hbot.demo import LOOP_ROLES, _DeskGate

S = 1_000_000


class _Desk:
    """Stands in for the desk worker's ``/progress/`` view: each call advances event time by ``step_us``."""

    def __init__(self, event_time_us: int, step_us: int = 0) -> None:
        self.event_time_us, self.step_us, self.inputs, self.calls = event_time_us, step_us, 0, 0

    def check(self) -> None:
        pass

    def progress(self) -> dict[str, Any]:
        self.calls += 1
        if self.step_us:
            self.event_time_us += self.step_us
            self.inputs += 1
        return {r: {"inputs": self.inputs, "event_time_us": self.event_time_us} for r in LOOP_ROLES}


def test_when_the_desk_keeps_up_then_the_gate_waits_for_it_and_releases_nothing() -> None:
    desk = _Desk(event_time_us=0, step_us=1 * S)
    gate = _DeskGate(desk, window_us=5 * S, start_us=0)  # type: ignore[arg-type]

    gate.wait_until(20 * S)

    assert desk.event_time_us >= 15 * S and gate.released == 0


def test_when_the_desk_takes_no_input_then_one_event_is_let_through_after_the_stall_time() -> None:
    desk = _Desk(event_time_us=1 * S)  # frozen: its next inputs sit unseen behind the broker's high watermark
    gate = _DeskGate(desk, window_us=5 * S, start_us=0, stall_s=0.05)  # type: ignore[arg-type]

    started = time.monotonic()
    gate.wait_until(20 * S)
    waited = time.monotonic() - started
    gate.wait_until(21 * S)

    assert gate.released == 2 and 0.04 <= waited < 2.0
