"""The strategy core is pure: no wall clock, no randomness, no Kafka or I/O imports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import processors.strategy

PACKAGE = Path(processors.strategy.__file__).parent
FORBIDDEN = [
    r"\btime\.time\(", r"\btime\.monotonic", r"\bperf_counter", r"datetime\.now", r"datetime\.utcnow",
    r"^\s*import random", r"^\s*from random", r"\bconfluent_kafka\b", r"\bfaust\b", r"\bopen\(",
]


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_when_reading_core_sources_then_no_clock_randomness_or_io(path: Path) -> None:
    text = path.read_text()
    if path.name == "agent.py":
        pytest.skip("the Faust agent is the I/O boundary")
    for pattern in FORBIDDEN:
        assert not re.search(pattern, text, flags=re.MULTILINE), f"{path.name} matches {pattern}"
