"""Benchmark: report and TCA latency over 30 simulated days in the real ClickHouse engine (chDB).

Setup (in a temporary chDB folder, tables migrated from the Avro schemas): ``--days`` UTC days for
``--instances`` instances, each on its own market, generated inside ClickHouse with
``INSERT ... SELECT FROM numbers()`` (deterministic sine-wave mids, so it takes seconds):

* order book snapshots every ``--book-ms`` ms (500 ms, the synthetic market's default: 172,800 a
  day per market);
* strategy states every 10 s, fills every 90 s alternating sides 4 bps from the mid, funding
  observations every minute with settlements every 8 h.

Then, each timed ``--runs`` times (median reported, min..max shown), through the same functions the
CLI calls (queries + Python maths; no file writing unless named):

* ``day report``: :func:`build_day_report` for one day in the middle, all instances;
* ``range report``: :func:`build_range_report` over all days (ROAD-1 summary + TCA + plot series);
* ``TCA 30 days`` / ``TCA 1 day``: :func:`tca_report` (per-fill join with state and book, breakdowns);
* ``write range JSON+HTML``: :func:`write_reports` of the range report (plotly page, JS inlined).

Target: report and TCA queries <= 2 s each. No assertions: speed is reported, not tested.

    /work/venv/bin/python bench/bench_reports.py [--days 30] [--instances 2] [--book-ms 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sinks.clickhouse.analytics import build_day_report, build_range_report, tca_report  # noqa: E402
from sinks.clickhouse.client import connect  # noqa: E402
from sinks.clickhouse.migrations import migrate  # noqa: E402
from sinks.reports import write_reports  # noqa: E402

START = date(2030, 1, 1)
MID = "(100 + 20 * {k}) * (1 + 0.01 * sin(n / 40000.0 + {k}) + 0.002 * sin(n / 517.0))"


def generate(client: Any, days: int, instances: int, book_ms: int) -> dict[str, int]:
    """Insert the simulated history; returns rows per table."""
    t0 = f"toDateTime64('{START.isoformat()} 00:00:00', 6, 'UTC')"
    for k in range(instances):
        inst, market = f"bench{k}", f"bench:M{k}/USDT"
        n_books = days * 86_400_000 // book_ms
        mid = MID.format(k=k).replace("n /", "(n * {ms} / 1000.0) /".format(ms=book_ms))
        client.command(f"""
INSERT INTO hb_market_book_v1 (event_id, event_time, produce_time, market, sequence, bids, asks, mid, spread_bps, source, _topic, _partition, _offset)
SELECT concat('bk{k}-', toString(n)), {t0} + toIntervalMillisecond(n * {book_ms}), {t0} + toIntervalMillisecond(n * {book_ms}),
       '{market}', n, [({mid} * 0.9999, 1.0)], [({mid} * 1.0001, 1.0)], {mid}, 2.0, 'bench', 'hb.market.book.v1', 0, n
FROM (SELECT number AS n FROM numbers({n_books}))""")
        s_mid = MID.format(k=k)
        n_states = days * 8640
        client.command(f"""
INSERT INTO hb_strategy_state_v1 (event_id, event_time, produce_time, instance_id, market, config_id, decision_seq, regime,
    regime_source, mid, spread_min, spread_max, spread_multiplier, net_edge, min_edge_threshold, target_net_base_pct, base_pct,
    funding_rate_bps, adverse_fill_active, ob_imbalance, risk_reasons, order_book_stale, position_base, equity_quote,
    realized_pnl_quote, unrealized_pnl_quote, fees_paid_quote, guard_state, _topic, _partition, _offset)
SELECT concat('st{k}-', toString(i)), {t0} + toIntervalSecond(i * 10), {t0} + toIntervalSecond(i * 10), '{inst}', '{market}',
       'cfg', i, ['neutral_low_vol', 'neutral_high_vol', 'up', 'down', 'high_vol_shock'][1 + intDiv(i, 2160) % 5],
       'price_buffer', {s_mid.replace('n /', '(i * 10) /')}, 0.0004, 0.0009, 1, 0.0005, 0.0003, 0, 0.05 * sin(i / 300.0), 1.0,
       false, 0, [], false, 0.5 * sin(i / 300.0), 10000 + i * 0.001 + 5 * sin(i / 97.0), (i % 8640) * 0.002, 3 * sin(i / 97.0),
       (i % 8640) * 0.001, 'RUNNING', 'hb.strategy_state.v1', 0, i
