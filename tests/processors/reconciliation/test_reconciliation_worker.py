"""``hbot worker --role reconciliation``: a live instance without the data key stops the worker with the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.broker
def test_when_a_live_instance_has_no_data_key_then_the_worker_stops_with_one_line_naming_it(
        hbot_env: dict[str, str], tmp_path: Path) -> None:
    instances = tmp_path / "instances.yaml"
    instances.write_text(yaml.safe_dump({"instances": [{
        "id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT:USDT", "execution": "live",
        "risk": {"gate": {"max_base_pct": 0.5}, "guard": {"max_daily_loss_pct_hard": 0.03}}}]}))
    env = {**hbot_env, "HBOT_INSTANCES_FILE": str(instances)}  # no HBOT_KEY_DATA_* and no /etc/hbot/keys here

    res = subprocess.run([sys.executable, "-m", "hbot.cli", "worker", "--role", "reconciliation"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=90)

    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("%")]
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(lines) == 1 and "bot1" in lines[0] and "HBOT_DATA_KEY_FILE" in lines[0], res.stderr
