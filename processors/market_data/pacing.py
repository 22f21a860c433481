"""Event-time pacing of a market-data stream: how long to wait before publishing the next event.

Pure: the caller passes the wall clock reading; nothing here sleeps or reads a clock. Speed 1 is
real time, 100 runs a hundred times faster, 0 publishes as fast as possible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pacer:
    """Maps event time to wall time from the first event on, at ``speed`` x real time."""

    speed: float
    _origin: tuple[int, float] | None = None

    def delay_s(self, event_time_us: int, wall_now_s: float) -> float:
        """Seconds to wait (>= 0) before publishing the event at ``event_time_us``."""
        if self.speed <= 0:
            return 0.0
        if self._origin is None:
            self._origin = (event_time_us, wall_now_s)
            return 0.0
        t0, w0 = self._origin
        due = w0 + (event_time_us - t0) / 1e6 / self.speed
        return max(0.0, due - wall_now_s)