FROM (SELECT number AS i FROM numbers({n_states}))""")
        n_fills = days * 960
        f_mid = MID.format(k=k).replace("n /", "(j * 90 + 3) /")
        client.command(f"""
INSERT INTO hb_fill_v1 (event_id, event_time, produce_time, instance_id, market, client_order_id, trade_id, side, price, size,
    fee_quote, fee_asset, liquidity, mid_at_fill, mid_at_order, regime, is_paper, _topic, _partition, _offset)
SELECT concat('f{k}-', toString(j)), {t0} + toIntervalSecond(j * 90 + 3), {t0} + toIntervalSecond(j * 90 + 3), '{inst}',
       '{market}', concat('co', toString(j)), concat('t', toString(j)), if(j % 2 = 0, 'BUY', 'SELL'),
       {f_mid} * if(j % 2 = 0, 0.9996, 1.0004), 0.5, {f_mid} * 0.5 * 0.0002, 'USDT', 'MAKER', {f_mid}, {f_mid} * 1.00001,
       'up', true, 'hb.fill.v1', 0, j
FROM (SELECT number AS j FROM numbers({n_fills}))""")
        client.command(f"""
INSERT INTO hb_market_funding_v1 (event_id, event_time, produce_time, market, funding_rate, next_funding_time, mark_price,
    is_settlement, source, _topic, _partition, _offset)
SELECT concat('fu{k}-', toString(m)), {t0} + toIntervalMinute(m), {t0} + toIntervalMinute(m), '{market}', 0.0001,
       {t0} + toIntervalMinute(m + 480), 100 + 20 * {k}, m % 480 = 0 AND m > 0, 'bench', 'hb.market.funding.v1', 0, m
FROM (SELECT number AS m FROM numbers({days * 1440}))""")
    return {t: int(client.query(f"SELECT count() FROM {t}").result_rows[0][0])
            for t in ("hb_market_book_v1", "hb_strategy_state_v1", "hb_fill_v1", "hb_market_funding_v1")}


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], list[float], Any]:
    """Wall-clock and CPU seconds of each run (CPU includes chDB's threads: it runs in this process)."""
    wall, cpu, result = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu, result


def main() -> None:
    """Generate the history, time each report, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--book-ms", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbot-bench-reports-") as tmp:
        client = connect(f"chdb://{tmp}/ch")
        migrate(client)
        t = time.perf_counter()
        counts = generate(client, args.days, args.instances, args.book_ms)
        client.command("OPTIMIZE TABLE hb_fill_v1 FINAL")  # what merges do in the background on a running desk
        gen_s = time.perf_counter() - t
        print(f"generated {args.days} days x {args.instances} instances in {gen_s:.1f} s: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        end = START + timedelta(days=args.days - 1)
        mid_day = START + timedelta(days=args.days // 2)
        cases = [
            ("day report (1 day, all instances)", lambda: build_day_report(client, mid_day)),
            (f"range report ({args.days} days)", lambda: build_range_report(client, START, end)),
            (f"TCA {args.days} days", lambda: tca_report(client, START, end)),
            ("TCA 1 day", lambda: tca_report(client, mid_day, mid_day)),
        ]
        rows = []
        results = {}
        for name, fn in cases:
            fn()  # warm-up: first touch of the parts
            wall, cpu, results[name] = timed(fn, args.runs)
            rows.append((name, statistics.median(wall), min(wall), max(wall), statistics.median(cpu)))
        rng = results[f"range report ({args.days} days)"]
        wall, cpu, _ = timed(lambda: write_reports(rng, Path(tmp) / "home"), max(1, args.runs // 2))
        rows.append(("write range JSON+HTML", statistics.median(wall), min(wall), max(wall), statistics.median(cpu)))
        print(f"\nmedian of {args.runs} runs (target <= 2 s wall for each report/TCA query); "
              f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'case':<38} {'median s':>9} {'min s':>7} {'max s':>7} {'cpu s':>7}  verdict")
        for name, med, lo, hi, c in rows:
            verdict = "" if name.startswith("write") else ("ok" if med <= 2.0 else "OVER TARGET")
            print(f"{name:<38} {med:>9.3f} {lo:>7.3f} {hi:>7.3f} {c:>7.3f}  {verdict}")
        tca = results[f"TCA {args.days} days"]
        print(f"\nTCA over {tca.headline.fills:,} fills; range report days with data: "
              f"{rng.summary.days_with_data}, fills {rng.summary.total_fills:,}")


if __name__ == "__main__":
    main()
