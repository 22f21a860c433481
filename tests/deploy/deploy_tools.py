"""Shared helpers for the deploy tests: find the external tools, run helm, render the chart.

The tools (helm, promtool, amtool, kubernetes-validate) come from ``bash .ci/install-tools.sh``.
A test that needs a missing tool is skipped with the reason, unless ``HBOT_REQUIRE_TOOLS`` is set
(CI sets it): then it fails, so a CI machine without the tools cannot pass by skipping.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "deploy" / "helm" / "hbot"
PRODUCTION_VALUES = CHART_DIR / "ci" / "values-production.yaml"
MONITORING_DIR = REPO / "deploy" / "monitoring"
RULES_FILE = MONITORING_DIR / "prometheus" / "hbot-alerts.yml"
RULE_TESTS_DIR = MONITORING_DIR / "prometheus" / "tests"
ALERTMANAGER_FILE = MONITORING_DIR / "alertmanager" / "alertmanager.yml"

# Kubernetes version the chart is rendered for and validated against: helm --kube-version and
# kubernetes-validate -k use the same one (kubernetes-validate 1.37 ships schemas 1.25 .. 1.37).
K8S_VERSION = "1.33.0"

# Custom resources kubernetes-validate has no schema for; the tests check these by hand.
CUSTOM_KINDS = {"KafkaTopic", "PrometheusRule", "PodMonitor"}

_INSTALL_HINT = "install it with: bash .ci/install-tools.sh"


def tools_required() -> bool:
    """True when missing tools must fail the tests instead of skipping them (CI)."""
    return os.environ.get("HBOT_REQUIRE_TOOLS", "").strip() not in ("", "0", "false", "no")


def _missing(what: str) -> None:
    message = f"{what} is not installed; {_INSTALL_HINT}"
    if tools_required():
        pytest.fail(f"{message} (HBOT_REQUIRE_TOOLS is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(f"{message} (or set HBOT_REQUIRE_TOOLS=1 to fail instead of skipping)")


def find_tool(name: str) -> str | None:
    """Path of an executable: on PATH, else in the install script's cache dir."""
    found = shutil.which(name)
    if found:
        return found
    caches = [REPO / ".ci" / ".cache" / "bin"]
    if os.environ.get("HBOT_TOOLS_CACHE"):
        caches.insert(0, Path(os.environ["HBOT_TOOLS_CACHE"]) / "bin")
    for cache in caches:
        candidate = cache / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_tool(name: str) -> str:
    """The tool's path, or skip (fail under HBOT_REQUIRE_TOOLS) naming how to install it."""
    path = find_tool(name)
    if path is None:
        _missing(name)
    return path  # type: ignore[return-value]


def require_kubernetes_validate() -> list[str]:
    """The command that runs kubernetes-validate with this interpreter, or skip / fail."""
    if importlib.util.find_spec("kubernetes_validate") is None:
        _missing("kubernetes-validate (PyPI, in this Python environment)")
    return [sys.executable, "-m", "kubernetes_validate"]


@functools.lru_cache(maxsize=1)
def _helm_home() -> tempfile.TemporaryDirectory[str]:
    # Removed when the test process exits (the object's finalizer).
    return tempfile.TemporaryDirectory(prefix="hbot-helm-")


def _helm_env() -> dict[str, str]:
    # Keep helm's cache/config out of the user's home: the tests leave nothing behind.
    home = Path(_helm_home().name)
    env = dict(os.environ)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    return env


def run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; never raises on a non-zero exit."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_helm_env(), cwd=REPO)


def helm(*args: str, chart: Path = CHART_DIR) -> subprocess.CompletedProcess[str]:
    """``helm <args> <chart>`` (template/lint); the chart path goes after the sub-command's args."""
    return run([require_tool("helm"), *args, str(chart)])


def template_args(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> list[str]:
    """Arguments of ``helm template`` for a release "hbot" in namespace "desk"."""
    args = ["template", "hbot", "--namespace", "desk", "--kube-version", K8S_VERSION]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return args


def render_text(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = (), chart: Path = CHART_DIR) -> str:
    """Rendered manifests as one YAML stream; fails the test with helm's message if rendering fails."""
    result = run([require_tool("helm"), *template_args(values_files, sets), str(chart)])
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return result.stdout


@functools.lru_cache(maxsize=16)
def _render_cached(values_files: tuple[Path, ...], sets: tuple[str, ...]) -> str:
    return render_text(values_files, sets)


def render(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rendered manifests as dicts (a fresh copy each call; rendering itself is cached)."""
    text = _render_cached(tuple(values_files), tuple(sets))
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The manifests of one kind."""
    return [d for d in docs if d.get("kind") == kind]


def role_of(deployment: dict[str, Any]) -> str:
    """The ``--role`` argument of a worker Deployment's container."""
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return args[args.index("--role") + 1]


def as_json(obj: Any) -> str:
    """Stable JSON text of a manifest (for 'does this mention X anywhere' checks)."""
    return json.dumps(obj, sort_keys=True)
