"""``hbot worker`` with a live instance: each role that talks to the exchange needs its own key, and
bad ``live:`` settings are named; either way the worker stops at start with one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LIVE = {"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT:USDT", "execution": "live",
        "risk": {"gate": {"max_base_pct": 0.5}, "guard": {"max_daily_loss_pct_hard": 0.03}}}


def _worker(hbot_env: dict[str, str], tmp_path: Path, role: str, instance: dict[str, Any]) -> tuple[int, list[str], str]:
    instances = tmp_path / "instances.yaml"
    instances.write_text(yaml.safe_dump({"instances": [instance]}))
    env = {**hbot_env, "HBOT_INSTANCES_FILE": str(instances)}  # no HBOT_KEY_* and no /etc/hbot/keys here
    res = subprocess.run([sys.executable, "-m", "hbot.cli", "worker", "--role", role], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=90)
    return res.returncode, [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("%")], res.stderr


@pytest.mark.broker
@pytest.mark.parametrize(("role", "key_variable"), [
    ("reconciliation", "HBOT_DATA_KEY_FILE"),
    ("execution", "HBOT_TRADE_KEY_FILE"),
    ("kill_switch", "HBOT_KILL_SWITCH_KEY_FILE"),
])
def test_when_a_live_instance_has_no_key_for_the_role_then_the_worker_stops_with_one_line_naming_it(
        hbot_env: dict[str, str], tmp_path: Path, role: str, key_variable: str) -> None:
    code, lines, stderr = _worker(hbot_env, tmp_path, role, LIVE)

    assert code == 2 and "Traceback" not in stderr
    assert len(lines) == 1 and "bot1" in lines[0] and key_variable in lines[0], stderr


@pytest.mark.broker
def test_when_a_live_setting_is_invalid_then_the_execution_worker_names_its_path(hbot_env: dict[str, str], tmp_path: Path) -> None:
    code, lines, stderr = _worker(hbot_env, tmp_path, "execution", {**LIVE, "live": {"poll_interval_s": 0}})

    assert code == 2 and "Traceback" not in stderr
    assert len(lines) == 1 and "instances[bot1].live.poll_interval_s" in lines[0], stderr
