"""hbot.worker: the hard-exit watchdog that makes a fatal error end the process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

HUNG_WORKER = """
import logging, time
logging.basicConfig(level=logging.INFO)
from hbot.worker import exit_hard_unless_stopped
exit_hard_unless_stopped("feed x cannot run", grace_s=0.5)
time.sleep(60)  # a shutdown that never finishes
"""


def test_when_a_worker_hangs_after_a_fatal_error_then_it_exits_with_code_2_after_the_grace() -> None:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", HUNG_WORKER], cwd=REPO, capture_output=True, text=True, timeout=50)
    took = time.monotonic() - t0

    assert res.returncode == 2, res.stderr
    assert took < 30  # the grace, not the 60 s sleep
    assert "still running 0.5 s after a fatal error (feed x cannot run)" in res.stderr
