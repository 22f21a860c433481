"""Kill-switch latency: from the guard's HARD_STOP record to every paper order cancelled, through the real desk.

Runs the "synthetic breach" of the acceptance test (``tests/processors/kill_switch/breach_scenario.py``):
one ``hbot worker`` with the desk roles (sequencer, strategy, risk, paper execution, kill switch) on
the embedded Tansu broker (or ``--bootstrap``), one paper instance per run. Each run lets the
strategy's ladder rest, sweeps the bids (a long position), requotes, then publishes a book 25 %
lower: the marked loss crosses the hard daily-loss limit. From then on the market goes on as a live
feed would, one book every ``--tick-ms`` ms (the paper venue only moves on its inputs, and on Tansu
a new batch is what uncovers the end of the previous one).

Measured per run, from the produce times the workers stamp (one host, one clock):

* crash book -> HARD_STOP: the crash book's produce time (stamped by this script) to the guard's
  ``hb.guard.v1`` HARD_STOP record (market -> sequencer -> risk). The risk gate publishes its own
  CANCEL_ALL and the ``kill_switch`` intent in that same batch (same produce time);
* guard -> kill-switch CANCEL_ALL: to the kill switch's own CANCEL_ALL on ``hb.order.v1``
  (intent -> kill switch, which reads the intent topic directly);
* guard -> all cancelled: to the last CANCELLED ``hb.order_update.v1`` of the orders open at the
  stop (the headline; target <= 500 ms).

Paper latencies are 0 ms, so the figures are the desk's hops, not a simulated exchange delay.

    python bench/bench_kill_switch.py [--runs 3] [--tick-ms 100] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the scenario lives in the tests package

from _stats import median, table

from processors.clock import to_micros
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port, wait_until_reachable
from tests.processors.kill_switch.breach_scenario import (
    BreachDesk,
    MarketScript,
    cancelled,
    hard_stops,
    nudge_outputs,
)

TARGET_MS = 500.0


def measure(desk: BreachDesk, instance: str, tick_ms: float, timeout: float = 60) -> dict[str, Any]:
    """One breach on ``instance``: build up, crash, keep the market going until every open order is cancelled."""
    script = MarketScript(desk.markets[instance])
    desk.build_up(instance, script)
    breach = desk.crash(instance, script)
    calls = {"n": 0}

    def live_market() -> None:
        # The market goes on after the stop; every few ticks the output topics are nudged so that
        # this reader sees the last records of a burst (on Tansu). The nudges keep off this market's
        # partition of the sequenced log: the desk moves only on this market's own records.
        calls["n"] += 1
        desk.publish(script.after(1, dt_us=int(tick_ms * 1000)))
        if calls["n"] % 5 == 0:
            nudge_outputs(desk.conf, avoid_market=desk.markets[instance], topics=("hb.order_update.v1", "hb.audit.v1"))

    desk.wait(lambda: desk.stopped_and_cancelled(breach), timeout, f"{instance}: every order cancelled after the stop",
              live_market, every_s=tick_ms / 1000.0)
    seen = desk.collector.seen(instance)
    guard = hard_stops(seen)[0].record
    g = to_micros(guard["produce_time"])
    opened = breach.open_at_stop(seen)
    done = cancelled(seen)
    last = max(to_micros(done[c]["produce_time"]) for c in opened)
    ks_cancel = [s.record for s in seen if s.topic == "hb.order.v1" and s.record["reason"] == "kill_switch"]
    return {
        "orders": len(opened),
        "detect_ms": (g - breach.crash_produced_us) / 1000.0,
        "ks_cancel_ms": (to_micros(ks_cancel[0]["produce_time"]) - g) / 1000.0 if ks_cancel else float("nan"),
        "all_ms": (last - g) / 1000.0,
        "by": ",".join(f"{r} x{n}" for r, n in sorted(Counter(done[c]["reason"] for c in opened).items())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="breaches (one paper instance each), default 3")
    ap.add_argument("--tick-ms", type=float, default=100.0, help="after the stop, one book every this many ms (default 100)")
    ap.add_argument("--bootstrap", default=None, help="HOST:PORT of another broker instead of a fresh embedded Tansu")
    args = ap.parse_args()

    broker = EmbeddedBroker(free_port()).start() if args.bootstrap is None else None
    bootstrap = broker.bootstrap if broker is not None else args.bootstrap
    conf = {"bootstrap.servers": bootstrap, "log.connection.close": False}
    wait_until_reachable(conf, 20)
    ensure_topics(conf)
    run_id = uuid.uuid4().hex[:6]
    instances = [(f"ksb{run_id}{i}", f"KSB{run_id}{i}/USDT:USDT") for i in range(args.runs)]
    home = Path(tempfile.mkdtemp(prefix="hbot-bench-ks-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HBOT_")} | {"HBOT_LOG_LEVEL": "WARNING"}
    load_before = os.getloadavg()[0]
    desk = BreachDesk(conf, home, env, instances, group_prefix=f"ksb{run_id}")
    rows: list[dict[str, Any]] = []
    try:
        desk.start("desk")
        for i, (instance, _) in enumerate(instances):
            rows.append(measure(desk, instance, args.tick_ms))
            r = rows[-1]
            print(f"run {i + 1}: {r['orders']} orders open, all cancelled {r['all_ms']:.1f} ms after the HARD_STOP", flush=True)
    finally:
        desk.close()
        if broker is not None:
            broker.stop()
    load_after = os.getloadavg()[0]

    where = f"Apache Kafka/other broker at {args.bootstrap}" if args.bootstrap else "embedded Tansu"
    print(f"\nkill switch: guard HARD_STOP -> every paper order cancelled, {where}, one desk worker, "
          f"book every {args.tick_ms:g} ms after the stop, {args.runs} runs, ms between produce times "
          f"(load average {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs)")
    body: list[list[object]] = [[f"run {i + 1}", r["orders"], f"{r['detect_ms']:.1f}", f"{r['ks_cancel_ms']:.1f}",
                                 f"{r['all_ms']:.1f}", r["by"]] for i, r in enumerate(rows)]

    def col(key: str) -> list[float]:
        return [r[key] for r in rows]

    body.append(["median", "", f"{median(col('detect_ms')):.1f}", f"{median(col('ks_cancel_ms')):.1f}",
                 f"{median(col('all_ms')):.1f}", ""])
    body.append(["min..max", "", f"{min(col('detect_ms')):.1f}..{max(col('detect_ms')):.1f}",
                 f"{min(col('ks_cancel_ms')):.1f}..{max(col('ks_cancel_ms')):.1f}",
                 f"{min(col('all_ms')):.1f}..{max(col('all_ms')):.1f}", ""])
    print(table(["", "orders open", "crash book -> HARD_STOP", "-> kill-switch CANCEL_ALL", "-> all cancelled", "cancelled by (reason)"], body))
    m = median(col("all_ms"))
    print(f"target guard -> all cancelled <= {TARGET_MS:g} ms (median): {'meets' if m <= TARGET_MS else 'BELOW'} ({m:.1f} ms)")


if __name__ == "__main__":
    main()
