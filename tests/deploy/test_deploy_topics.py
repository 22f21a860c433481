"""The chart's Strimzi topics are exactly the topic catalog (the single source of truth), plus the
changelog topics of the Faust tables each role's worker creates when it runs alone in its pod."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hbot.roles import ROLES
from streams.catalog import CATALOG, TopicSpec
from tests.deploy.deploy_tools import CHART_DIR, of_kind, render

GENERATOR = CHART_DIR / "generate_topics.py"
TOPICS_FILE = CHART_DIR / "files" / "topics.yaml"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hbot_chart_generate_topics", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_when_catalog_is_unchanged_then_the_generated_topics_file_is_up_to_date() -> None:
    # Act
    wanted = _generator().render_topics(CATALOG)

    # Assert
    assert TOPICS_FILE.read_text() == wanted, "files/topics.yaml is stale: run python deploy/helm/hbot/generate_topics.py"


def test_when_generator_runs_with_check_then_it_exits_zero_for_the_committed_file() -> None:
    # Act
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=60)

    # Assert
    assert result.returncode == 0, result.stderr


def test_when_catalog_differs_then_check_reports_the_file_stale(tmp_path: Path) -> None:
    # Arrange: a file generated from a catalog with one topic fewer
    generator = _generator()
    smaller = {name: spec for name, spec in list(CATALOG.items())[:-1]}
    stale = tmp_path / "topics.yaml"
    stale.write_text(generator.render_topics(smaller))

    # Act
    code = generator.main(["--check", "--output", str(stale)])

    # Assert
    assert code == 1


def role_changelogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Changelog topic -> partitions and cleanup policy, from the Faust apps ``hbot worker --role R`` builds,
    one role per app as the chart runs them (nothing connects to a broker)."""
    from hbot.runtime import Runtime
    from hbot.settings import HbotSettings
    from hbot.worker import RoleNotAvailable, build_worker_app

    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("HBOT_")]:
        monkeypatch.delenv(var)  # the chart's defaults, not this machine's settings
    rt = Runtime(HbotSettings(home=tmp_path / "home", market_source="none"))
    out: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        if role == "sink":
            continue  # a librdkafka loop, no Faust agents or tables
        try:
            app = build_worker_app(rt, (role,))
        except RoleNotAvailable:
            continue
        for table in app.tables.values():
            ct = table.changelog_topic
            out[ct.get_topic_name()] = {"partitions": ct.partitions,
                                        "cleanup.policy": ",".join(p for p, on in (("compact", ct.compacting), ("delete", ct.deleting)) if on)}
    return out


def test_when_strimzi_topics_are_enabled_then_kafkatopics_match_the_catalog_and_the_role_changelogs_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: the changelog topics the roles' Faust apps really create
    changelogs = role_changelogs(tmp_path, monkeypatch)
    assert {"hbot-roles-strategy-strategy-state-changelog", "hbot-roles-kill_switch-kill_switch-state-changelog"} <= set(changelogs)

    # Act
    topics = of_kind(render(sets=("kafka.strimzi.topics.enabled=true", "kafka.strimzi.topics.replicas=3")), "KafkaTopic")

    # Assert: names, partitions and configs, nothing more and nothing less
    rendered = {t["spec"]["topicName"]: t["spec"] for t in topics}
    assert set(rendered) == set(CATALOG) | set(changelogs)
    assert len(topics) == len(CATALOG) + len(changelogs)
    for name, spec in CATALOG.items():
        assert isinstance(spec, TopicSpec)
        assert rendered[name]["partitions"] == spec.partitions, name
        assert rendered[name]["config"] == spec.kafka_config(), name
        assert rendered[name]["replicas"] == 3
    for name, table in changelogs.items():
        assert rendered[name]["partitions"] == table["partitions"], name
        assert rendered[name]["config"] == {"cleanup.policy": table["cleanup.policy"]} == {"cleanup.policy": "compact"}, name
        assert rendered[name]["replicas"] == 3


def test_when_strimzi_topics_are_rendered_then_they_belong_to_the_cluster_and_survive_uninstall() -> None:
    # Act
    topics = of_kind(render(sets=("kafka.strimzi.topics.enabled=true", "kafka.strimzi.clusterName=prod")), "KafkaTopic")

    # Assert: valid Kubernetes names (no "_"), the Strimzi cluster label, kept on helm uninstall
    for topic in topics:
        meta = topic["metadata"]
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert "_" not in meta["name"] and meta["name"] == meta["name"].lower()
        assert meta["labels"]["strimzi.io/cluster"] == "prod"
        assert meta["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len({t["metadata"]["name"] for t in topics}) == len(topics)


def test_when_strimzi_topics_are_off_then_no_kafkatopic_renders() -> None:
    # Act
    topics = of_kind(render(), "KafkaTopic")

    # Assert
    assert topics == []
