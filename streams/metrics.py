"""Desk metrics: the ``hbot_*`` series the Prometheus alert rules and dashboards read.

:class:`DeskMetrics` wraps an OpenTelemetry ``MeterProvider`` (passed in) with one typed method per
metric of the contract in ``deploy/monitoring/README.md``. OpenTelemetry instrument names and units
are chosen so that the Prometheus exporter (and an OpenTelemetry Collector's ``prometheus``
exporter) produce exactly the contract's names: ``hbot.dlq.records`` (counter) becomes
``hbot_dlq_records_total``, ``hbot.feed.age`` (gauge, unit ``s``) becomes ``hbot_feed_age_seconds``.
``tests/streams/test_metrics.py`` scrapes ``/metrics`` and checks every ``hbot_*`` name the rules use.

Which part records what (``m = desk_metrics()``: the process's instance, disabled until
:func:`setup_metrics` ran):

- ``m.event_in(topic)`` / ``m.event_out(topic)``: every agent, per record consumed / produced
  -> ``hbot_events_total{topic, direction}``
- ``m.dlq(source_topic, processor)``: ``DeadLetterQueue.send``, ``DlqTopic``, the desk roles and the sequencer
  -> ``hbot_dlq_records_total{source_topic, processor}``
- ``m.tick_to_order(seconds)``: the risk role, when it publishes an order caused by a quote or a
  market event; seconds = wall clock at publishing minus the order's event time (the exchange time
  of the newest market event the decision used) -> ``hbot_tick_to_order_seconds`` (histogram)
- ``m.guard_state(instance, market, "RUNNING" | "SOFT_PAUSE" | "HARD_STOP")``: risk, when it builds an
  instance's processor and on every guard transition -> ``hbot_guard_state{instance, market}`` (0 / 1 / 2)
- ``m.position(instance, market, base)`` and ``m.pnl(instance, market, quote)``: strategy, per
  decision (``hb.strategy_state.v1``) -> ``hbot_position_base``, ``hbot_pnl_quote`` ``{instance, market}``
- ``m.fill(instance, market)``: execution, per fill received -> ``hbot_fills_total{instance, market}``
- ``m.kill_switch_activation(instance)``: kill switch, once per cancel-all run
  -> ``hbot_kill_switch_activations_total{instance}``
- ``m.sink_rows(table, n)`` / ``m.sink_insert_failure(table)``: the ClickHouse sink
  -> ``hbot_sink_rows_total{table}``, ``hbot_sink_insert_failures_total{table}``
- ``m.consumer_lag(group, topic, lag)``: every Faust worker, from its consumer's committed and
  high-water offsets; the ClickHouse sink after each commit and each failed insert
  -> ``hbot_consumer_lag{group, topic}``
- ``m.feed_received(market)``: the market_data role's sequencer, per market event it reads of a
  traded market -> ``hbot_feed_age_seconds{market}`` = wall time since the newest one arrived.
  ``m.feed_event(market, exchange_time_us)`` measures from the event's exchange time instead; the
  desk does not use it, because the synthetic and replayed sources stamp simulated times
- ``m.reconciliation_drift(instance, market, fraction)``: reconciliation, per comparison
  -> ``hbot_reconciliation_drift_pct{instance, market}`` (0.01 = 1 %), for live instances
- ``m.fill_traded(instance, market, side, liquidity, notional, fee)``: per fill, with ``m.fill``
  -> ``hbot_fill_notional_quote_total``, ``hbot_fill_fees_quote_total``,
  ``hbot_fill_rebates_quote_total`` ``{instance, market, side, liquidity}``
- ``m.order(instance, market, action)``: per order command published
  -> ``hbot_orders_total{instance, market, action}``
- ``m.decision(instance, market)``: per strategy decision -> ``hbot_decisions_total{instance, market}``
- ``m.equity(instance, market, quote)``: per strategy decision -> ``hbot_equity_quote{instance, market}``

Where the desk roles call them: ``streams/role_metrics.py`` (the Faust glue of the desk roles, the
sequencer and the kill switch's dead-man timer), ``streams/dlq.py``, ``streams/app.py`` and the
ClickHouse sink. ``tests/streams/test_role_metrics.py`` checks that every metric an alert rule reads
has an emitter wired in a role.

At start, each part declares the label sets it knows so counters exist at 0 (``increase()`` is then
exact from the first event): ``declare_instance``, ``declare_kill_switch``, ``declare_fills``,
``declare_orders``, ``declare_decisions``, ``declare_topics``, ``declare_dlq``, ``declare_tables``.
``instance`` is the trading instance (``bot1``), never a pod name. Declare after
:func:`setup_metrics` (``Runtime.setup_observability`` runs it before ``hbot worker`` builds
its agents): a declaration made on the disabled instance is not carried over.

Gauges are observable: the methods store the last value and the exporter reads it at collection.
The feed age is computed at collection (wall clock minus the newest arrival), so a feed that
stops makes the age grow instead of freezing at its last value. Metrics are I/O-side plumbing:
cores never call them, agents do.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Iterable, Literal, Sequence

from opentelemetry.metrics import CallbackOptions, MeterProvider, NoOpMeterProvider, Observation

log = logging.getLogger(__name__)

METER_NAME = "hbot"
GUARD_STATES: dict[str, int] = {"RUNNING": 0, "SOFT_PAUSE": 1, "HARD_STOP": 2}
ORDER_ACTIONS: tuple[str, ...] = ("PLACE", "CANCEL", "CANCEL_ALL")
ORDER_SIDES: tuple[str, ...] = ("BUY", "SELL")
LIQUIDITY: tuple[str, ...] = ("MAKER", "TAKER")
# Tick-to-order spans a few ms (paper, same node) to seconds (live, remote exchange).
TICK_TO_ORDER_BUCKETS_S: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Exporter = Literal["none", "otlp", "prometheus"]

_Key = tuple[tuple[str, str], ...]


class MetricsConfigError(Exception):
    """Metrics cannot start as configured; the message names the variable and the fix."""


class _LastValues:
    """Last value per label set, read by an observable gauge's callback (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[_Key, float] = {}

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[tuple(sorted(labels.items()))] = float(value)

    def raise_to(self, value: float, **labels: str) -> None:
        """Keep the larger of the stored and the new value (newest event time)."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            if value > self._values.get(key, float("-inf")):
                self._values[key] = float(value)

    def items(self) -> list[tuple[_Key, float]]:
        with self._lock:
            return list(self._values.items())

    def observe(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(v, dict(k)) for k, v in self.items()]


class DeskMetrics:
    """The desk's metrics, recorded through the given meter provider (see the module docstring)."""

    def __init__(self, provider: MeterProvider, clock: Callable[[], float] = time.time) -> None:
        # clock: wall-clock seconds, read for the feed age (arrival and collection); injected for tests.
        self._clock = clock
        meter = provider.get_meter(METER_NAME)
        self._events = meter.create_counter("hbot.events", description="Records consumed (in) and produced (out) per topic.")
        self._dlq = meter.create_counter("hbot.dlq.records", description="Records sent to hb.dlq.v1 by source topic and processor.")
        self._kill = meter.create_counter("hbot.kill_switch.activations", description="Kill-switch activations (cancel-all runs).")
        self._fills = meter.create_counter("hbot.fills", description="Fills received.")
        self._rows = meter.create_counter("hbot.sink.rows", description="Rows written to ClickHouse.")
        self._insert_failures = meter.create_counter("hbot.sink.insert_failures",
                                                     description="Failed ClickHouse insert attempts (each failed retry counts).")
        self._fill_notional = meter.create_counter("hbot.fill.notional_quote",
                                                   description="Traded notional of fills (price x size), quote currency.")
        self._fill_fees = meter.create_counter("hbot.fill.fees_quote", description="Fees paid on fills, quote currency.")
        self._fill_rebates = meter.create_counter("hbot.fill.rebates_quote",
                                                  description="Rebates received on fills (negative fees), quote currency.")
        self._orders = meter.create_counter("hbot.orders", description="Order commands published (PLACE, CANCEL, CANCEL_ALL).")
        self._decisions = meter.create_counter("hbot.decisions", description="Strategy decisions published.")
        self._tick_to_order = meter.create_histogram("hbot.tick_to_order", unit="s",
                                                     description="Market-data event's exchange time to order sent.",
                                                     explicit_bucket_boundaries_advisory=TICK_TO_ORDER_BUCKETS_S)
        self._guard = _LastValues()
        self._position = _LastValues()
        self._pnl = _LastValues()
        self._equity = _LastValues()
        self._lag = _LastValues()
        self._drift = _LastValues()
        self._newest_feed_s = _LastValues()
        meter.create_observable_gauge("hbot.guard.state", [self._guard.observe],
                                      description="Guard state: 0 RUNNING, 1 SOFT_PAUSE, 2 HARD_STOP.")
        meter.create_observable_gauge("hbot.position.base", [self._position.observe], description="Position in base units (signed).")
        meter.create_observable_gauge("hbot.pnl.quote", [self._pnl.observe], description="PnL of the day in quote currency.")
        meter.create_observable_gauge("hbot.equity.quote", [self._equity.observe],
                                      description="Equity in quote currency (cash + position marked to mid).")
        meter.create_observable_gauge("hbot.consumer.lag", [self._lag.observe],
                                      description="Records between the group's committed offset and the end of the topic.")
        meter.create_observable_gauge("hbot.reconciliation.drift_pct", [self._drift.observe],
                                      description="(exchange position - position from fills) / position, a signed fraction.")
        meter.create_observable_gauge("hbot.feed.age", [self._observe_feed_age], unit="s",
                                      description="Wall-clock seconds since the newest market-data event arrived.")

    @classmethod
    def disabled(cls) -> "DeskMetrics":
        """Metrics off: every call is accepted and nothing is exported."""
        return cls(NoOpMeterProvider())

    # -- pipeline ------------------------------------------------------------------
    def event_in(self, topic: str, n: int = 1) -> None:
        """``n`` records consumed from ``topic``."""
        self._events.add(n, {"topic": topic, "direction": "in"})

    def event_out(self, topic: str, n: int = 1) -> None:
        """``n`` records produced to ``topic``."""
        self._events.add(n, {"topic": topic, "direction": "out"})

    def dlq(self, source_topic: str, processor: str) -> None:
        """One record from ``source_topic`` rejected by ``processor`` (the role) and sent to the DLQ."""
        self._dlq.add(1, {"source_topic": source_topic, "processor": processor})

    def consumer_lag(self, group: str, topic: str, lag: int) -> None:
        """Records between ``group``'s committed offsets and the end of ``topic`` (all partitions)."""
        self._lag.set(lag, group=group, topic=topic)

    def feed_event(self, market: str, exchange_time_us: int) -> None:
        """A market-data event with this exchange time (µs) arrived; the age is computed at collection."""
        # Out-of-order events (several partitions, replays) must not make the feed look older.
        self._newest_feed_s.raise_to(exchange_time_us / 1e6, market=market)

    def feed_received(self, market: str) -> None:
        """A market-data event of ``market`` arrived now (wall clock); the age is computed at collection."""
        self._newest_feed_s.raise_to(self._clock(), market=market)

    def _observe_feed_age(self, options: CallbackOptions) -> list[Observation]:
        now = self._clock()
        return [Observation(now - t, dict(k)) for k, t in self._newest_feed_s.items()]

    def tick_to_order(self, seconds: float) -> None:
        """Exchange time of the market-data event a decision used, to the order being sent."""
        self._tick_to_order.record(seconds)

    # -- trading instance ----------------------------------------------------------
    def guard_state(self, instance: str, market: str, state: str | int) -> None:
        """Guard state now: ``RUNNING``/``SOFT_PAUSE``/``HARD_STOP`` (or 0/1/2)."""
        code = state if isinstance(state, int) else GUARD_STATES[str(state).upper()]
        if code not in GUARD_STATES.values():
            raise ValueError(f"guard state {state!r} is not one of {', '.join(GUARD_STATES)}")
        self._guard.set(code, instance=instance, market=market)

    def position(self, instance: str, market: str, base: float) -> None:
        """Position in base units (signed)."""
        self._position.set(base, instance=instance, market=market)

    def pnl(self, instance: str, market: str, quote: float) -> None:
        """PnL of the day in quote currency."""
        self._pnl.set(quote, instance=instance, market=market)

    def fill(self, instance: str, market: str, n: int = 1) -> None:
        """``n`` fills received."""
        self._fills.add(n, {"instance": instance, "market": market})

    def fill_traded(self, instance: str, market: str, side: str, liquidity: str, notional_quote: float, fee_quote: float) -> None:
        """One fill's notional and fee (a negative fee is a rebate), by side and liquidity."""
        labels = {"instance": instance, "market": market, "side": side, "liquidity": liquidity}
        self._fill_notional.add(abs(notional_quote), labels)
        if fee_quote >= 0:
            self._fill_fees.add(fee_quote, labels)
        else:
            self._fill_rebates.add(-fee_quote, labels)

    def order(self, instance: str, market: str, action: str) -> None:
        """One order command (``PLACE``, ``CANCEL``, ``CANCEL_ALL``) published."""
        self._orders.add(1, {"instance": instance, "market": market, "action": action})

    def decision(self, instance: str, market: str) -> None:
        """One strategy decision published."""
        self._decisions.add(1, {"instance": instance, "market": market})

    def equity(self, instance: str, market: str, quote: float) -> None:
        """Equity in quote currency."""
        self._equity.set(quote, instance=instance, market=market)

    def kill_switch_activation(self, instance: str) -> None:
        """One kill-switch activation (a cancel-all run) for ``instance``."""
        self._kill.add(1, {"instance": instance})

    def reconciliation_drift(self, instance: str, market: str, fraction: float) -> None:
        """(exchange position - position from fills) / position, signed fraction (0.01 = 1%)."""
        self._drift.set(fraction, instance=instance, market=market)

    # -- ClickHouse sink -------------------------------------------------------------
    def sink_rows(self, table: str, n: int) -> None:
        """``n`` rows written to ``table``."""
        self._rows.add(n, {"table": table})

    def sink_insert_failure(self, table: str) -> None:
        """One failed insert attempt into ``table``."""
        self._insert_failures.add(1, {"table": table})

    # -- counters at 0 for the label sets known at start ---------------------------
    def declare_instance(self, instance: str, market: str) -> None:
        """Create the instance's counters (kill switch, fills) at 0."""
        self._kill.add(0, {"instance": instance})
        self._fills.add(0, {"instance": instance, "market": market})

    def declare_kill_switch(self, instance: str) -> None:
        """Create the instance's kill-switch counter at 0."""
        self._kill.add(0, {"instance": instance})

    def declare_fills(self, instance: str, market: str) -> None:
        """Create the instance's fill counters at 0 (count; notional, fees, rebates per side and liquidity)."""
        self._fills.add(0, {"instance": instance, "market": market})
        for side in ORDER_SIDES:
            for liquidity in LIQUIDITY:
                labels = {"instance": instance, "market": market, "side": side, "liquidity": liquidity}
                self._fill_notional.add(0, labels)
                self._fill_fees.add(0, labels)
                self._fill_rebates.add(0, labels)

    def declare_orders(self, instance: str, market: str) -> None:
        """Create the instance's order counters at 0, one per action."""
        for action in ORDER_ACTIONS:
            self._orders.add(0, {"instance": instance, "market": market, "action": action})

    def declare_decisions(self, instance: str, market: str) -> None:
        """Create the instance's decision counter at 0."""
        self._decisions.add(0, {"instance": instance, "market": market})

    def declare_topics(self, topics: Iterable[str], direction: Literal["in", "out"]) -> None:
        """Create ``hbot_events_total`` at 0 for a processor's input or output topics."""
        for t in topics:
            self._events.add(0, {"topic": t, "direction": direction})

    def declare_dlq(self, source_topics: Iterable[str], processor: str) -> None:
        """Create ``hbot_dlq_records_total`` at 0 for the topics ``processor`` consumes."""
        for t in source_topics:
            self._dlq.add(0, {"source_topic": t, "processor": processor})

    def declare_tables(self, tables: Iterable[str]) -> None:
        """Create the sink's row and failure counters at 0 for these tables."""
        for t in tables:
            self._rows.add(0, {"table": t})
            self._insert_failures.add(0, {"table": t})


