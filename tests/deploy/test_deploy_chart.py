"""The Helm chart: lint, Kubernetes schema validation, roles, keys per role, probes, rollouts, NOTES."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hbot.roles import ROLES
from tests.deploy.deploy_tools import (
    CHART_DIR,
    CUSTOM_KINDS,
    K8S_VERSION,
    PRODUCTION_VALUES,
    helm,
    of_kind,
    render,
    render_text,
    require_kubernetes_validate,
    require_tool,
    role_of,
    run,
)

VALUE_SETS = {"default": (), "production": (PRODUCTION_VALUES,)}

# The exchange key each role may see (ARCHITECTURE rule 7), as Secret names in values-production.yaml.
PRODUCTION_KEY_SECRET = {
    "market_data": "hbot-exchange-data",
    "reconciliation": "hbot-exchange-data",
    "execution": "hbot-exchange-trade",
    "kill_switch": "hbot-exchange-kill",
}
EXCHANGE_KEY_SECRETS = set(PRODUCTION_KEY_SECRET.values())


def _deployments_by_role(docs: list[dict]) -> dict[str, dict]:
    return {role_of(d): d for d in of_kind(docs, "Deployment")}


def _pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def _env(deployment: dict) -> dict[str, dict]:
    return {e["name"]: e for e in _pod_spec(deployment)["containers"][0]["env"]}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_when_chart_is_linted_strictly_then_it_passes(name: str) -> None:
    # Arrange
    args = ["lint", "--strict", "--kube-version", K8S_VERSION]
    for values_file in VALUE_SETS[name]:
        args += ["-f", str(values_file)]

    # Act
    result = helm(*args)

    # Assert
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", VALUE_SETS)
def test_when_rendered_then_every_manifest_passes_kubernetes_validate_strict(name: str, tmp_path: Path) -> None:
    # Arrange
    validate = require_kubernetes_validate()
    manifests = tmp_path / f"{name}.yaml"
    manifests.write_text(render_text(VALUE_SETS[name]))

    # Act
    result = run([*validate, "--strict", "-k", K8S_VERSION, "--quiet", str(manifests)])

    # Assert: no error, and the only kinds without a Kubernetes schema are the known custom ones
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ERROR" not in output and "FATAL" not in output, output
    unvalidated = {line.split("kind ")[1].split()[0] for line in output.splitlines() if line.startswith("WARN")}
    assert unvalidated <= CUSTOM_KINDS, output


def test_when_validator_sees_a_broken_manifest_then_it_reports_it(tmp_path: Path) -> None:
    # Arrange: guards the test above against a validator that passes everything
    validate = require_kubernetes_validate()
    docs = render()
    deployment = of_kind(docs, "Deployment")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))

    # Act
    result = run([*validate, "--strict", "-k", K8S_VERSION, "--quiet", str(broken)])

    # Assert
    assert result.returncode != 0
    assert "imagePullPolicyy" in result.stdout


def test_when_rendered_then_the_deployments_are_exactly_the_cli_roles() -> None:
    # Arrange
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    # Act
    roles = [role_of(d) for d in of_kind(render(), "Deployment")]

    # Assert: one Deployment per role the CLI knows, no more, and one values block per role
    assert sorted(roles) == sorted(ROLES)
    for role in ROLES:
        key = role.split("_")[0] + "".join(part.title() for part in role.split("_")[1:])
        assert key in values, f"values.yaml has no block {key!r} for role {role!r}"


def test_when_rendered_then_each_deployment_runs_hbot_worker_with_its_role_and_a_dns_name() -> None:
    # Act
    deployments = of_kind(render(), "Deployment")

    # Assert
    for d in deployments:
        role = role_of(d)
        container = _pod_spec(d)["containers"][0]
        assert container["command"] == ["hbot"]
        assert container["args"] == ["worker", "--role", role]
        assert d["metadata"]["name"] == f"hbot-{role.replace('_', '-')}"


def test_when_a_role_is_disabled_then_its_deployment_is_not_rendered() -> None:
    # Act
    roles = {role_of(d) for d in of_kind(render(sets=("signals.enabled=false",)), "Deployment")}

    # Assert
    assert roles == set(ROLES) - {"signals"}


def test_when_keys_are_configured_then_each_role_mounts_only_its_own_key() -> None:
    # Act
    by_role = _deployments_by_role(render((PRODUCTION_VALUES,)))

    # Assert
    for role in ROLES:
        pod = _pod_spec(by_role[role])
        secret_volumes = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        key_volumes = secret_volumes & EXCHANGE_KEY_SECRETS
        key_envs = {n for n in _env(by_role[role]) if n.endswith("_KEY_FILE")}
        expected = PRODUCTION_KEY_SECRET.get(role)
        assert key_volumes == ({expected} if expected else set()), role
        assert len(key_envs) == (1 if expected else 0), (role, key_envs)


def test_when_keys_are_configured_then_the_key_file_variable_points_at_the_mount() -> None:
    # Act
    by_role = _deployments_by_role(render((PRODUCTION_VALUES,)))

    # Assert
    expected = {
        "market_data": ("HBOT_DATA_KEY_FILE", "/etc/hbot/keys/data"),
        "reconciliation": ("HBOT_DATA_KEY_FILE", "/etc/hbot/keys/data"),
        "execution": ("HBOT_TRADE_KEY_FILE", "/etc/hbot/keys/trade"),
        "kill_switch": ("HBOT_KILL_SWITCH_KEY_FILE", "/etc/hbot/keys/kill-switch"),
    }
    for role, (var, path) in expected.items():
        container = _pod_spec(by_role[role])["containers"][0]
        assert _env(by_role[role])[var]["value"] == path
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[path]["readOnly"] is True


def test_when_key_is_a_json_entry_then_only_that_entry_is_mounted_as_a_file() -> None:
    # Act
    by_role = _deployments_by_role(
        render(sets=("exchangeKeys.trade.existingSecret=trade-key", "exchangeKeys.trade.existingSecretKey=key.json"))
    )

    # Assert
    execution = by_role["execution"]
    assert _env(execution)["HBOT_TRADE_KEY_FILE"]["value"] == "/etc/hbot/keys/trade/key.json"
    volume = next(v for v in _pod_spec(execution)["volumes"] if v["name"] == "exchange-key")
    assert volume["secret"]["items"] == [{"key": "key.json", "path": "key.json"}]


def test_when_rendered_then_the_kill_switch_has_its_own_service_account() -> None:
    # Act
    docs = render()
    by_role = _deployments_by_role(docs)

    # Assert
    accounts = {sa["metadata"]["name"] for sa in of_kind(docs, "ServiceAccount")}
    kill_sa = _pod_spec(by_role["kill_switch"])["serviceAccountName"]
    assert kill_sa == "hbot-kill-switch" and kill_sa in accounts
    others = {_pod_spec(d)["serviceAccountName"] for role, d in by_role.items() if role != "kill_switch"}
    assert others == {"hbot"}
    assert all(_pod_spec(d)["automountServiceAccountToken"] is False for d in by_role.values())


def test_when_rendered_then_probes_hit_the_faust_web_endpoint() -> None:
    # Act
    deployments = of_kind(render(sets=("webPort=7070",)), "Deployment")

    # Assert
    for d in deployments:
        container = _pod_spec(d)["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == 7070
        assert container["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready/", "port": "http"}
        assert _env(d)["HBOT_WEB_PORT"]["value"] == "7070"


def test_when_instances_change_then_the_config_checksum_changes_and_pods_roll(tmp_path: Path) -> None:
    # Arrange
    def checksums(values_files: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> set[str]:
        deployments = of_kind(render(values_files, sets), "Deployment")
        return {d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for d in deployments}

    instances = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["instances"]
    instances[0]["risk"]["gate"]["max_base_pct"] = 0.25
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({"instances": instances}))

    # Act
    before = checksums()
    unrelated = checksums(sets=("logLevel=DEBUG",))
    after = checksums((changed,))

    # Assert: one checksum shared by all roles; it moves with the instances YAML only
    assert len(before) == 1 and before == unrelated
    assert len(after) == 1 and after != before


@pytest.mark.parametrize("name", VALUE_SETS)
def test_when_rendered_then_the_workers_accept_the_instances_and_the_market_source(name: str) -> None:
    # Arrange: the workers' own start-up validation, not only the YAML model (the chart once shipped
    # flat risk keys that InstancesFile accepts and every worker refuses)
    from hbot.settings import InstancesFile
    from processors.instance import instance_setup
    from processors.market_data.live.service import live_feed_configs

    docs = render(VALUE_SETS[name])
    values = yaml.safe_load(VALUE_SETS[name][0].read_text()) if VALUE_SETS[name] else yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    # Act
    configmap = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].endswith("hbot-instances"))
    parsed = InstancesFile.model_validate(yaml.safe_load(configmap["data"]["instances.yaml"]))
    setups = [instance_setup(i) for i in parsed.instances]
    source = _env(_deployments_by_role(docs)["market_data"])["HBOT_MARKET_SOURCE"]["value"]

    # Assert: every worker points HBOT_INSTANCES_FILE at it; the market-data role publishes what the
    # instances trade (synthetic instances -> the synthetic market, exchange instances -> live feeds)
    assert [i.id for i in parsed.instances] == [i["id"] for i in values["instances"]]
    for d in of_kind(docs, "Deployment"):
        assert _env(d)["HBOT_INSTANCES_FILE"]["value"] == "/etc/hbot/instances/instances.yaml"
        assert ("HBOT_MARKET_SOURCE" in _env(d)) == (role_of(d) == "market_data")
    exchanges = {s.instance.exchange for s in setups}
    assert source == ("synthetic" if exchanges == {"synthetic"} else "live")
    if source == "live":
        feeds = dict(live_feed_configs(setups))
        assert len(feeds) == len({s.market for s in setups})
        for s in setups:
            for key, value in s.instance.feed.items():
                assert getattr(feeds[s.id], key) == value


def test_when_sasl_ssl_is_configured_then_password_and_dsn_come_from_secrets() -> None:
    # Act
    deployments = of_kind(render((PRODUCTION_VALUES,)), "Deployment")

    # Assert
    for d in deployments:
        env = _env(d)
        assert env["HBOT_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["HBOT_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["HBOT_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "hbot-kafka-user", "key": "password"}
        assert env["HBOT_CLICKHOUSE_DSN"]["valueFrom"]["secretKeyRef"] == {"name": "hbot-clickhouse", "key": "dsn"}
        assert env["HBOT_KAFKA_SSL_CA_FILE"]["value"] == "/etc/hbot/kafka-ca/ca.crt"
        assert "value" not in env["HBOT_KAFKA_SASL_PASSWORD"]


def test_when_defaults_are_used_then_optional_pieces_are_off() -> None:
    # Act
    kinds = {d["kind"] for d in render()}

    # Assert
    assert kinds == {"ServiceAccount", "ConfigMap", "Deployment"}
    assert len(of_kind(render(), "ConfigMap")) == 1


def test_when_the_archive_is_enabled_then_a_utc_cronjob_copies_yesterday_onto_the_claim() -> None:
    # Act
    docs = render((PRODUCTION_VALUES,))
    cron = next(d for d in of_kind(docs, "CronJob") if d["metadata"]["name"] == "hbot-archive")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    env = {e["name"]: e for e in container["env"]}

    # Assert: after the UTC rollover, one run at a time, yesterday's UTC day onto the persistent claim,
    # with the same Kafka settings (and secrets) as the workers
    assert cron["spec"]["timeZone"] == "Etc/UTC" and cron["spec"]["schedule"].split()[1] == "0"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert container["args"] == ["archive", "--date", "yesterday"]
    assert mounts["archive"] == f"{env['HBOT_HOME']['value']}/archive"
    assert volumes["archive"]["persistentVolumeClaim"] == {"claimName": "hbot-archive"}
    assert env["HBOT_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "hbot-kafka-user"
    assert not any("exchange" in v.get("secret", {}).get("secretName", "") for v in pod["volumes"])  # no exchange key


def test_when_production_values_are_used_then_every_optional_piece_renders() -> None:
    # Act
    docs = render((PRODUCTION_VALUES,))
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}

    # Assert
    assert ("Job", "hbot-migrate") in names
    assert ("PrometheusRule", "hbot-alerts") in names
    assert ("PodMonitor", "hbot") in names
    assert ("ConfigMap", "hbot-grafana-datasource") in names
    assert ("ConfigMap", "hbot-otel-collector") in names
    assert ("CronJob", "hbot-archive") in names
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["sink", "migrate"]
    assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]


def test_when_grafana_is_on_then_the_datasource_and_one_configmap_per_shipped_dashboard_render() -> None:
    # Act
    configmaps = of_kind(render(sets=("grafana.enabled=true",)), "ConfigMap")

    # Assert: files/dashboards links to sinks/grafana/dashboards; each file is one ConfigMap, no placeholders
    shipped = {p.name: p.read_text() for p in (CHART_DIR / "files" / "dashboards").glob("*.json")}
    labelled = [c for c in configmaps if c["metadata"]["labels"].get("grafana_dashboard") == "1"]
    datasource = [c for c in configmaps if c["metadata"]["labels"].get("grafana_datasource") == "1"]
    assert len(shipped) >= 3
    assert {k: v for c in labelled for k, v in c["data"].items()} == {k: v.rstrip("\n") for k, v in shipped.items()}
    assert len(datasource) == 1
    assert "${HBOT_CLICKHOUSE_GRAFANA_PASSWORD}" in next(iter(datasource[0]["data"].values()))


def test_when_dashboard_files_exist_then_each_becomes_a_sidecar_configmap(tmp_path: Path) -> None:
    # Arrange: a copy of the chart with one dashboard file (symlinks resolved)
    chart = tmp_path / "hbot"
    shutil.copytree(CHART_DIR, chart, symlinks=False)
    shutil.rmtree(chart / "files" / "dashboards", ignore_errors=True)  # only this test's dashboard
    (chart / "files" / "dashboards").mkdir(exist_ok=True)
    dashboard = '{"title": "hbot TCA", "panels": []}'
    (chart / "files" / "dashboards" / "tca_daily.json").write_text(dashboard)

    # Act
    text = render_text(sets=("grafana.enabled=true",), chart=chart)

    # Assert
    configmaps = [d for d in yaml.safe_load_all(text) if d and d["kind"] == "ConfigMap"]
    dashboards = [c for c in configmaps if c["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(dashboards) == 1
    assert dashboards[0]["metadata"]["name"] == "hbot-dashboard-tca-daily"
    assert dashboards[0]["data"] == {"tca_daily.json": dashboard}


def test_when_notes_are_rendered_then_they_say_how_to_reach_dashboards_and_replay(tmp_path: Path) -> None:
    # Arrange: helm template does not print NOTES.txt, so a copy of the chart renders it into a ConfigMap
    chart = tmp_path / "hbot"
    shutil.copytree(CHART_DIR, chart, symlinks=False)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "files" / "NOTES.txt")
    (chart / "templates" / "zz-notes.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | quote }}\n'
    )
    require_tool("helm")

    # Act
    text = render_text((PRODUCTION_VALUES,), chart=chart)

    # Assert
    notes = next(d for d in yaml.safe_load_all(text) if d and d["metadata"]["name"] == "notes")["data"]["notes"]
    assert "hbot replay --topic hb.fill.v1 --start" in notes and "--end" in notes
    assert "port-forward svc/<grafana-service> 3000:80" in notes
    assert "LIVE TRADING is on for: bot1" in notes
    assert "curl -fsS http://127.0.0.1:6066/ready/" in notes


def test_when_collector_and_datasource_configs_render_then_their_embedded_yaml_parses() -> None:
    # Act
    configmaps = {c["metadata"]["name"]: c for c in of_kind(render((PRODUCTION_VALUES,)), "ConfigMap")}

    # Assert: the collector exports metrics on its Prometheus endpoint and forwards traces over OTLP
    collector = yaml.safe_load(configmaps["hbot-otel-collector"]["data"]["relay"])
    pipelines = collector["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert collector["exporters"]["prometheus"]["endpoint"] == "0.0.0.0:8889"
    assert pipelines["traces"]["exporters"] == ["otlp/traces"]
    assert collector["exporters"]["otlp/traces"]["endpoint"] == "tempo.observability.svc:4317"
    datasource = yaml.safe_load(configmaps["hbot-grafana-datasource"]["data"]["hbot-clickhouse.yaml"])["datasources"][0]
    assert datasource["type"] == "grafana-clickhouse-datasource"
    assert datasource["jsonData"]["host"] == "clickhouse.analytics.svc"
