"""Benchmark: produce-to-consume latency on the embedded Tansu broker at fixed rates.

A confluent-kafka producer (this process) sends ``--n`` messages at a fixed rate, each carrying
its send time; a consumer in a child process (as in the desk: producer and consumer are different
processes, so they share no GIL) records ``receive - send``. Both read ``CLOCK_MONOTONIC``, which
is system-wide on Linux, so there is no clock skew. The payload is a real ``market_trade`` record
in hbot's single-object Avro encoding, not decoded on the way (the hop is measured, not the serde:
see ``bench_serde.py``).

Producer settings are ``EventProducer``'s (``linger.ms`` 5, acks=all). The consumer's
``fetch.wait.max.ms`` matters on Tansu: it answers a fetch that found no data only when that wait
expires (see ``streams/faust_transport.py``), so the wait bounds the latency of an idle partition.
It is measured at 5 ms (what the desk's Faust agents use) and 100 ms (the ClickHouse sink's).
Each run uses a fresh one-partition topic; the first ``--warmup`` messages are not counted.

Figures: p50, p99, p99.9 and max in milliseconds, each the median over ``--runs`` runs. With
``--faust``, a second table has one extra hop: a do-nothing Faust agent (hbot's Faust app factory
and transport, in a subprocess) forwarding the raw bytes to a second topic (fresh topics and a
fresh worker per run; adds a few seconds of worker start per run). With ``--growth K``, K runs
in a row on one topic show how latency grows as the partition fills up (Tansu's in-memory
engine slows down with the number of record batches in a partition).

    /work/venv/bin/python bench/bench_broker_latency.py [--rates 200 2000] [--n 2000] [--runs 3]
        [--fetch-wait-ms 5 100] [--linger-ms 5] [--faust] [--growth 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from _stats import median, percentile, table
from streams.broker import EmbeddedBroker, free_port

STAMP = struct.Struct(">qQI")  # send time (CLOCK_MONOTONIC, ns), run tag, sequence: prepended to the payload


def create_topics(conf: dict[str, Any], names: list[str]) -> None:
    """One-partition topics, created and waited for."""
    admin = AdminClient(conf)  # kept alive until the futures resolve
    futures = admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=-1) for n in names],
                                  operation_timeout=15, request_timeout=15)
    for fut in futures.values():
        fut.result()


def _receive(conf: dict[str, Any], topic: str, tag: int, expected: int, fetch_wait_ms: int, timeout_s: float,
             conn: Any) -> None:
    """Child process: read ``topic`` from its end; latency (ns) of each message of run ``tag`` by sequence.

    Messages are recognised by their run tag, not counted by offset, so earlier runs' messages and
    probes on a shared topic are ignored and a redelivered message (at-least-once) counts once.
    """
    c = Consumer({**conf, "group.id": f"lat-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                  "fetch.wait.max.ms": fetch_wait_ms})
    # Start at the partition's end as the broker reports it (no group join: assign the partition).
    # Reading a shared topic from 0 would make every run re-read all earlier runs' messages.
    # (Tansu reports the last batch's base offset + 1 as the end: a few old messages come back and
    # are ignored by their tag; none of this run's can be skipped, they are not sent yet.)
    _low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, max(high, 0))])
    latencies: dict[int, int] = {}
    c.poll(0.01)
    conn.send("ready")
    deadline = time.monotonic() + timeout_s
    try:
        while len(latencies) < expected and time.monotonic() < deadline:
            m = c.poll(0.05)
            if m is None or m.error() is not None:
                continue
            now = time.monotonic_ns()
            sent, run, seq = STAMP.unpack_from(m.value())
            if run == tag and seq not in latencies:
                latencies[seq] = now - sent
    finally:
        c.close()
        conn.send(latencies)


class Receiver:
    """The latency consumer, in its own process."""

    def __init__(self, conf: dict[str, Any], topic: str, tag: int, expected: int, fetch_wait_ms: int, timeout_s: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.expected = expected
        self.timeout_s = timeout_s
        self._proc = ctx.Process(target=_receive, args=(conf, topic, tag, expected, fetch_wait_ms, timeout_s, child),
                                 daemon=True)
        self._proc.start()
        if not self._conn.poll(60) or self._conn.recv() != "ready":
            self._proc.terminate()
            raise RuntimeError("latency consumer did not start")

    def result(self) -> dict[int, int]:
        """Latency (ns) by sequence number, once the consumer has them all or its time is up."""
        if not self._conn.poll(self.timeout_s + 30):
            self._proc.terminate()
            raise RuntimeError("latency consumer did not answer")
        latencies: dict[int, int] = self._conn.recv()
        self._proc.join(10)
        return latencies


def _send_at_rate(producer: Producer, topic: str, rate: float, total: int, tag: int, payload: bytes) -> None:
    """``total`` messages, the i-th due at start + i/rate (sleeping in between, never spinning)."""
    interval = 1e9 / rate
    start = time.monotonic_ns() + 20_000_000
    for i in range(total):
        left = start + int(i * interval) - time.monotonic_ns()
        if left > 0:
            time.sleep(left / 1e9)
        producer.produce(topic, STAMP.pack(time.monotonic_ns(), tag, i) + payload)
        producer.poll(0)
    producer.flush(30)


def run_once(conf: dict[str, Any], rate: float, n: int, warmup: int, linger_ms: float, fetch_wait_ms: int,
             payload: bytes, via_faust: str | None = None, topic: str | None = None) -> list[float]:
    """Send ``warmup + n`` messages at ``rate``/s; latencies in ms of the last ``n`` (sorted).

    Through ``<via_faust>.in`` -> ``.out`` if given, else on ``topic`` (an existing one), else on a fresh topic.
    """
    if via_faust:
        topic, out_topic = via_faust + ".in", via_faust + ".out"
    elif topic is not None:
        out_topic = topic
    else:
        topic = out_topic = f"bench.latency.{uuid.uuid4().hex[:8]}"
        create_topics(conf, [topic])
    total = warmup + n
    tag = uuid.uuid4().int & (2**63 - 1)
    producer = Producer({**conf, "linger.ms": linger_ms, "acks": "all"})
    producer.list_topics(topic, timeout=10)  # metadata and connection before the clock starts
    receiver = Receiver(conf, out_topic, tag, total, fetch_wait_ms, timeout_s=60 + total / rate)
    _send_at_rate(producer, topic, rate, total, tag, payload)
    latencies = receiver.result()
    if len(latencies) != total:
        missing = sorted(set(range(total)) - set(latencies))
        raise RuntimeError(f"received {len(latencies)} of {total} messages on {out_topic} (first missing: {missing[:5]})")
    return sorted(latencies[i] / 1e6 for i in range(warmup, total))


class FaustForwarder:
    """A do-nothing Faust agent in a subprocess: ``<prefix>.in`` -> ``<prefix>.out``, raw bytes."""

    SCRIPT = Path(__file__).resolve().parent / "_faust_forwarder.py"

    def __init__(self, bootstrap: str, prefix: str, log: Path) -> None:
        self.prefix = prefix
        self.log = log
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen([sys.executable, str(self.SCRIPT), bootstrap, prefix, str(free_port()),
                                       str(log.parent / "faust-data")],
                                      stdout=self._out, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, conf: dict[str, Any], payload: bytes, timeout_s: float = 120) -> None:
        """Send probes until one comes back through the agent (the worker joined and is assigned)."""
        c = Consumer({**conf, "group.id": f"probe-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                      "fetch.wait.max.ms": 5})
        c.assign([TopicPartition(self.prefix + ".out", 0, 0)])
        producer = Producer({**conf, "linger.ms": 0})
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise RuntimeError(f"Faust forwarder not forwarding (see {self.log})")
                producer.produce(self.prefix + ".in", STAMP.pack(time.monotonic_ns(), 0, 0) + payload)
                producer.flush(5)
                m = c.poll(1.0)
                if m is not None and m.error() is None:
                    return
        finally:
            c.close()

    def stop(self) -> None:
        """Stop the worker process."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._out.close()


Results = dict[tuple[int, float], list[list[float]]]  # (fetch wait ms, rate) -> sorted latencies per run


def _print_table(title: str, results: Results, n: int) -> None:
    rows = []
    for (wait, rate), runs in results.items():
        q = {p: [percentile(lat, p) for lat in runs] for p in (50, 99, 99.9)}
        q[100] = [lat[-1] for lat in runs]
        rows.append([f"{wait} ms", f"{rate:,.0f}/s", n, median(q[50]), median(q[99]), median(q[99.9]), median(q[100]),
                     f"{min(q[99]):.1f}..{max(q[99]):.1f}"])
    print(title)
    print(table(["fetch wait", "rate", "msgs/run", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "p99 of runs"], rows))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[200, 2000], help="messages per second")
    ap.add_argument("--n", type=int, default=2000, help="messages counted per run, rate and fetch wait")
    ap.add_argument("--warmup", type=int, default=100, help="messages sent first and not counted")
    ap.add_argument("--runs", type=int, default=3, help="runs (median of each percentile reported)")
    ap.add_argument("--linger-ms", type=float, default=5.0, help="producer linger.ms (EventProducer uses 5)")
    ap.add_argument("--fetch-wait-ms", type=int, nargs="+", default=[5, 100], help="consumer fetch.wait.max.ms values")
    ap.add_argument("--faust", action="store_true", help="also measure one extra hop through a do-nothing Faust agent")
    ap.add_argument("--growth", type=int, default=0, metavar="K",
                    help="also K consecutive runs on one topic (first rate, shortest fetch wait): latency vs partition size")
    ap.add_argument("--log-dir", help="keep broker.log and faust.log here (default: a temporary folder, deleted)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind so the broker child is stopped

    from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us
    from processors.market_data.topics import TRADE_TOPIC
    from streams.serde import SingleObjectSerde

    trade = next(r for t, r in SyntheticMarket(SyntheticMarketConfig(seed=0)).iter_span(span_us(hours=1)) if t == TRADE_TOPIC)
    payload = SingleObjectSerde().encode("market_trade", {**trade, "produce_time": trade["event_time"]})
    cases = [(w, r) for w in args.fetch_wait_ms for r in args.rates]
    hop_wait = min(args.fetch_wait_ms)
    direct: Results = {c: [] for c in cases}
    hop: Results = {(hop_wait, r): [] for r in args.rates}
    growth: list[tuple[int, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="hbot-bench-latency-") as tmp_dir:
        tmp = Path(args.log_dir or tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        broker = EmbeddedBroker(free_port(), log_file=tmp / "broker.log").start()
        try:
            conf = {"bootstrap.servers": broker.bootstrap, "log.connection.close": False}
            for _ in range(args.runs):
                for wait, rate in cases:
                    direct[(wait, rate)].append(run_once(conf, rate, args.n, args.warmup, args.linger_ms, wait, payload))
            if args.faust:
                # A fresh forwarder and fresh topics per run: Tansu slows down as a partition fills
                # up (see --growth), which would otherwise be charged to the later runs' hop.
                for _ in range(args.runs):
                    for rate in args.rates:
                        prefix = f"bench.hop.{uuid.uuid4().hex[:6]}"
                        create_topics(conf, [prefix + ".in", prefix + ".out"])
                        forwarder = FaustForwarder(broker.bootstrap, prefix, tmp / "faust.log")
                        try:
                            forwarder.wait_ready(conf, payload)
                            hop[(hop_wait, rate)].append(run_once(conf, rate, args.n, args.warmup, args.linger_ms, hop_wait,
                                                                  payload, via_faust=prefix))
                        finally:
                            forwarder.stop()
            if args.growth:
                topic = f"bench.growth.{uuid.uuid4().hex[:8]}"
                create_topics(conf, [topic])
                for i in range(args.growth):
                    growth.append((i * (args.warmup + args.n), run_once(conf, args.rates[0], args.n, args.warmup,
                                                                        args.linger_ms, hop_wait, payload, topic=topic)))
        finally:
            broker.stop()

    print(f"produce -> consume latency, embedded Tansu, payload {len(payload) + STAMP.size} bytes, linger.ms {args.linger_ms:g}, "
          f"acks=all, median over {args.runs} runs (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    _print_table("direct: producer -> topic -> consumer, fresh topic per run (fetch wait = the consumer's fetch.wait.max.ms)",
                 direct, args.n)
    if args.faust:
        _print_table("one Faust hop: producer -> topic -> Faust agent (forward) -> topic -> consumer, fresh topics and worker per run",
                     hop, args.n)
    if args.growth:
        print(f"growth: consecutive runs on ONE topic at {args.rates[0]:,.0f}/s, fetch wait {hop_wait} ms (one run each)")
        print(table(["msgs already in partition", "p50 ms", "p99 ms", "max ms"],
                    [[before, percentile(lat, 50), percentile(lat, 99), lat[-1]] for before, lat in growth]))


if __name__ == "__main__":
    main()