_current = DeskMetrics.disabled()
_provider: MeterProvider | None = None


def desk_metrics() -> DeskMetrics:
    """The process's desk metrics (a disabled instance until :func:`setup_metrics` ran)."""
    return _current


def use_metrics(metrics: DeskMetrics) -> DeskMetrics:
    """Install ``metrics`` as the process's desk metrics; returns the previous one (tests restore it)."""
    global _current  # process-wide like OpenTelemetry's own global provider; set at start-up
    previous, _current = _current, metrics
    return previous


def choose_exporters(configured: Exporter | None, environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Which exporters to run: the hbot setting when set, else ``OTEL_METRICS_EXPORTER`` (what the
    Helm chart sets, comma-separated), else OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else none."""
    env = os.environ if environ is None else environ
    listed = [e.strip() for e in env.get("OTEL_METRICS_EXPORTER", "").split(",") if e.strip()]
    if configured is not None:
        chosen = () if configured == "none" else (configured,)
    elif listed:
        chosen = tuple(e for e in listed if e != "none")
    elif env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        chosen = ("otlp",)
    else:
        chosen = ()
    unknown = [e for e in chosen if e not in ("otlp", "prometheus")]
    if unknown:
        raise MetricsConfigError(f"OTEL_METRICS_EXPORTER={','.join(listed)}: unknown exporter {', '.join(unknown)}; use otlp, prometheus or none")
    return chosen


class PrometheusEndpoint:
    """The OpenTelemetry Prometheus reader plus its ``/metrics`` HTTP server on its own registry."""

    def __init__(self, host: str, port: int) -> None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server

        self.registry = CollectorRegistry()
        # No scope labels: the series carry exactly the contract's labels.
        self.reader = PrometheusMetricReader(scope_info_enabled=False, registry=self.registry)
        try:
            self._server, self._thread = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            self.reader.shutdown()
            raise MetricsConfigError(f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); "
                              "set HBOT_METRICS_PORT (or OTEL_EXPORTER_PROMETHEUS_PORT) to a free port") from None

    @property
    def port(self) -> int:
        """The port actually bound (useful when 0 asked for a free one)."""
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving (the meter provider's shutdown detaches the reader)."""
        self._server.shutdown()
        self._server.server_close()


def build_provider(service: str, exporters: Sequence[str], prometheus_host: str = "localhost",
                   prometheus_port: int = 9464) -> tuple[MeterProvider, PrometheusEndpoint | None]:
    """A meter provider with the chosen exporters (and the Prometheus endpoint, when one was asked)."""
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    readers: list[MetricReader] = []
    endpoint = None
    if "otlp" in exporters:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if "prometheus" in exporters:
        endpoint = PrometheusEndpoint(prometheus_host, prometheus_port)
        readers.append(endpoint.reader)
    provider = SdkMeterProvider(metric_readers=readers, resource=Resource.create({"service.name": service}))
    return provider, endpoint


def setup_metrics(service: str, exporter: Exporter | None = None, port: int = 9464) -> DeskMetrics:
    """Build the process's meter provider once and install its :class:`DeskMetrics`.

    ``OTEL_EXPORTER_PROMETHEUS_HOST`` / ``OTEL_EXPORTER_PROMETHEUS_PORT`` (set by the Helm chart)
    override the host (default ``localhost``) and ``port``.
    """
    global _provider  # once per process, like setup_tracing
    if _provider is not None:
        return _current
    exporters = choose_exporters(exporter)
    if not exporters:
        return _current
    host = os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST") or "localhost"
    env_port = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "").strip()
    if env_port:
        if not env_port.isdigit():
            raise MetricsConfigError(f"OTEL_EXPORTER_PROMETHEUS_PORT={env_port!r} is not a port number; set a whole number")
        port = int(env_port)
    _provider, endpoint = build_provider(service, exporters, host, port)
    if endpoint is not None:
        log.info("metrics on http://%s:%d/metrics", host, endpoint.port)
    use_metrics(DeskMetrics(_provider))
    return _current
