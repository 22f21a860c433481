"""Benchmark: the synthetic market published to the embedded broker, events/s, vs the generator alone.

Setup: an embedded Tansu broker (in this process's temp folder) with the market topics. Each run
builds a fresh ``SyntheticMarket`` (same seed) and times, interleaved so machine noise hits all alike:

* ``generate``: ``SyntheticMarket.iter_span`` consumed record by record, nothing published. This is
  the baseline the ratio is taken against (the in-process generator rate, measured in this run);
* ``generate + encode``: the same, plus the Avro single-object encoding of every record with the
  topic's schema (``SingleObjectSerde.encode``), still without Kafka;
* ``publish``: ``processors.market_data.agent.publish_market`` at full speed (``speed=0``, the path of
  the market_data role's synthetic publisher and of ``hbot demo``), through hbot's
  ``EventProducer`` (encode, key by market, produce-time stamp, span/trace context, librdkafka
  produce), including the final flush: every record acknowledged by the broker;
* ``publish, no-op span per send``: the same with the per-send span forced on although no tracer
  is installed (the code before the producer skipped it), to show in the same run what it cost.

Every figure counts all market events (books, trades, 1m candles, funding) and is the median of
``--runs`` runs, by wall clock and per CPU-second of this process (librdkafka's threads included).
After the runs the broker's exact message counts are checked against what was published. With
``--tracing file`` the OpenTelemetry SDK with the JSON-lines exporter is installed first, as
``hbot worker`` does by default (``HBOT_TRACE_EXPORTER=file``, sample ratio 1.0).
Target (issue 3): publish >= 20,000 events/s. Speed is reported, not asserted.

    /work/venv/bin/python bench/bench_synthetic_publish.py [--hours 4] [--runs 5] [--tracing none|file]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from _harness import Timer, add_tracing_option, install_tracing
from _stats import median, spread, table
from processors.market_data.agent import publish_market
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us
from processors.market_data.topics import MARKET_TOPICS, SCHEMA_OF_TOPIC
from streams.admin import ensure_topics, topic_counts
from streams.broker import EmbeddedBroker, free_port
import streams.producer as producer_mod
from streams.catalog import CATALOG
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde

TARGET = 20_000
NOOP_SPAN = "publish, no-op span per send"


class Sample(NamedTuple):
    """One timed pass: wall seconds, CPU seconds of this process, events."""

    wall: float
    cpu: float
    events: int


def run_generate(cfg: SyntheticMarketConfig, span: int) -> Sample:
    """The generator alone, record by record (the baseline)."""
    market = SyntheticMarket(cfg)
    with Timer() as t:
        n = sum(1 for _ in market.iter_span(span))
    return Sample(t.wall, t.cpu, n)


def run_encode(cfg: SyntheticMarketConfig, span: int, serde: SingleObjectSerde) -> Sample:
    """The generator plus Avro encoding of every record (what publishing costs before Kafka)."""
    market = SyntheticMarket(cfg)
    schema = dict(SCHEMA_OF_TOPIC)
    n = 0
    with Timer() as t:
        for name, rec in market.iter_span(span):
            serde.encode(schema[name], {**rec, "produce_time": rec["event_time"]}, name)
            n += 1
    return Sample(t.wall, t.cpu, n)


def run_publish(cfg: SyntheticMarketConfig, span: int, conf: dict[str, object], serde: SingleObjectSerde,
                force_span: bool = False) -> Sample:
    """The generator published through EventProducer at full speed, until every record is acknowledged."""
    market = SyntheticMarket(cfg)
    producer = EventProducer(conf, serde)
    recorded = producer_mod.spans_recorded
    if force_span:
        producer_mod.spans_recorded = lambda: True  # type: ignore[assignment] - the span path, with whatever tracer is set
    try:
        with Timer() as t:
            n = publish_market(producer, market.iter_span(span), speed=0)
    finally:
        producer_mod.spans_recorded = recorded  # type: ignore[assignment]
    return Sample(t.wall, t.cpu, n)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=4.0, help="simulated hours per run (about 13k events per hour)")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median reported), at least 3")
    ap.add_argument("--seed", type=int, default=0, help="synthetic market seed")
    add_tracing_option(ap, "hbot worker does")
    args = ap.parse_args(argv)
    runs = max(3, args.runs)
    logging.basicConfig(level=logging.WARNING)
    cfg = SyntheticMarketConfig(seed=args.seed)
    span = span_us(hours=args.hours)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-synthetic-publish-") as tmp:
        install_tracing(args.tracing, "bench-synthetic-publish", Path(tmp))
        broker = EmbeddedBroker(free_port(), log_file=Path(tmp) / "broker.log").start()
        try:
            conf: dict[str, object] = {"bootstrap.servers": broker.bootstrap, "log.connection.close": False}
            ensure_topics(conf, [CATALOG[t] for t in MARKET_TOPICS])
            serde = SingleObjectSerde()
            run_generate(cfg, span_us(minutes=10))  # warm-up: imports, numpy, schema parsing, broker connection
            run_publish(cfg, span_us(minutes=10), conf, serde)
            before = sum(c.messages for c in topic_counts(conf, MARKET_TOPICS))
            results: dict[str, list[Sample]] = {"generate": [], "generate + encode": [], "publish": []}
            if args.tracing == "none":
                results[NOOP_SPAN] = []
            for _ in range(runs):
                results["generate"].append(run_generate(cfg, span))
                results["generate + encode"].append(run_encode(cfg, span, serde))
                results["publish"].append(run_publish(cfg, span, conf, serde))
                if NOOP_SPAN in results:
                    results[NOOP_SPAN].append(run_publish(cfg, span, conf, serde, force_span=True))
            published = sum(s.events for k, v in results.items() if k.startswith("publish") for s in v)
            stored = sum(c.messages for c in topic_counts(conf, MARKET_TOPICS)) - before
        finally:
            broker.stop()
    events = results["generate"][0].events
    wall = {k: median([s.events / s.wall for s in v]) for k, v in results.items()}
    cpu = {k: median([s.events / s.cpu for s in v]) for k, v in results.items()}
    rows = [(k, wall[k], wall[k] / wall["generate"], cpu[k], cpu[k] / cpu["generate"], 1e6 / wall[k],
             spread([s.events / s.wall for s in v])) for k, v in results.items()]
    print(f"synthetic market -> embedded Tansu: {args.hours:g} simulated h per run ({events:,} events: books, trades, "
          f"candles, funding), seed {args.seed}, tracing {args.tracing}, median of {runs} runs, events/s "
          f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs)")
    print(table(["path", "wall", "x generate", "per CPU-s", "x generate", "us/event", "wall runs"], rows))
    check = "ok" if stored == published else f"MISMATCH ({stored:,} in the topics)"
    print(f"broker holds {stored:,} of the {published:,} records published in the timed runs: {check}")
    verdict = "meets" if wall["publish"] >= TARGET else "BELOW"
    print(f"target publish >= {TARGET:,} events/s (wall clock): {verdict} ({wall['publish']:,.0f}/s, "
          f"{wall['publish'] / wall['generate']:.2f}x the generator alone)")


if __name__ == "__main__":
    main()
