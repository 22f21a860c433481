"""Benchmark: archive and restore rates of one UTC day (~100k records) on the embedded Tansu broker.

A day of synthetic market data (books, trades, candles, funding; ``--n`` records from 00:00 UTC)
is produced to a source broker with Kafka timestamps = event times. Then, each of ``--runs``
times:

* ``archive``: :func:`streams.archive.archive_day` of that day into a fresh home folder (every
  catalog topic scanned, values decoded for their event time, Avro container files written,
  SHA-256 checksums taken);
* ``re-archive``: the same again into the same folder (must report every file ``unchanged``);
* ``restore``: :func:`streams.archive.restore_day` into a fresh Tansu broker (file checksums,
  a scan of the target for records of that day, the produce, and the verification scan);
* ``verify``: :func:`streams.archive.verify_day` alone on the restored broker, to split the
  restore figure into publishing and verifying.

Figures are records/s (archived records over wall seconds), the median of the runs with min..max.
No assertions beyond the archive's own checks: speed is reported.

    /work/venv/bin/python bench/bench_archive.py [--n 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from _stats import median, spread, table  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from processors.market_data.synthetic.config import SyntheticMarketConfig  # noqa: E402
from processors.market_data.synthetic.market import SyntheticMarket, span_us  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.archive import archive_day, day_window, restore_day, verify_day  # noqa: E402
from streams.broker import EmbeddedBroker, free_port  # noqa: E402
from streams.catalog import CATALOG  # noqa: E402
from streams.serde import SingleObjectSerde  # noqa: E402


def publish_day(conf: dict[str, Any], serde: SingleObjectSerde, day: date, n: int) -> tuple[int, float, dict[str, int]]:
    """Produce ``n`` synthetic records of ``day`` (Kafka timestamp = event time); (count, seconds, per topic)."""
    start, _ = day_window(day)
    market = SyntheticMarket(SyntheticMarketConfig(seed=11, start_us=start))
    producer = Producer({**conf, "linger.ms": 20, "batch.num.messages": 10_000, "queue.buffering.max.messages": 1_000_000,
                         "enable.idempotence": True})
    per_topic: dict[str, int] = {}
    sent = 0
    t0 = time.perf_counter()
    for topic, rec in market.iter_span(span_us(hours=23)):
        schema = CATALOG[topic].schema
        value = serde.encode(schema, {**rec, "produce_time": rec["event_time"] + 2_000})
        while True:
            try:
                producer.produce(topic, value, key=rec["market"].encode(), timestamp=rec["event_time"] // 1000)
                break
            except BufferError:
                producer.poll(0.05)
        per_topic[topic] = per_topic.get(topic, 0) + 1
        sent += 1
        if sent == n:
            break
    left = producer.flush(120)
    if left:
        raise SystemExit(f"{left} records not delivered")
    return sent, time.perf_counter() - t0, per_topic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="records in the archived day")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    args = ap.parse_args()
    serde = SingleObjectSerde()
    day = datetime.now(timezone.utc).date() - timedelta(days=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        run_bench(args, serde, day, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_bench(args: argparse.Namespace, serde: SingleObjectSerde, day: date, tmp: Path) -> None:
    """Produce the day, then time archive, re-archive, restore and verify ``args.runs`` times each."""
    with EmbeddedBroker(free_port(), log_file=tmp / "source.log") as source:
        conf = {"bootstrap.servers": source.bootstrap, "log.connection.close": False}
        ensure_topics(conf)
        sent, secs, per_topic = publish_day(conf, serde, day, args.n)
        print(f"day {day}: produced {sent:,} records ({', '.join(f'{t} {c:,}' for t, c in sorted(per_topic.items()))}) "
              f"in {secs:.1f} s ({sent / secs:,.0f} records/s)")
        times: dict[str, list[float]] = {"archive": [], "re-archive": [], "restore (incl. verify)": [], "verify": []}
        archived = 0
        disk = 0
        for run in range(args.runs):
            home = tmp / f"home{run}"
            t0 = time.perf_counter()
            res = archive_day(conf, serde, home, day)
            times["archive"].append(time.perf_counter() - t0)
            archived = res.records
            disk = sum(p.stat().st_size for p in res.directory.iterdir())
            t0 = time.perf_counter()
            again = archive_day(conf, serde, home, day)
            times["re-archive"].append(time.perf_counter() - t0)
            assert {t.status for t in again.topics} == {"unchanged"}, again.topics
            with EmbeddedBroker(free_port(), log_file=tmp / f"target{run}.log") as target:
                tconf = {"bootstrap.servers": target.bootstrap, "log.connection.close": False}
                t0 = time.perf_counter()
                restored = restore_day(tconf, serde, home, day)
                times["restore (incl. verify)"].append(time.perf_counter() - t0)
                assert restored.ok, restored.comparisons
                t0 = time.perf_counter()
                assert all(c.ok for c in verify_day(tconf, serde, home, day))
                times["verify"].append(time.perf_counter() - t0)
        rows = []
        for name, vals in times.items():
            rates = [archived / v for v in vals]
            rows.append((name, median(vals), median(rates), spread(rates)))
        print(f"archived {archived:,} records, {disk / 1e6:.1f} MB on disk (Avro container files, deflate)\n")
        print(table(["step", "seconds", "records/s", "min..max"], [(r[0], f"{r[1]:.2f}", r[2], r[3]) for r in rows]))
        restore_only = [r - v for r, v in zip(times["restore (incl. verify)"], times["verify"])]
        print(f"\nrestore without its verification scan: {median([archived / s for s in restore_only]):,.0f} records/s "
              f"({args.runs} run(s), 2 CPU cores shared)")


if __name__ == "__main__":
    main()
