"""The three states of the ops guard, shared by the guard (which decides) and the gate (which obeys)."""

from __future__ import annotations

from enum import StrEnum


class GuardState(StrEnum):
    """Ops guard state of an instance (``schemas/guard.avsc`` enum ``GuardState``)."""

    RUNNING = "RUNNING"
    SOFT_PAUSE = "SOFT_PAUSE"
    HARD_STOP = "HARD_STOP"
