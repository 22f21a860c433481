"""Benchmark: market events per second through the EPP v2.4 strategy core, in-process, one core.

Input: the synthetic market (``processors.market_data.synthetic``, seeded) for ``--hours`` of
simulated time: books every 500 ms, trades, 1 m candles and funding. A first, untimed pass runs
the core with a tiny paper matcher (a public trade through one of our resting quotes fills it) and
records the merged stream, fills included; the timed passes replay that recorded stream, so every
pass makes exactly the same decisions. ``--source random-walk`` uses a seeded random-walk book and
trade generator instead (no dependency on the synthetic market).

Figures, each the median of ``--runs`` interleaved runs:

* ``core``: every event dispatched to its ``EppV24Core.on_*`` handler (decisions built, records
  and all) -> events/s and market events/s;
* baseline ``dispatch``: the same loop over the same events calling a do-nothing handler per kind,
  i.e. the floor of iterating and dispatching decoded events in Python; ``core / dispatch`` says
  how much of the loop the strategy costs;
* ``snapshot``: microseconds for ``snapshot()`` + ``json.dumps`` of the state at the end (what the
  agent pays to persist the state to a Faust table once per decision).

Target (issue 4): >= 100k market events/s on one core.
Run: ``/work/venv/bin/python bench/bench_strategy_core.py [--hours 4] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from processors.strategy import EppV24Config, EppV24Core

TARGET_EVENTS_PER_S = 100_000
INSTANCE = "bench-bot"
MARKET_KINDS = ("book", "trade", "candle", "funding")
_KIND_OF_TOPIC = {
    "hb.market.book.v1": "book",
    "hb.market.trade.v1": "trade",
    "hb.market.candle.v1": "candle",
    "hb.market.funding.v1": "funding",
}

Event = tuple[str, dict[str, Any]]


def synthetic_events(hours: float, seed: int) -> tuple[list[Event], str, float, float]:
    """Market events from the synthetic market, as (kind, record); with market, tick and lot sizes."""
    from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us

    cfg = SyntheticMarketConfig(seed=seed)
    market = SyntheticMarket(cfg)
    events = [(_KIND_OF_TOPIC[topic], rec) for topic, rec in market.generate(market.start_us + span_us(hours=hours))]
    return events, cfg.market, cfg.tick_size, cfg.lot_size


def random_walk_events(hours: float, seed: int) -> tuple[list[Event], str, float, float]:
    """A seeded random-walk book (every 500 ms, 10 levels) with a trade at the touch now and then."""
    rng = random.Random(seed)
    market, tick = "rw:BTC/USDT:USDT", 0.1
    t = 1_704_067_200_000_000
    mid = 65_000.0
    events: list[Event] = []
    for seq in range(1, int(hours * 7200) + 1):
        t += 500_000
        mid *= math.exp(rng.gauss(0.0, 0.00012))
        bb = math.floor(mid / tick) * tick
        ba = bb + tick * rng.randint(1, 4)
        bids = [{"price": round(bb - i * tick, 1), "size": round(rng.uniform(0.01, 3.0), 3)} for i in range(10)]
        asks = [{"price": round(ba + i * tick, 1), "size": round(rng.uniform(0.01, 3.0), 3)} for i in range(10)]
        events.append(("book", {"event_id": f"book-{seq}", "event_time": t, "market": market, "sequence": seq,
                                "bids": bids, "asks": asks, "mid": (bb + ba) / 2, "spread_bps": 0.0}))
        if rng.random() < 0.6:
            side = rng.choice(("BUY", "SELL"))
            price = ba if side == "BUY" else bb
            events.append(("trade", {"event_id": f"trade-{seq}", "event_time": t + 1000, "market": market,
                                     "price": price, "size": 0.01, "aggressor_side": side}))
    return events, market, tick, 0.001


def with_paper_fills(core: EppV24Core, events: list[Event]) -> list[Event]:
    """Run ``core`` over ``events`` once, filling resting quotes that public trades trade through.

    Returns the merged stream (fills inserted right after the trade that caused them) for replay.
    """
    handlers = _handlers(core)
    resting: list[dict[str, Any]] = []
    merged: list[Event] = []
    n_fills = 0
    for kind, rec in events:
        merged.append((kind, rec))
        d = handlers[kind](rec)
        if d is not None:
            resting = [dict(q) for q in d.quote["quotes"]]
        if kind != "trade" or not resting:
            continue
        px, aggressor = rec["price"], rec["aggressor_side"]
        for q in resting:
            hit = (aggressor == "SELL" and q["side"] == "BUY" and px <= q["price"]) or (
                aggressor == "BUY" and q["side"] == "SELL" and px >= q["price"]
            )
            if hit and q["size"] > 0.0:
                n_fills += 1
                fill = {
                    "event_id": f"fill-{n_fills}", "event_time": rec["event_time"], "instance_id": INSTANCE,
                    "market": rec["market"], "side": q["side"], "price": q["price"], "size": q["size"],
                    "fee_quote": q["price"] * q["size"] * 0.0002, "mid_at_fill": core._mid,  # noqa: SLF001
                }
                q["size"] = 0.0
                merged.append(("fill", fill))
                d = core.on_fill(fill)
                if d is not None:
                    resting = [dict(x) for x in d.quote["quotes"]]
    return merged


def _handlers(core: EppV24Core) -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {
        "book": core.on_book, "trade": core.on_trade, "candle": core.on_candle,
        "funding": core.on_funding, "fill": core.on_fill,
    }


def run_core(config: EppV24Config, market: str, events: list[Event]) -> tuple[float, int, EppV24Core]:
    """Seconds to push ``events`` through a fresh core, the decisions made, and the core."""
    core = EppV24Core(config, INSTANCE, market)
    handlers = _handlers(core)
    decisions = 0
    t0 = time.perf_counter()
    for kind, rec in events:
        if handlers[kind](rec) is not None:
            decisions += 1
    return time.perf_counter() - t0, decisions, core


def _noop(rec: dict[str, Any]) -> None:
    return None


def run_dispatch_baseline(events: list[Event]) -> float:
    """Seconds for the same loop and dispatch with do-nothing handlers."""
    handlers = {kind: _noop for kind in (*MARKET_KINDS, "fill")}
    decisions = 0
    t0 = time.perf_counter()
    for kind, rec in events:
        if handlers[kind](rec) is not None:
            decisions += 1
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours of market data")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", choices=("synthetic", "random-walk"), default="synthetic")
    parser.add_argument("--no-candles", action="store_true", help="regime from the price buffer only")
    args = parser.parse_args()

    t0 = time.perf_counter()
    if args.source == "synthetic":
        try:
            raw, market, tick, lot = synthetic_events(args.hours, args.seed)
        except ImportError:
            print("synthetic market not available; using the random walk")
            raw, market, tick, lot = random_walk_events(args.hours, args.seed)
    else:
        raw, market, tick, lot = random_walk_events(args.hours, args.seed)
    config = EppV24Config(
        tick_size=tick, lot_size=lot, candles_connector=None if args.no_candles else "synthetic",
    )
    events = with_paper_fills(EppV24Core(config, INSTANCE, market), raw)
    prep = time.perf_counter() - t0
    n_total = len(events)
    n_market = sum(1 for kind, _ in events if kind in MARKET_KINDS)
    n_fills = n_total - n_market
    print(f"source={args.source} market={market} simulated={args.hours} h events={n_total} "
          f"(market {n_market}, fills {n_fills}) prepared in {prep:.1f} s")
    print(f"config_id={config.config_id} candles={'off' if args.no_candles else 'on'}")

    core_s: list[float] = []
    base_s: list[float] = []
    decisions = 0
    core = None
    for _ in range(args.runs):
        base_s.append(run_dispatch_baseline(events))
        elapsed, decisions, core = run_core(config, market, events)
        core_s.append(elapsed)
    assert core is not None
    snap_us = []
    snap_bytes = 0
    for _ in range(20):
        s0 = time.perf_counter()
        snap_bytes = len(json.dumps(core.snapshot()))
        snap_us.append((time.perf_counter() - s0) * 1e6)

    core_med, base_med = statistics.median(core_s), statistics.median(base_s)
    core_rate = n_total / core_med
    market_rate = n_market / core_med
    base_rate = n_total / base_med
    print(f"decisions per run: {decisions} (one per {n_total / max(1, decisions):.0f} events)")
    print(f"core     : median {core_med * 1e3:8.1f} ms  {core_rate:12,.0f} events/s  "
          f"{market_rate:12,.0f} market events/s  ({1e6 / core_rate:.2f} us/event)")
    print(f"dispatch : median {base_med * 1e3:8.1f} ms  {base_rate:12,.0f} events/s  (baseline, do-nothing handlers)")
    print(f"ratio core/dispatch = {core_rate / base_rate:.3f}")
    print(f"snapshot + json.dumps: median {statistics.median(snap_us):.0f} us, {snap_bytes / 1024:.1f} KiB")
    verdict = "meets" if market_rate >= TARGET_EVENTS_PER_S else "BELOW"
    print(f"target >= {TARGET_EVENTS_PER_S:,} market events/s: {verdict}")


if __name__ == "__main__":
    main()
