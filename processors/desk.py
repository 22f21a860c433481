"""The contract between the desk's pure processors and the agent that drives them.

A desk processor is the pure core of one role for one instance: it takes one input record at a
time (in the order of the market's sequenced log), returns the records to publish, and can be
snapshotted and rebuilt. The Faust glue in ``streams/desk_agent.py`` does the decoding, routing,
de-duplication, publishing and checkpointing; a backtest can drive the same processors directly.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

Origin = tuple[str, int, int]
"""Where an input was read: (topic, partition, offset) of the sequenced log."""

Output = tuple[str, dict[str, Any]]
"""A record to publish and its topic."""


class DeskProcessor(Protocol):
    """The pure core of one role for one instance."""

    inputs: frozenset[str]
    """Source topics this processor reads; the agent skips the others."""

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin) -> list[Output]:
        """Apply one input; return what to publish, in order."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state; the role's ``restore`` continues from it."""
        ...
