"""Benchmark: hbot's Avro serde vs raw fastavro on the same market book records.

The records are order book snapshots from the synthetic market (``--levels`` price levels a
side, schema ``market_book``). Three paths are timed on the SAME records, interleaved run by run
so machine noise hits them alike:

* ``hbot``: ``SingleObjectSerde.encode`` then ``SingleObjectSerde.decode(data, "market_book")``
  (single-object header, fingerprint lookup, schema check, trailing-bytes check, error mapping);
* ``raw fastavro``: ``fastavro.schemaless_writer`` into a fresh ``BytesIO`` then
  ``fastavro.schemaless_reader`` with the parsed schema (no header, no checks): the floor.

Figures are records/s, each the median of ``--runs`` runs (at least 5), for encode, decode and
encode+decode, by wall clock and by CPU time of this process (robust when the shared machine is
busy), and the ratio hbot / raw (target >= 0.8x). No assertions: speed is reported.

    /work/venv/bin/python bench/bench_serde.py [--n 20000] [--runs 7] [--levels 20]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from typing import Any

import fastavro

from _stats import median, spread, table
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us
from processors.market_data.topics import BOOK_TOPIC
from schemas import load_schema_json
from streams.serde import SingleObjectSerde

SCHEMA = "market_book"
TARGET_RATIO = 0.8


def book_records(n: int, levels: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` market book records from the synthetic market, stamped with a produce time."""
    cfg = SyntheticMarketConfig(seed=seed, book_levels=levels)
    market = SyntheticMarket(cfg)
    out: list[dict[str, Any]] = []
    for topic, rec in market.iter_span(span_us(hours=24 * 365)):
        if topic == BOOK_TOPIC:
            # The producer stamps produce_time before encoding; do it here so both paths get it.
            out.append({**rec, "produce_time": rec["event_time"] + 1_000})
            if len(out) == n:
                return out
    return out


def hbot_encode(serde: SingleObjectSerde, records: list[dict[str, Any]]) -> list[bytes]:
    """Encode every record with hbot's serde."""
    enc = serde.encode
    return [enc(SCHEMA, r) for r in records]


def hbot_decode(serde: SingleObjectSerde, blobs: list[bytes]) -> list[dict[str, Any]]:
    """Decode every blob with hbot's serde, checking the expected schema as consumers do."""
    dec = serde.decode
    return [dec(b, SCHEMA) for b in blobs]


def raw_encode(parsed: Any, records: list[dict[str, Any]]) -> list[bytes]:
    """Encode every record with bare fastavro (fresh buffer per record, as a producer needs bytes per message)."""
    out = []
    writer = fastavro.schemaless_writer
    for r in records:
        buf = io.BytesIO()
        writer(buf, parsed, r)
        out.append(buf.getvalue())
    return out


def raw_decode(parsed: Any, blobs: list[bytes]) -> list[dict[str, Any]]:
    """Decode every blob with bare fastavro."""
    reader = fastavro.schemaless_reader
    return [reader(io.BytesIO(b), parsed, None) for b in blobs]


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds of this process, and the result of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()  # the benchmark, not a core, reads the clock
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="book records per run")
    ap.add_argument("--runs", type=int, default=7, help="runs per figure (median reported), at least 5")
    ap.add_argument("--levels", type=int, default=20, help="price levels per side (10..50)")
    args = ap.parse_args(argv)
    runs = max(5, args.runs)

    records = book_records(args.n, args.levels)
    n = len(records)
    serde = SingleObjectSerde()
    parsed = fastavro.parse_schema(load_schema_json(SCHEMA))

    # Same bytes after the header, same values back: the comparison is like for like.
    ours, theirs = hbot_encode(serde, records[:100]), raw_encode(parsed, records[:100])
    assert all(a[10:] == b for a, b in zip(ours, theirs)), "hbot body differs from fastavro's"
    assert hbot_decode(serde, ours) == raw_decode(parsed, theirs), "decoded records differ"
    size = sum(len(b) for b in ours) / len(ours)

    # Wall clock is what a producer sees; CPU time is what one core spends, whatever else the
    # (shared, 2-core) machine runs. The ratio is given for both.
    keys = [f"{who} {op}" for who in ("hbot", "raw") for op in ("enc", "dec", "both")]
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(runs):
        for who, enc, dec, arg in (("hbot", hbot_encode, hbot_decode, serde), ("raw", raw_encode, raw_decode, parsed)):
            we, ce, blobs = _timed(lambda: enc(arg, records))
            wd, cd, _ = _timed(lambda: dec(arg, blobs))
            for store, e, d in ((wall, we, wd), (cpu, ce, cd)):
                store[f"{who} enc"].append(n / e)
                store[f"{who} dec"].append(n / d)
                store[f"{who} both"].append(n / (e + d))

    mw = {k: median(v) for k, v in wall.items()}
    mc = {k: median(v) for k, v in cpu.items()}
    load = os.getloadavg()[0]
    print(f"serde: {n:,} market_book records ({args.levels} levels a side, {size:.0f} bytes each incl. the 10-byte header), "
          f"median of {runs} runs, records/s (fastavro {fastavro.__version__}, load average {load:.1f} on {os.cpu_count()} CPUs)")
    rows = []
    for op, label in (("enc", "encode"), ("dec", "decode"), ("both", "encode+decode")):
        h, r, hc, rc = mw[f"hbot {op}"], mw[f"raw {op}"], mc[f"hbot {op}"], mc[f"raw {op}"]
        rows.append([label, h, r, f"{h / r:.2f}x", hc, rc, f"{hc / rc:.2f}x", spread(wall[f"hbot {op}"]), spread(wall[f"raw {op}"])])
    print(table(["", "hbot wall", "raw wall", "ratio", "hbot CPU", "raw CPU", "ratio", "hbot wall runs", "raw wall runs"], rows))
    for label, m in (("wall clock", mw), ("CPU time", mc)):
        ratio = m["hbot both"] / m["raw both"]
        print(f"target hbot / raw >= {TARGET_RATIO}x on encode+decode ({label}): {'meets' if ratio >= TARGET_RATIO else 'BELOW'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
