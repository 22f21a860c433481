"""Benchmark of the pure execution/risk cores: paper exchange, risk gate, ops guard.

Prints the median of several runs (events per second and microseconds per event) and the ratio
to a baseline measured in the same run: a loop that only normalises each event's time and
dispatches on its kind (the floor any core pays). No assertions: speed is reported, not tested.

    /work/venv/bin/python bench/bench_paper.py [--events 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any, Callable

from processors.clock import to_micros
from processors.execution.paper import PaperExchange, PaperExchangeConfig
from processors.risk import GateConfig, GuardConfig, MarketRules, OpsGuard, RiskGate

INSTANCE, MARKET = "bench", "bench:BTC/USDT:USDT"
T0 = 1_767_225_600_000_000
RULES = MarketRules(tick_size=0.1, lot_size=0.001, min_size=0.001, min_notional=5.0)


def _events(n: int, seed: int = 1) -> list[tuple[str, dict[str, Any]]]:
    """A synthetic session: books, trades and quote decisions in event-time order."""
    rng = random.Random(seed)
    mid, t, out = 100.0, T0, []
    for i in range(n):
        t += 20_000
        r = rng.random()
        if r < 0.45:
            mid = round(mid + rng.choice([-0.1, 0.0, 0.1]), 1)
            bid, ask = round(mid - 0.1, 1), round(mid + 0.1, 1)
            out.append(("book", {"event_id": f"b{i}", "event_time": t, "market": MARKET, "sequence": i,
                                 "bids": [{"price": round(bid - 0.1 * k, 1), "size": 1.0 + k} for k in range(20)],
                                 "asks": [{"price": round(ask + 0.1 * k, 1), "size": 1.0 + k} for k in range(20)],
                                 "mid": (bid + ask) / 2, "spread_bps": 2.0, "source": "bench", "sim_regime": None}))
        elif r < 0.85:
            aggr = rng.choice(["BUY", "SELL"])
            px = round(mid + (0.1 if aggr == "BUY" else -0.1) * rng.randint(1, 3), 1)
            out.append(("trade", {"event_id": f"t{i}", "event_time": t, "market": MARKET, "trade_id": f"t{i}",
                                  "price": px, "size": rng.choice([0.2, 1.0, 3.0]), "aggressor_side": aggr,
                                  "sequence": i, "source": "bench", "informed": None}))
        else:
            levels = [{"side": s, "level": lv, "price": round(mid + (-1 if s == "BUY" else 1) * (0.1 + 0.1 * lv), 1), "size": 0.5}
                      for s in ("BUY", "SELL") for lv in range(3)]
            out.append(("quote", {"event_id": f"q{i}", "event_time": t, "instance_id": INSTANCE, "market": MARKET,
                                  "config_id": "bench", "decision_seq": i, "regime": "neutral_low_vol", "mid": mid,
                                  "quotes": levels, "derisk_only": False, "input_event_ids": [], "input_offsets": []}))
    return out


def _baseline(events: list[tuple[str, dict[str, Any]]]) -> None:
    seen: dict[str, int] = {}
    for kind, rec in events:
        seen[kind] = to_micros(rec["event_time"])


def _pipeline(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Gate + paper exchange + guard, wired as the agents would be."""
    paper = PaperExchange(PaperExchangeConfig(), INSTANCE, MARKET)
    gate = RiskGate(GateConfig(cancel_budget_per_min=100_000), RULES, INSTANCE, MARKET, balance_quote=paper.balance_quote)
    guard = OpsGuard(GuardConfig(max_daily_loss_pct_hard=0.5, max_daily_loss_pct_soft=0.5, max_drawdown_pct_soft=0.5, max_drawdown_pct_hard=0.5), INSTANCE, MARKET)
    for kind, rec in events:
        if kind == "quote":
            for cmd in gate.on_quote(rec).commands:
                ev = paper.on_command(cmd)
                for u in ev.order_updates:
                    gate.on_order_update(u)
        else:
            ev = paper.on_market_event(kind, rec)  # type: ignore[arg-type]
            for u in ev.order_updates:
                gate.on_order_update(u)
            for f in ev.fills:
                gate.on_fill(f)
            if kind == "book":
                guard.on_book(rec["event_time"], rec["event_id"])
                guard.on_equity(rec["event_time"], paper.equity(), rec["event_id"])


def _paper_only(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Paper exchange alone, with a fixed ladder of resting orders refreshed by the quotes."""
    paper = PaperExchange(PaperExchangeConfig(), INSTANCE, MARKET)
    n = 0
    for kind, rec in events:
        if kind == "quote":
            paper.on_command({"event_time": rec["event_time"], "instance_id": INSTANCE, "market": MARKET, "action": "CANCEL_ALL"})
            for q in rec["quotes"]:
                n += 1
                paper.on_command({"event_time": rec["event_time"], "instance_id": INSTANCE, "market": MARKET, "action": "PLACE",
                                  "client_order_id": f"c{n}", "side": q["side"], "price": q["price"], "size": q["size"], "post_only": True})
        else:
            paper.on_market_event(kind, rec)  # type: ignore[arg-type]


def _median_seconds(fn: Callable[[list[tuple[str, dict[str, Any]]]], None], events: list[tuple[str, dict[str, Any]]], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()  # the benchmark, not a core, reads the clock
        fn(events)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    events = _events(args.events)
    base = _median_seconds(_baseline, events, args.runs)
    print(f"events={args.events} runs={args.runs} (median of runs)")
    print(f"{'case':<34}{'median s':>10}{'events/s':>12}{'us/event':>10}{'x baseline':>12}")
    for name, fn in [("baseline (time + dispatch)", _baseline), ("paper exchange alone", _paper_only),
                     ("gate + paper + guard", _pipeline)]:
        sec = base if fn is _baseline else _median_seconds(fn, events, args.runs)
        print(f"{name:<34}{sec:>10.4f}{args.events / sec:>12.0f}{sec / args.events * 1e6:>10.2f}{sec / base:>12.1f}")


if __name__ == "__main__":
    main()
