"""Prometheus alert rules (promtool), their unit tests, the Alertmanager config (amtool)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.deploy_tools import (
    ALERTMANAGER_FILE,
    MONITORING_DIR,
    PRODUCTION_VALUES,
    RULE_TESTS_DIR,
    RULES_FILE,
    of_kind,
    render,
    require_tool,
    run,
)

# The desk's alerts the issue asks for, by what they watch.
REQUIRED_ALERTS = {
    "HbotGuardHardStop",
    "HbotKillSwitchFired",
    "HbotDlqGrowing",
    "HbotFeedStale",
    "HbotConsumerLagHigh",
    "HbotSinkFailing",
    "HbotReconciliationDrift",
}


def _rules() -> list[dict]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _rule_test_cases() -> list[dict]:
    cases = []
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases.extend(test["alert_rule_test"])
    return cases


def test_when_rules_are_checked_then_promtool_accepts_them() -> None:
    # Arrange
    promtool = require_tool("promtool")

    # Act
    result = run([promtool, "check", "rules", str(RULES_FILE)])

    # Assert
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout + result.stderr


def test_when_rule_unit_tests_run_then_promtool_passes_them_all() -> None:
    # Arrange
    promtool = require_tool("promtool")
    files = sorted(str(p) for p in RULE_TESTS_DIR.glob("*.yml"))
    assert files

    # Act
    result = run([promtool, "test", "rules", *files])

    # Assert
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "FAILED" not in output


def test_when_a_rule_threshold_is_broken_then_its_unit_test_fails(tmp_path: Path) -> None:
    # Arrange: the same tests against rules whose HARD_STOP threshold is wrong must not pass
    promtool = require_tool("promtool")
    broken = RULES_FILE.read_text().replace("(hbot_guard_state) >= 2", "(hbot_guard_state) >= 1")
    assert broken != RULES_FILE.read_text()
    (tmp_path / "hbot-alerts.yml").write_text(broken)
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    (tests_dir / "guard_test.yml").write_text((RULE_TESTS_DIR / "guard_test.yml").read_text())

    # Act
    result = run([promtool, "test", "rules", str(tests_dir / "guard_test.yml")])

    # Assert
    assert result.returncode != 0
    assert "HbotGuardHardStop" in result.stdout + result.stderr


def test_when_rules_are_listed_then_every_required_alert_exists_with_severity_and_runbook() -> None:
    # Act
    rules = {r["alert"]: r for r in _rules()}

    # Assert
    assert REQUIRED_ALERTS <= set(rules)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name


def test_when_unit_tests_are_listed_then_each_alert_has_a_firing_and_a_quiet_case() -> None:
    # Arrange
    cases = _rule_test_cases()

    # Act
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}

    # Assert
    alerts = {r["alert"] for r in _rules()}
    assert alerts - firing == set(), "alerts without a test where they fire"
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"


def test_when_rules_use_metrics_then_each_is_in_the_readme_contract() -> None:
    # Arrange
    readme = (MONITORING_DIR / "README.md").read_text()
    documented = set(re.findall(r"^\| `(hbot_[a-z_]+)` \|", readme, flags=re.M))

    # Act
    used = {m for r in _rules() for m in re.findall(r"\bhbot_[a-z_]+\b", r["expr"])}

    # Assert
    assert used, "no hbot_ metric in the rules"
    assert used <= documented, f"metrics used by rules but not documented: {sorted(used - documented)}"
    for rule in _rules():
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"### {rule['alert']}" in readme and anchor == rule["alert"].lower(), rule["alert"]


def test_when_prometheus_rule_is_enabled_then_the_chart_ships_the_same_rules() -> None:
    # Act
    rule = of_kind(render((PRODUCTION_VALUES,)), "PrometheusRule")[0]

    # Assert: the symlinked file, parsed identically (Prometheus templates left literal)
    assert rule["spec"] == yaml.safe_load(RULES_FILE.read_text())


def test_when_rules_configmap_is_enabled_then_it_holds_the_rules_file_verbatim() -> None:
    # Act
    configmaps = of_kind(render(sets=("monitoring.rulesConfigMap.enabled=true",)), "ConfigMap")

    # Assert
    rules = next(c for c in configmaps if c["metadata"]["name"] == "hbot-alert-rules")
    assert rules["data"]["hbot-alerts.yml"] == RULES_FILE.read_text().rstrip("\n")


def test_when_alertmanager_config_is_checked_then_amtool_accepts_it() -> None:
    # Arrange
    amtool = require_tool("amtool")

    # Act
    result = run([amtool, "check-config", str(ALERTMANAGER_FILE)])

    # Assert
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_when_alertmanager_config_is_read_then_slack_url_comes_from_the_secret_file() -> None:
    # Act
    config = yaml.safe_load(ALERTMANAGER_FILE.read_text())

    # Assert: every Slack receiver reads the mounted file; no URL is written in the config
    slack = [s for r in config["receivers"] for s in r.get("slack_configs", [])]
    assert slack
    for entry in slack:
        assert entry["api_url_file"] == "/etc/alertmanager/secrets/slack_webhook_url"
        assert "api_url" not in entry
    assert "hooks.slack" not in ALERTMANAGER_FILE.read_text()


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=HbotGuardHardStop", "instance=bot1"], "slack-desk-critical"),
        (["severity=warning", "alertname=HbotDlqGrowing"], "slack-desk"),
        (["alertname=Unlabelled"], "slack-desk"),
    ],
)
def test_when_an_alert_is_routed_then_it_reaches_the_receiver_for_its_severity(labels: list[str], receiver: str) -> None:
    # Arrange
    amtool = require_tool("amtool")

    # Act
    result = run([amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_FILE}", f"--verify.receivers={receiver}", *labels])

    # Assert
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver
