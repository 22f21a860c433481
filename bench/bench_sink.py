"""Benchmark: topic -> ClickHouse through hbot's sink vs a direct bulk insert of the same rows.

Setup (all real engines, all in this process's temp folder): an embedded Tansu broker, the catalog
topics, chDB on disk (one chDB folder per process) with the migrated tables. ``--n`` market trade
records (schema ``market_trade``, topic ``hb.market.trade.v1``) from ``--markets`` synthetic
markets are produced ONCE with hbot's ``EventProducer`` (single-object Avro), then each run:

* ``sink``: ``TRUNCATE`` the trade table, start ``ClickHouseSink`` (the class the worker runs, with
  the worker's defaults: every sink topic subscribed, batch 20,000 rows, flush 0.5 s) with a new
  consumer group, and time until the group's committed offsets reach the end of every partition
  (rows inserted AND offsets committed). Two rates: from ``run()`` start (includes the consumer group
  join) and from the partition assignment (``sink.ready``, steady-state throughput);
* ``direct``: ``TRUNCATE`` an identical table (``CREATE TABLE ... AS hb_market_trade_v1``) and insert
  the same rows (decoded and converted with ``row_converter``, with ``_topic/_partition/_offset``)
  with ``client.insert`` in chunks of the same batch size. This is the ClickHouse floor: no Kafka,
  no decode, no conversion; the target is measured against it;
* ``direct, columns``: the same rows handed to ``client.insert(..., column_oriented=True)`` as
  columns with timestamps as DateTime64 ticks (``ddl.column_builder``), the way the sink now
  inserts; the driver's cheapest path for Python values, shown as a stricter reference;
* ``decode to columns``: the sink's CPU work per record without broker or ClickHouse (its batch
  decoder, ``ColumnDecoder``, on the same values in sink-sized batches), to show where the time goes.

Figures are rows/s, median of ``--runs`` runs, by wall clock and per CPU-second (this process:
sink thread, librdkafka and chDB threads; and with the broker process added); ratio sink / direct
(target >= 0.5x) and the absolute target (>= 50,000 rows/s). ``--tracing file`` installs the
OpenTelemetry SDK with the JSON-lines exporter first, as ``hbot worker`` does by default. No
assertions: speed is reported, not tested.

    /work/venv/bin/python bench/bench_sink.py [--n 200000] [--runs 3] [--markets 4] [--tracing none|file]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from confluent_kafka import Consumer, TopicPartition

from _harness import add_tracing_option, install_tracing
from _stats import median, spread, table
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us
from processors.market_data.topics import TRADE_TOPIC
from sinks.clickhouse.client import connect
from sinks.clickhouse.columnar import ColumnDecoder
from sinks.clickhouse.decoding import SinkDecoder
from sinks.clickhouse.ddl import column_builder, row_converter
from sinks.clickhouse.migrations import migrate
from sinks.clickhouse.writer import ClickHouseSink
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from streams.catalog import CATALOG
from streams.dlq import DeadLetterQueue
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde

SCHEMA = "market_trade"
TABLE = CATALOG[TRADE_TOPIC].table
DIRECT_TABLE = "bench_direct_trade"
BATCH = 20_000          # HbotSettings.sink_batch_size default
FLUSH_S = 0.5           # HbotSettings.sink_flush_interval_s default
TARGET_RATIO, TARGET_RATE = 0.5, 50_000


def trade_records(n: int, markets: int) -> list[dict[str, Any]]:
    """``n`` trades spread over ``markets`` synthetic markets (own seed and name each)."""
    per = -(-n // markets)
    out: list[dict[str, Any]] = []
    for i in range(markets):
        market = SyntheticMarket(SyntheticMarketConfig(seed=i, market=f"synthetic{i}:BTC/USDT:USDT"))
        got = 0
        for topic, rec in market.iter_span(span_us(hours=24 * 365)):
            if topic == TRADE_TOPIC:
                out.append({**rec, "produce_time": rec["event_time"] + 1_000})
                got += 1
                if got == per or len(out) == n:
                    break
    return out[:n]


def end_offsets(blobs: list[tuple[int, int, bytes]], partitions: int) -> list[TopicPartition]:
    """Last offset + 1 of every partition, from the records read back (what "all committed" means).

    Not the broker's high watermark: the embedded Tansu answers ListOffsets(latest) with the base
    offset of the partition's last batch + 1, short of the true end by that batch's size - 1.
    """
    last = {p: -1 for p in range(partitions)}
    for p, o, _v in blobs:
        last[p] = max(last[p], o)
    return [TopicPartition(TRADE_TOPIC, p, o + 1) for p, o in sorted(last.items())]


def broker_cpu_s(pid: int) -> float:
    """User+system CPU seconds the broker process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SinkRun(NamedTuple):
    """Seconds of one sink run: wall from start and from assignment, CPU of this process and of the broker."""

    wall_total: float
    wall_steady: float
    cpu_process: float
    cpu_broker: float


def run_sink(conf: dict[str, Any], client: Any, producer: EventProducer, ends: list[TopicPartition], n: int,
             broker_pid: int) -> SinkRun:
    """One sink run from an empty table, timed until every partition's offsets are committed."""
    client.command(f"TRUNCATE TABLE {TABLE}")
    group = f"bench-sink-{uuid.uuid4().hex[:8]}"
    serde = SingleObjectSerde()
    sink = ClickHouseSink(conf, lambda: client, serde, DeadLetterQueue(producer, "sink"),
                          batch_size=BATCH, flush_interval_s=FLUSH_S, group=group)
    watcher = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    want = {tp.partition: tp.offset for tp in ends if tp.offset > 0}  # empty partitions get no commit
    c0, b0 = time.process_time(), broker_cpu_s(broker_pid)
    t0 = time.perf_counter()  # the benchmark, not a core, reads the clock
    thread.start()
    try:
        if not sink.ready.wait(60):
            raise RuntimeError("sink got no partition assignment within 60 s")
        t_ready = time.perf_counter()
        deadline = t0 + 600
        # Rows first (cheap, in memory), then the committed offsets from the broker.
        while sum(sink.stats.rows.values()) < n and time.perf_counter() < deadline:
            time.sleep(0.005)
        while time.perf_counter() < deadline:
            got = watcher.committed([TopicPartition(TRADE_TOPIC, p) for p in want], timeout=10)
            if all(tp.offset >= want[tp.partition] for tp in got):
                break
            time.sleep(0.005)
        else:
            raise RuntimeError(f"sink did not commit everything in time (rows {dict(sink.stats.rows)})")
        t_done = time.perf_counter()
        c_done, b_done = time.process_time(), broker_cpu_s(broker_pid)
    finally:
        stop.set()
        thread.join(60)
        watcher.close()
    rows = int(client.query(f"SELECT count() FROM {TABLE}").result_rows[0][0])
    if rows != n or sink.stats.dead_letters:
        raise RuntimeError(f"table holds {rows} rows (expected {n}), dead letters {sink.stats.dead_letters}")
    return SinkRun(t_done - t0, t_done - t_ready, c_done - c0, b_done - b0)


def sink_rows(serde: SingleObjectSerde, blobs: list[tuple[int, int, bytes]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows exactly as the sink builds them: decode, convert, append topic/partition/offset."""
    names, convert = row_converter(SCHEMA)
    rows = [(*convert(serde.decode(v, SCHEMA, TRADE_TOPIC)), TRADE_TOPIC, p, o) for p, o, v in blobs]
    return [*names, "_topic", "_partition", "_offset"], rows


class _Message:
    """The part of a consumed message the sink's decoder reads."""

    __slots__ = ("_o", "_p", "_v")

    def __init__(self, p: int, o: int, v: bytes) -> None:
        self._p, self._o, self._v = p, o, v

    def value(self) -> bytes:
        return self._v

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o


def decode_columns(serde: SingleObjectSerde, blobs: list[tuple[int, int, bytes]]) -> int:
    """The sink's decode of ``blobs`` to columns (``ColumnDecoder``), in sink-sized batches; returns rows."""
    decoder = ColumnDecoder(SCHEMA, SinkDecoder(serde, [SCHEMA]))
    msgs = [_Message(p, o, v) for p, o, v in blobs]

    def dead(_m: Any, exc: Exception) -> None:
        raise exc

    return sum(len(decoder.decode(TRADE_TOPIC, msgs[i:i + BATCH], dead)) for i in range(0, len(msgs), BATCH))


def run_direct(client: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Bulk insert of ready rows into the identical table, in sink-sized chunks; (wall s, CPU s)."""
    client.command(f"TRUNCATE TABLE {DIRECT_TABLE}")
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), BATCH):
        client.insert(DIRECT_TABLE, rows[i:i + BATCH], column_names=columns)
    took = (time.perf_counter() - t0, time.process_time() - c0)
    got = int(client.query(f"SELECT count() FROM {DIRECT_TABLE}").result_rows[0][0])
    if got != len(rows):
        raise RuntimeError(f"direct table holds {got} rows, expected {len(rows)}")
    return took


def sink_columns(serde: SingleObjectSerde, blobs: list[tuple[int, int, bytes]]) -> list[list[list[Any]]]:
    """The same rows as columns in sink-sized chunks, timestamps as DateTime64 ticks (``column_builder``)."""
    _names, build = column_builder(SCHEMA)
    chunks = []
    for i in range(0, len(blobs), BATCH):
        part = blobs[i:i + BATCH]
        data = [list(c) for c in build([serde.decode(v, SCHEMA, TRADE_TOPIC) for _p, _o, v in part])]
        chunks.append([*data, [TRADE_TOPIC] * len(part), [p for p, _o, _v in part], [o for _p, o, _v in part]])
    return chunks


def run_direct_columns(client: Any, columns: list[str], chunks: list[list[list[Any]]], n: int) -> tuple[float, float]:
    """Column-oriented bulk insert of ready columns into the identical table; (wall s, CPU s)."""
    client.command(f"TRUNCATE TABLE {DIRECT_TABLE}")
    t0, c0 = time.perf_counter(), time.process_time()
    for chunk in chunks:
        client.insert(DIRECT_TABLE, chunk, column_names=columns, column_oriented=True)
    took = (time.perf_counter() - t0, time.process_time() - c0)
    got = int(client.query(f"SELECT count() FROM {DIRECT_TABLE}").result_rows[0][0])
    if got != n:
        raise RuntimeError(f"direct table holds {got} rows, expected {n}")
    return took


def fetch_all(conf: dict[str, Any], n: int) -> list[tuple[int, int, bytes]]:
    """Every produced record's (partition, offset, value), read back once from the broker."""
    c = Consumer({**conf, "group.id": f"bench-read-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([TRADE_TOPIC])
    out: list[tuple[int, int, bytes]] = []
    deadline = time.monotonic() + 120
    try:
        while len(out) < n and time.monotonic() < deadline:
            for m in c.consume(10_000, timeout=0.5):
                if m.error() is None:
                    out.append((m.partition(), m.offset(), m.value()))
    finally:
        c.close()
    if len(out) != n:
        raise RuntimeError(f"read back {len(out)} of {n} records")
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000, help="market_trade records produced once, sunk every run")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    ap.add_argument("--markets", type=int, default=4, help="synthetic markets (keys) the trades come from")
    add_tracing_option(ap, "`hbot worker` runs by default")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # The SDK's batch processor warns once per dropped span when the sink outruns the exporter.
    logging.getLogger("opentelemetry.sdk").setLevel(logging.ERROR)
    # A SIGTERM (e.g. from `timeout`) unwinds like an exception, so the broker child is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="hbot-bench-sink-") as tmp:
        install_tracing(args.tracing, "bench-sink", Path(tmp))
        broker = EmbeddedBroker(free_port(), log_file=Path(tmp) / "broker.log").start()
        try:
            conf = {"bootstrap.servers": broker.bootstrap, "log.connection.close": False}
            ensure_topics(conf)
            client = connect(f"chdb://{tmp}/clickhouse")  # chDB: one folder per process
            migrate(client)
            client.command(f"CREATE TABLE IF NOT EXISTS {DIRECT_TABLE} AS {TABLE}")

            records = trade_records(args.n, args.markets)
            serde = SingleObjectSerde()
            producer = EventProducer(conf, serde)
            t0 = time.perf_counter()
            for rec in records:
                producer.send(TRADE_TOPIC, rec)
            producer.flush(120)
            produce_s = time.perf_counter() - t0
            n = len(records)
            fetched = fetch_all(conf, n)
            ends = end_offsets(fetched, CATALOG[TRADE_TOPIC].partitions)
            if sum(tp.offset for tp in ends) != n:
                raise RuntimeError(f"offsets are not contiguous from 0 on a fresh broker: {ends}")
            columns, rows = sink_rows(serde, fetched)
            chunks = sink_columns(serde, fetched)
            # The bench holds every record and row for the baseline; keep that heap out of the
            # garbage collector's way so the sink pays for its own objects only, as in a worker.
            gc.collect()
            gc.freeze()

            broker_pid = broker._proc.pid  # type: ignore[union-attr]  # for its CPU time only
            sink: list[SinkRun] = []
            direct: list[tuple[float, float]] = []
            direct_cols: list[tuple[float, float]] = []
            cpu_only: list[float] = []
            for _ in range(args.runs):
                sink.append(run_sink(conf, client, producer, ends, n, broker_pid))
                direct.append(run_direct(client, columns, rows))
                direct_cols.append(run_direct_columns(client, columns, chunks, n))
                c = time.process_time()
                decode_columns(serde, fetched)
                cpu_only.append(time.process_time() - c)
        finally:
            broker.stop()

    def rate(secs: list[float]) -> tuple[float, list[float]]:
        rates = [n / x for x in secs]
        return median(rates), rates

    total, total_runs = rate([r.wall_total for r in sink])
    steady, steady_runs = rate([r.wall_steady for r in sink])
    sink_cpu, sink_cpu_runs = rate([r.cpu_process for r in sink])
    all_cpu, all_cpu_runs = rate([r.cpu_process + r.cpu_broker for r in sink])
    d_wall, d_wall_runs = rate([w for w, _ in direct])
    d_cpu, d_cpu_runs = rate([c for _, c in direct])
    dc_wall, dc_wall_runs = rate([w for w, _ in direct_cols])
    dc_cpu, dc_cpu_runs = rate([c for _, c in direct_cols])
    only, only_runs = rate(cpu_only)
    used = sum(1 for tp in ends if tp.offset)
    print(f"sink: {n:,} market_trade rows on {TRADE_TOPIC} ({used} of {len(ends)} partitions used, {args.markets} markets), "
          f"embedded Tansu + chDB, batch {BATCH:,}, tracing {args.tracing}, median of {args.runs} runs, rows/s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"(pre-produce with EventProducer: {n / produce_s:,.0f} rows/s wall, not part of the timing)")
    print(table(["path", "rows/s", "x direct", "runs"], [
        ["sink wall, from run() start (incl. group join)", total, f"{total / d_wall:.2f}x", spread(total_runs)],
        ["sink wall, from partition assignment", steady, f"{steady / d_wall:.2f}x", spread(steady_runs)],
        ["direct clickhouse-connect insert, wall", d_wall, "1.00x", spread(d_wall_runs)],
        ["direct insert as columns (ticks), wall", dc_wall, f"{dc_wall / d_wall:.2f}x", spread(dc_wall_runs)],
        ["sink per CPU-second of this process", sink_cpu, f"{sink_cpu / d_cpu:.2f}x", spread(sink_cpu_runs)],
        ["sink per CPU-second, this process + broker", all_cpu, f"{all_cpu / d_cpu:.2f}x", spread(all_cpu_runs)],
        ["direct insert per CPU-second", d_cpu, "1.00x", spread(d_cpu_runs)],
        ["direct insert as columns per CPU-second", dc_cpu, f"{dc_cpu / d_cpu:.2f}x", spread(dc_cpu_runs)],
        ["sink decode to columns only, per CPU-second", only, "", spread(only_runs)],
    ]))
    for label, r, d in (("wall, from start", total, d_wall), ("wall, from assignment", steady, d_wall),
                        ("per CPU-second of this process", sink_cpu, d_cpu)):
        ok = r / d >= TARGET_RATIO and r >= TARGET_RATE
        print(f"target sink >= {TARGET_RATIO}x direct and >= {TARGET_RATE:,} rows/s ({label}): "
              f"{'meets' if ok else 'BELOW'} ({r / d:.2f}x, {r:,.0f} rows/s)")
    print(f"sink from assignment / direct insert as columns: {steady / dc_wall:.2f}x (wall); "
          f"sink per CPU-second / direct as columns per CPU-second: {sink_cpu / dc_cpu:.2f}x")


if __name__ == "__main__":
    main()
