"""Desk metrics: each method records the contract's instrument, and the exported Prometheus names are
the ones the alert rules in deploy/monitoring use (scraped over HTTP, so rules and code cannot drift)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from streams.broker import free_port
from streams.metrics import (
    TICK_TO_ORDER_BUCKETS_S,
    DeskMetrics,
    MetricsConfigError,
    PrometheusEndpoint,
    build_provider,
    choose_exporters,
    desk_metrics,
    use_metrics,
)

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
MARKET = "bitget:BTC/USDT:USDT"


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """OpenTelemetry instrument name -> [(attributes, value or histogram point)] of one collection."""
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out[m.name] = [(dict(p.attributes or {}), p if isinstance(p, HistogramDataPoint) else p.value)
                               for p in m.data.data_points]
    return out


def value(pts: dict[str, list[tuple[dict[str, Any], Any]]], name: str, **attrs: str) -> Any:
    found = [v for a, v in pts.get(name, []) if a == attrs]
    assert len(found) == 1, f"{name}{attrs}: {pts.get(name)}"
    return found[0]


@pytest.fixture
def memory() -> Iterator[tuple[DeskMetrics, InMemoryMetricReader, Clock]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    clock = Clock(1_700_000_000.0)
    yield DeskMetrics(provider, clock=clock), reader, clock
    provider.shutdown()


# -- each method, its instrument, attributes and values ---------------------------------------------------

def test_when_counters_are_recorded_then_each_instrument_carries_the_contract_attributes(memory: Any) -> None:
    m, reader, _ = memory
    m.event_in("hb.market.book.v1")
    m.event_in("hb.market.book.v1", 4)
    m.event_out("hb.quote.v1", 2)
    m.dlq("hb.market.book.v1", "strategy")
    m.dlq("hb.market.book.v1", "strategy")
    m.fill("bot1", MARKET)
    m.fill_traded("bot1", MARKET, "BUY", "MAKER", 650.0, 0.13)
    m.fill_traded("bot1", MARKET, "BUY", "MAKER", 350.0, -0.07)
    m.order("bot1", MARKET, "PLACE")
    m.order("bot1", MARKET, "PLACE")
    m.decision("bot1", MARKET)
    m.kill_switch_activation("bot1")
    m.sink_rows("hb_fill_v1", 120)
    m.sink_rows("hb_fill_v1", 30)
    m.sink_insert_failure("hb_fill_v1")
    pts = points(reader)
    assert value(pts, "hbot.events", topic="hb.market.book.v1", direction="in") == 5
    assert value(pts, "hbot.events", topic="hb.quote.v1", direction="out") == 2
    assert value(pts, "hbot.dlq.records", source_topic="hb.market.book.v1", processor="strategy") == 2
    assert value(pts, "hbot.fills", instance="bot1", market=MARKET) == 1
    fill_labels = {"instance": "bot1", "market": MARKET, "side": "BUY", "liquidity": "MAKER"}
    assert value(pts, "hbot.fill.notional_quote", **fill_labels) == 1000.0
    assert value(pts, "hbot.fill.fees_quote", **fill_labels) == pytest.approx(0.13)
    assert value(pts, "hbot.fill.rebates_quote", **fill_labels) == pytest.approx(0.07)
    assert value(pts, "hbot.orders", instance="bot1", market=MARKET, action="PLACE") == 2
    assert value(pts, "hbot.decisions", instance="bot1", market=MARKET) == 1
    assert value(pts, "hbot.kill_switch.activations", instance="bot1") == 1
    assert value(pts, "hbot.sink.rows", table="hb_fill_v1") == 150
    assert value(pts, "hbot.sink.insert_failures", table="hb_fill_v1") == 1


def test_when_label_sets_are_declared_then_their_counters_exist_at_zero(memory: Any) -> None:
    m, reader, _ = memory
    m.declare_instance("bot2", MARKET)
    m.declare_topics(["hb.fill.v1", "hb.order_update.v1"], "in")
    m.declare_dlq(["hb.fill.v1"], "risk")
    m.declare_tables(["hb_guard_v1"])
    m.declare_fills("bot3", MARKET)
    m.declare_orders("bot3", MARKET)
    m.declare_decisions("bot3", MARKET)
    m.declare_kill_switch("bot3")
    pts = points(reader)
    for side in ("BUY", "SELL"):
        for liq in ("MAKER", "TAKER"):
            labels = {"instance": "bot3", "market": MARKET, "side": side, "liquidity": liq}
            assert value(pts, "hbot.fill.notional_quote", **labels) == 0
            assert value(pts, "hbot.fill.fees_quote", **labels) == 0
            assert value(pts, "hbot.fill.rebates_quote", **labels) == 0
    assert value(pts, "hbot.fills", instance="bot3", market=MARKET) == 0
    assert {a["action"] for a, _ in pts["hbot.orders"] if a["instance"] == "bot3"} == {"PLACE", "CANCEL", "CANCEL_ALL"}
    assert value(pts, "hbot.decisions", instance="bot3", market=MARKET) == 0
    assert value(pts, "hbot.kill_switch.activations", instance="bot3") == 0
    assert value(pts, "hbot.kill_switch.activations", instance="bot2") == 0
    assert value(pts, "hbot.fills", instance="bot2", market=MARKET) == 0
    assert value(pts, "hbot.events", topic="hb.order_update.v1", direction="in") == 0
    assert value(pts, "hbot.dlq.records", source_topic="hb.fill.v1", processor="risk") == 0
    assert value(pts, "hbot.sink.rows", table="hb_guard_v1") == 0
    assert value(pts, "hbot.sink.insert_failures", table="hb_guard_v1") == 0


def test_when_gauges_are_set_then_the_last_value_per_label_set_is_exported(memory: Any) -> None:
    m, reader, _ = memory
    m.guard_state("bot1", MARKET, "SOFT_PAUSE")
    m.guard_state("bot1", MARKET, "HARD_STOP")
    m.guard_state("bot2", MARKET, 0)
    m.position("bot1", MARKET, 0.25)
    m.position("bot1", MARKET, -0.1)
    m.pnl("bot1", MARKET, -12.5)
    m.equity("bot1", MARKET, 9_987.5)
    m.consumer_lag("hbot-sink", "hb.fill.v1", 1500)
    m.reconciliation_drift("bot1", MARKET, -0.015)
    pts = points(reader)
    assert value(pts, "hbot.guard.state", instance="bot1", market=MARKET) == 2
    assert value(pts, "hbot.guard.state", instance="bot2", market=MARKET) == 0
    assert value(pts, "hbot.position.base", instance="bot1", market=MARKET) == -0.1
    assert value(pts, "hbot.pnl.quote", instance="bot1", market=MARKET) == -12.5
    assert value(pts, "hbot.equity.quote", instance="bot1", market=MARKET) == 9_987.5
    assert value(pts, "hbot.consumer.lag", group="hbot-sink", topic="hb.fill.v1") == 1500
    assert value(pts, "hbot.reconciliation.drift_pct", instance="bot1", market=MARKET) == -0.015


def test_when_a_guard_state_is_unknown_then_it_is_refused(memory: Any) -> None:
    m, _, _ = memory
    with pytest.raises(KeyError):
        m.guard_state("bot1", MARKET, "PANIC")
    with pytest.raises(ValueError, match="RUNNING"):
        m.guard_state("bot1", MARKET, 3)


def test_when_the_feed_stops_then_its_age_keeps_growing_at_each_collection(memory: Any) -> None:
    m, reader, clock = memory
    m.feed_event(MARKET, int((clock.now - 2.0) * 1e6))
    assert value(points(reader), "hbot.feed.age", market=MARKET) == pytest.approx(2.0)
    clock.now += 40  # no new event for 40 s
    assert value(points(reader), "hbot.feed.age", market=MARKET) == pytest.approx(42.0)
    m.feed_event(MARKET, int((clock.now - 100) * 1e6))  # a late, older event does not age the feed
    assert value(points(reader), "hbot.feed.age", market=MARKET) == pytest.approx(42.0)
    m.feed_event(MARKET, int((clock.now - 0.5) * 1e6))
    assert value(points(reader), "hbot.feed.age", market=MARKET) == pytest.approx(0.5)


def test_when_tick_to_order_is_recorded_then_the_histogram_uses_second_buckets(memory: Any) -> None:
    m, reader, _ = memory
    for s in (0.004, 0.004, 0.03, 3.0):
        m.tick_to_order(s)
    p = value(points(reader), "hbot.tick_to_order")
    assert p.count == 4 and p.sum == pytest.approx(3.038)
    assert tuple(p.explicit_bounds) == TICK_TO_ORDER_BUCKETS_S
    by_bound = dict(zip([*p.explicit_bounds, float("inf")], p.bucket_counts))
    assert by_bound[0.005] == 2 and by_bound[0.05] == 1 and by_bound[5.0] == 1


def test_when_metrics_are_disabled_then_every_call_is_accepted() -> None:
    m = DeskMetrics.disabled()
    m.event_in("t")
    m.dlq("t", "p")
    m.guard_state("bot1", MARKET, "RUNNING")
    m.feed_event(MARKET, 1)
    m.tick_to_order(0.1)
    m.declare_tables(["x"])


# -- which exporters run ------------------------------------------------------------------------------------

@pytest.mark.parametrize("configured,env,expected", [
    (None, {}, ()),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ("otlp",)),
    (None, {"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ("prometheus",)),
    (None, {"OTEL_METRICS_EXPORTER": "otlp,prometheus"}, ("otlp", "prometheus")),
    (None, {"OTEL_METRICS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ()),
    ("prometheus", {"OTEL_METRICS_EXPORTER": "otlp"}, ("prometheus",)),
    ("none", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ()),
])
def test_when_exporters_are_chosen_then_the_setting_then_otel_variables_decide(
        configured: Any, env: dict[str, str], expected: tuple[str, ...]) -> None:
    assert choose_exporters(configured, env) == expected


def test_when_an_unknown_exporter_is_asked_then_the_error_names_the_variable() -> None:
    with pytest.raises(MetricsConfigError, match="OTEL_METRICS_EXPORTER=.*statsd"):
        choose_exporters(None, {"OTEL_METRICS_EXPORTER": "statsd"})


def test_when_the_metrics_port_is_taken_then_the_error_names_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with pytest.raises(MetricsConfigError, match="HBOT_METRICS_PORT"):
            PrometheusEndpoint("127.0.0.1", s.getsockname()[1])


# -- the exported names are the contract the alert rules use ------------------------------------------------

def contract() -> dict[str, set[str]]:
    """Prometheus name -> labels, from the metrics table of deploy/monitoring/README.md."""
    out: dict[str, set[str]] = {}
    for line in (MONITORING / "README.md").read_text().splitlines():
        if not line.startswith("| `hbot_"):
            continue
        cols = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        labels_col = re.sub(r"\(.*?\)", "", cols[3])
        out[cols[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", labels_col))
    return out


def rule_metric_names() -> set[str]:
    """Every hbot_* name in the expressions of the Prometheus rule files."""
    names: set[str] = set()
    for path in sorted((MONITORING / "prometheus").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                names |= set(re.findall(r"\bhbot_[a-z0-9_]+", rule["expr"]))
    return names


def promtool_series_labels() -> dict[str, set[frozenset[str]]]:
    """hbot_* name -> the label-name sets of the synthetic series the promtool tests feed the rules."""
    out: dict[str, set[frozenset[str]]] = {}
    for path in sorted((MONITORING / "prometheus" / "tests").glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for s in test.get("input_series", []):
                m = re.fullmatch(r"(hbot_[a-z0-9_]+)(?:\{(.*)\})?", s["series"].strip())
                if m:
                    out.setdefault(m.group(1), set()).add(frozenset(re.findall(r"([a-z_]+)=", m.group(2) or "")))
    return out


def record_everything(m: DeskMetrics) -> None:
    m.event_in("hb.market.book.v1")
    m.event_out("hb.quote.v1")
    m.dlq("hb.market.book.v1", "strategy")
    m.tick_to_order(0.012)
    m.guard_state("bot1", MARKET, "SOFT_PAUSE")
    m.position("bot1", MARKET, 0.3)
    m.pnl("bot1", MARKET, 4.2)
    m.fill("bot1", MARKET)
    m.fill_traded("bot1", MARKET, "SELL", "TAKER", 65.0, 0.04)
    m.fill_traded("bot1", MARKET, "SELL", "MAKER", 65.0, -0.01)
    m.order("bot1", MARKET, "CANCEL")
    m.decision("bot1", MARKET)
    m.equity("bot1", MARKET, 10_004.2)
    m.kill_switch_activation("bot1")
    m.sink_rows("hb_fill_v1", 7)
    m.sink_insert_failure("hb_fill_v1")
    m.consumer_lag("hbot-sink", "hb.fill.v1", 3)
    m.feed_received(MARKET)
    m.reconciliation_drift("bot1", MARKET, 0.002)


def scrape(port: int, openmetrics: bool) -> dict[str, list[dict[str, str]]]:
    """Sample name -> label dicts, from GET /metrics in the classic text or the OpenMetrics format."""
    accept = "application/openmetrics-text; version=1.0.0; charset=utf-8" if openmetrics else "text/plain; version=0.0.4"
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read().decode()
        assert ("openmetrics" in resp.headers["Content-Type"]) == openmetrics
    samples: dict[str, list[dict[str, str]]] = {}
    for family in (parse_openmetrics if openmetrics else parse_text)(body):
        for s in family.samples:
            samples.setdefault(s.name, []).append(dict(s.labels))
    return samples


@pytest.fixture
def prometheus_endpoint() -> Iterator[tuple[DeskMetrics, int]]:
    provider, endpoint = build_provider("hbot-test", ["prometheus"], "127.0.0.1", 0)
    assert endpoint is not None
    try:
        yield DeskMetrics(provider), endpoint.port
    finally:
        provider.shutdown()
        endpoint.close()


def test_the_rules_the_promtool_tests_and_the_readme_name_the_same_metrics() -> None:
    names = rule_metric_names()
    assert names, "no hbot_* metric found in the rule files"
    assert names <= set(contract()), f"rules use metrics missing from the README contract: {names - set(contract())}"
    series = promtool_series_labels()
    assert set(series) <= set(contract())
    for name, label_sets in series.items():
        assert label_sets == {frozenset(contract()[name])}, f"promtool tests feed {name} with labels {label_sets}"


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics-1.0"])
def test_when_prometheus_scrapes_metrics_then_every_name_and_label_set_is_the_contract(
        prometheus_endpoint: tuple[DeskMetrics, int], openmetrics: bool) -> None:
    m, port = prometheus_endpoint
    record_everything(m)
    samples = scrape(port, openmetrics)
    exported = {n for n in samples if n.startswith("hbot_")}
    for name, labels in contract().items():
        series = samples.get(name) or samples.get(f"{name}_bucket")
        assert series, f"{name} is not exported; hbot_* exported: {sorted(exported)}"
        for lab in series:
            assert set(lab) - {"le"} == labels, f"{name} exported with labels {sorted(lab)}, contract says {sorted(labels)}"
    assert rule_metric_names() <= exported
    # A histogram's series are name_bucket/_sum/_count; nothing else outside the contract is exported.
    assert {re.sub(r"_(bucket|sum|count)$", "", n) if n.startswith("hbot_tick_to_order") else n for n in exported} == set(contract())
    by_labels = {tuple(sorted(lab.items())): None for lab in samples["hbot_guard_state"]}
    assert (("instance", "bot1"), ("market", MARKET)) in by_labels


# -- wired into the DLQ and the ClickHouse sink -------------------------------------------------------------

@pytest.fixture
def installed(memory: Any) -> Iterator[tuple[DeskMetrics, InMemoryMetricReader]]:
    m, reader, _ = memory
    previous = use_metrics(m)
    try:
        yield m, reader
    finally:
        use_metrics(previous)


@pytest.mark.broker
def test_when_the_dlq_sends_a_dead_letter_then_it_is_counted_by_source_topic_and_processor(
        installed: Any, kafka_conf: dict[str, Any], unique: str) -> None:
    from streams.dlq import DeadLetterQueue
    from streams.producer import EventProducer
    from streams.serde import SingleObjectSerde

    assert desk_metrics() is installed[0]
    dlq = DeadLetterQueue(EventProducer(kafka_conf, SingleObjectSerde()), f"risk-{unique}")
    for offset in range(3):
        dlq.send("hb.fill.v1", 0, offset, b"k", b"\x00bad", "undecodable", "not avro")
    dlq.flush()
    assert value(points(installed[1]), "hbot.dlq.records", source_topic="hb.fill.v1", processor=f"risk-{unique}") == 3


class FailsFirstInsert:
    """The real ClickHouse client, except that the first insert raises as a dropped connection would."""

    def __init__(self, client: Any, failures: dict[str, int]) -> None:
        self._client = client
        self._failures = failures

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        if self._failures["left"]:
            self._failures["left"] -= 1
            raise ConnectionError("connection reset by peer (test)")
        return self._client.insert(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@contextmanager
def flaky_sink(kafka_conf: dict[str, Any], clickhouse: Any, failures: dict[str, int], market: str, group: str,
               from_end: bool = False) -> Iterator[Any]:
    """40 candles of ``market`` on the broker and a ClickHouse sink running on them in a thread, whose
    inserts fail while ``failures["left"]`` > 0; ``from_end``: the group reads only these 40."""
    from sinks.clickhouse.writer import ClickHouseSink
    from streams.dlq import DeadLetterQueue
    from streams.producer import EventProducer
    from streams.serde import SingleObjectSerde
    from tests.kafka_offsets import commit_at_end
    from tests.samples import sample

    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    topic = "hb.market.candle.v1"
    if from_end:
        commit_at_end(kafka_conf, group, [topic])
    for i in range(40):
        producer.send(topic, sample("market_candle", seed=i, overrides={"event_id": f"{market}-{i}", "market": market}))
    producer.flush()
    sink = ClickHouseSink(kafka_conf, lambda: FailsFirstInsert(clickhouse, failures), serde,
                          DeadLetterQueue(producer, "sink"), batch_size=500, flush_interval_s=0.2,
                          topics=[topic], group=group, max_backoff_s=0.2)
    stop = threading.Event()
    t = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield sink
    finally:
        stop.set()
        t.join(30)


@pytest.mark.broker
@pytest.mark.clickhouse
def test_when_the_sink_writes_and_an_insert_fails_then_rows_and_failures_are_counted_per_table(
        installed: Any, kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    topic, market = "hb.market.candle.v1", f"metrics:{unique}"
    failures = {"left": 1}
    with flaky_sink(kafka_conf, clickhouse, failures, market, group=f"sink-{unique}") as sink:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n = clickhouse.query("SELECT count() FROM hb_market_candle_v1 WHERE market = {m:String}", parameters={"m": market}).result_rows[0][0]
            if n == 40:
                break
            time.sleep(0.2)
    assert n == 40
    pts = points(installed[1])
    assert value(pts, "hbot.sink.insert_failures", table="hb_market_candle_v1") == 1 == sink.stats.insert_retries
    assert value(pts, "hbot.sink.rows", table="hb_market_candle_v1") == sink.stats.rows[topic] >= 40
    assert value(pts, "hbot.dlq.records", source_topic=topic, processor="sink") == 0  # declared at start


@pytest.mark.broker
def test_when_a_faust_worker_dead_letters_then_its_metrics_endpoint_counts_them(
        kafka_conf: dict[str, Any], unique: str, tmp_path: Path) -> None:
    from streams.producer import EventProducer
    from streams.serde import SingleObjectSerde
    from tests.samples import sample

    serde = SingleObjectSerde()
    producer = EventProducer(kafka_conf, serde)
    market = f"mprobe:{unique}"
    key = market.encode()
    port = free_port()
    log_path = tmp_path / "probe.log"
    from tests.kafka_offsets import commit_at_end

    # The probe's Faust group (app id probe-<unique>) starts at the ends: other tests' bad trades are not its own.
    commit_at_end(kafka_conf, f"probe-{unique}", ["hb.market.trade.v1"])
    worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("metrics_probe_app.py")),
                               kafka_conf["bootstrap.servers"], unique, str(free_port()), str(port)],
                              env={**os.environ, "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1"},
                              cwd=tmp_path,  # Faust writes its data folder into the working directory
                              stdout=open(log_path, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115

    def processed(event_id: str) -> None:
        # The new group reads the topic from the start: in a full run that is other tests' 30k+ trades.
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and f"PROCESSED {event_id}" not in log_path.read_text():
            assert worker.poll() is None, log_path.read_text()[-2000:]
            time.sleep(0.2)
        assert f"PROCESSED {event_id}" in log_path.read_text(), log_path.read_text()[-2000:]

    def dlq_count() -> float:
        series = [s for s in text_samples(port) if s[0] == "hbot_dlq_records_total"
                  and s[1] == {"source_topic": "hb.market.trade.v1", "processor": "probe"}]
        assert len(series) == 1, series
        return series[0][2]

    try:
        # The group reads the topic from the start (other tests' bad records included): measure a delta.
        first = sample("market_trade", seed=1, overrides={"event_id": f"{unique}-first", "market": market})
        producer.send("hb.market.trade.v1", first)
        producer.flush()
        processed(first["event_id"])
        before = dlq_count()  # exists before any dead letter of this test: declared at 0 by avro_topic
        producer.send_raw("hb.market.trade.v1", b"not avro at all", key=key)
        producer.send_raw("hb.market.trade.v1", serde.encode("fill", sample("fill", overrides={"market": market})), key=key)
        last = sample("market_trade", seed=2, overrides={"event_id": f"{unique}-last", "market": market})
        producer.send("hb.market.trade.v1", last)  # same key, same partition: processed after the two bad ones
        producer.flush()
        processed(last["event_id"])
        assert dlq_count() - before == 2
    finally:
        worker.terminate()
        worker.wait(30)


def text_samples(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        body = resp.read().decode()
    return [(s.name, dict(s.labels), s.value) for f in parse_text(body) for s in f.samples]


@pytest.mark.broker
@pytest.mark.clickhouse
def test_when_clickhouse_is_down_then_the_sink_reports_its_lag_and_zero_once_the_rows_are_in(
        installed: Any, kafka_conf: dict[str, Any], clickhouse: Any, unique: str) -> None:
    # Arrange: the group starts at the topic's end, then 40 candles arrive while every insert fails
    topic, market, group = "hb.market.candle.v1", f"lag:{unique}", f"sink-lag-{unique}"
    failures = {"left": 10**9}
    sink_running = flaky_sink(kafka_conf, clickhouse, failures, market, group=group, from_end=True)

    def lag() -> Any:
        found = [v for a, v in points(installed[1]).get("hbot.consumer.lag", []) if a == {"group": group, "topic": topic}]
        return found[0] if found else None

    with sink_running:
        # Act 1: ClickHouse down
        deadline = time.monotonic() + 60
        while (lag() or 0) < 40 and time.monotonic() < deadline:
            time.sleep(0.1)
        during = lag()
        # Act 2: ClickHouse back
        failures["left"] = 0
        deadline = time.monotonic() + 60
        while lag() != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        after = lag()
    n = clickhouse.query("SELECT count() FROM hb_market_candle_v1 WHERE market = {m:String}", parameters={"m": market}).result_rows[0][0]

    # Assert: the backlog is visible while nothing lands, and gone once it has landed
    assert during is not None and during >= 40
    assert after == 0 and n == 40
