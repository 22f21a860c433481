"""Bad values fail `helm template` / `helm lint` with a message that names the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.deploy_tools import K8S_VERSION, helm, template_args

LIVE_INSTANCE = {
    "id": "bot1",
    "exchange": "bitget",
    "symbol": "BTC/USDT:USDT",
    "execution": "live",
    "risk": {"gate": {"max_base_pct": 0.5}, "guard": {"max_daily_loss_pct_hard": 0.03}},
}
BOTH_KEYS = {"trade": {"existingSecret": "trade-key"}, "killSwitch": {"existingSecret": "kill-key"}}


def _values_file(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _template(values_file: Path) -> str:
    result = helm(*template_args((values_file,)))
    assert result.returncode != 0, "helm template accepted bad values"
    return result.stderr


def _lint(values_file: Path) -> str:
    result = helm("lint", "--strict", "--kube-version", K8S_VERSION, "-f", str(values_file))
    assert result.returncode != 0, "helm lint accepted bad values"
    return result.stdout + result.stderr


# Schema errors: both helm template and helm lint --strict reject them.
SCHEMA_CASES = {
    "instance without symbol": (
        {"instances": [{"id": "bot1", "exchange": "bitget"}]},
        ["at '/instances/0': missing property 'symbol'"],
    ),
    "kafka bootstrap removed": (
        {"kafka": {"bootstrap": None}},
        ["at '/kafka': missing property 'bootstrap'"],
    ),
    "negative hard loss limit": (
        {"instances": [{"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT", "risk": {"guard": {"max_daily_loss_pct_hard": -0.03}}}]},
        ["/instances/0/risk/guard/max_daily_loss_pct_hard", "got -0.03, want 0"],
    ),
    "hard loss limit above 100%": (
        {"instances": [{"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT", "risk": {"guard": {"max_daily_loss_pct_hard": 3}}}]},
        ["/instances/0/risk/guard/max_daily_loss_pct_hard", "got 3, want 1"],
    ),
    "negative position cap": (
        {"instances": [{"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT", "risk": {"gate": {"max_base_pct": -0.5}}}]},
        ["/instances/0/risk/gate/max_base_pct", "minimum: got -0.5, want 0"],
    ),
    "flat risk keys (the workers read risk.gate and risk.guard)": (
        {"instances": [{"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT", "risk": {"max_base_pct": 0.5}}]},
        ["/instances/0/risk", "additional properties 'max_base_pct' not allowed"],
    ),
    "unknown market source": (
        {"marketSource": "replay"},
        ["/marketSource", "'live'"],
    ),
    "unknown execution mode": (
        {"instances": [{"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT", "execution": "real"}]},
        ["/instances/0/execution", "'paper'", "'live'"],
    ),
    "live instance without a hard loss limit": (
        {"instances": [{**LIVE_INSTANCE, "risk": {"gate": {"max_base_pct": 0.5}, "guard": {}}}], "exchangeKeys": BOTH_KEYS},
        ["/instances/0/risk/guard", "missing property 'max_daily_loss_pct_hard'"],
    ),
    "negative replica count": (
        {"strategy": {"replicaCount": -1}},
        ["/strategy/replicaCount", "minimum: got -1, want 0"],
    ),
    "misspelt role key": (
        {"marketData": {"replicas": 2}},
        ["at '/marketData': additional properties 'replicas' not allowed"],
    ),
    "inline exchange key": (
        {"exchangeKeys": {"trade": {"existingSecret": "", "apiKey": "abc"}}},
        ["/exchangeKeys/trade", "additional properties 'apiKey' not allowed"],
    ),
    "unknown Kafka security protocol": (
        {"kafka": {"securityProtocol": "TLS"}},
        ["/kafka/securityProtocol", "'SASL_SSL'"],
    ),
}


@pytest.mark.parametrize("case", SCHEMA_CASES)
def test_when_values_break_the_schema_then_template_and_lint_fail_naming_the_key(case: str, tmp_path: Path) -> None:
    # Arrange
    values, expected = SCHEMA_CASES[case]
    values_file = _values_file(tmp_path, values)

    # Act
    template_error = _template(values_file)
    lint_output = _lint(values_file)

    # Assert
    assert "values don't meet the specifications of the schema" in template_error
    for fragment in expected:
        assert fragment in template_error, template_error
        assert fragment in lint_output, lint_output


# Cross-key rules (hbot.validateValues): helm template fails with the chart's own message.
VALIDATE_CASES = {
    "live without trade key": (
        {"instances": [LIVE_INSTANCE], "exchangeKeys": {"killSwitch": {"existingSecret": "kill-key"}}},
        "instances [bot1] trade live but exchangeKeys.trade.existingSecret is empty",
    ),
    "live without kill-switch key": (
        {"instances": [LIVE_INSTANCE], "exchangeKeys": {"trade": {"existingSecret": "trade-key"}}},
        "instances [bot1] trade live but exchangeKeys.killSwitch.existingSecret is empty",
    ),
    "live with the kill switch disabled": (
        {"instances": [LIVE_INSTANCE], "exchangeKeys": BOTH_KEYS, "killSwitch": {"enabled": False}},
        "instances [bot1] trade live but killSwitch.enabled is false",
    ),
    "kill switch sharing the trade key": (
        {"exchangeKeys": {"trade": {"existingSecret": "one-key"}, "killSwitch": {"existingSecret": "one-key"}}},
        "the kill switch must use its own key",
    ),
    "duplicate instance ids": (
        {"instances": [{"id": "a", "exchange": "x", "symbol": "B/Q"}, {"id": "a", "exchange": "x", "symbol": "C/Q"}]},
        'instances: id "a" appears more than once',
    ),
    "SASL without mechanism": (
        {"kafka": {"securityProtocol": "SASL_SSL"}},
        "kafka.securityProtocol is SASL_SSL but kafka.sasl.mechanism is empty",
    ),
    "SASL without password secret": (
        {"kafka": {"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "PLAIN", "username": "hbot"}}},
        "kafka.sasl.existingSecret is empty",
    ),
    "synthetic and exchange instances under an automatic market source": (
        {"instances": [{"id": "a", "exchange": "synthetic", "symbol": "B/Q"}, {"id": "b", "exchange": "bitget", "symbol": "B/Q"}]},
        "marketSource is auto but instances [a] are on the synthetic exchange and others are not",
    ),
    "live market source with a synthetic instance": (
        {"marketSource": "live"},
        "marketSource is live but instances [paper-btc] are on the synthetic exchange",
    ),
    "archive without a volume claim": (
        {"archive": {"enabled": True}},
        "archive.enabled needs archive.existingClaim",
    ),
    "migrations without a ClickHouse server": (
        {"migrations": {"enabled": True}},
        "migrations.enabled needs a ClickHouse server",
    ),
}


@pytest.mark.parametrize("case", VALIDATE_CASES)
def test_when_values_are_inconsistent_then_template_fails_with_the_fix(case: str, tmp_path: Path) -> None:
    # Arrange
    values, expected = VALIDATE_CASES[case]
    values_file = _values_file(tmp_path, values)

    # Act
    error = _template(values_file)

    # Assert
    assert "hbot: invalid values:" in error
    assert expected in error, error


def test_when_live_instance_has_both_keys_then_template_succeeds(tmp_path: Path) -> None:
    # Arrange: the positive counterpart of the live-mode checks above
    values_file = _values_file(tmp_path, {"instances": [LIVE_INSTANCE], "exchangeKeys": BOTH_KEYS})

    # Act
    result = helm(*template_args((values_file,)))

    # Assert
    assert result.returncode == 0, result.stderr
