"""Benchmark: synthetic market throughput in-process (book + trade events per second).

Figures, each the median of ``--runs`` runs (interleaved, so machine noise hits all alike):

* ``stream``: ``SyntheticMarket.iter_span`` consumed record by record (how a producer uses it);
* ``list``: ``SyntheticMarket.generate`` returning the whole span as one list;
* ``numpy-only``: the same simulation without building any record (regimes, latent path, ladder,
  trades, candles), i.e. the vectorised part alone;
* baseline ``dicts``: building the same number of book and trade dicts of the same shape from
  ready-made Python values, with no simulation, ids or ordering: the floor of pure-Python record
  building on this machine. ``stream / dicts`` says how close the generator gets to that floor.

Target (issue 3): >= 200k book+trade events/s in-process on one core. Publishing to the broker is
benchmarked in ``bench_synthetic_publish.py``. Run: ``/work/venv/bin/python bench/bench_synthetic.py [--hours 2] [--runs 7]``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np

from _harness import Timer
from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig, span_us
from processors.market_data.synthetic.book import BookLadder
from processors.market_data.synthetic.candles import CandleBuilder
from processors.market_data.synthetic.latent import LatentPath
from processors.market_data.synthetic.regimes import RegimeChain
from processors.market_data.synthetic.trades import TradeFlow
from processors.market_data.topics import BOOK_TOPIC, TRADE_TOPIC

TARGET_EVENTS_PER_S = 200_000


Sample = tuple[float, float, int]  # wall s, cpu s, book+trade events


def run_stream(cfg: SyntheticMarketConfig, span: int) -> Sample:
    """Time to stream ``span`` of events record by record, and the number of book+trade events."""
    market = SyntheticMarket(cfg)
    counts = {BOOK_TOPIC: 0, TRADE_TOPIC: 0}
    with Timer() as t:
        for topic, _record in market.iter_span(span):
            if topic in counts:
                counts[topic] += 1
    return t.wall, t.cpu, counts[BOOK_TOPIC] + counts[TRADE_TOPIC]


def run_list(cfg: SyntheticMarketConfig, span: int) -> Sample:
    """Time to materialise ``span`` of events as one list, and the number of book+trade events."""
    market = SyntheticMarket(cfg)
    with Timer() as t:
        events = market.generate(market.start_us + span)
    return t.wall, t.cpu, sum(1 for topic, _ in events if topic in (BOOK_TOPIC, TRADE_TOPIC))


def run_numpy_only(cfg: SyntheticMarketConfig, span: int) -> Sample:
    """Time to simulate ``span`` without building records, and the book+trade events simulated."""
    rngs = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(cfg.seed).spawn(5)]
    block_us = cfg.block_seconds * 1_000_000
    n_events, simulated = 0, 0
    with Timer() as t:
        latent = LatentPath(cfg, RegimeChain(cfg, rngs[0]), rngs[1])
        ladder, flow = BookLadder(cfg, rngs[2]), TradeFlow(cfg, rngs[3])
        candles = CandleBuilder(cfg.start_us, cfg.initial_price)
        ahead = latent.next_block()
        while simulated < span:
            cur, ahead = ahead, latent.next_block()
            book = ladder.build(cur)
            trades = flow.simulate(cur, book, ahead)
            candles.update(trades.times_us, trades.price, trades.size, cur.start_us + block_us)
            n_events += cur.times_us.size + trades.times_us.size
            simulated += block_us
    return t.wall, t.cpu, n_events


def run_dict_baseline(n_books: int, n_trades: int, levels: int) -> Sample:
    """Time to build ``n_books`` book-shaped and ``n_trades`` trade-shaped dicts from ready values."""
    px = [65_000.0 + 0.1 * i for i in range(levels)]
    sz = [0.5 + 0.001 * i for i in range(levels)]
    count = 0
    with Timer() as t:
        for i in range(n_books):
            record = {
                "event_id": "book-0", "event_time": i, "market": "m", "sequence": i,
                "bids": [{"price": p, "size": s} for p, s in zip(px, sz)],
                "asks": [{"price": p, "size": s} for p, s in zip(px, sz)],
                "mid": 65_000.0, "spread_bps": 1.5, "source": "synthetic", "sim_regime": "up",
            }
            count += record is not None
        for i in range(n_trades):
            record = {
                "event_id": "trade-0", "event_time": i, "market": "m", "trade_id": "t", "price": 65_000.0,
                "size": 0.01, "aggressor_side": "BUY", "sequence": i, "source": "synthetic", "informed": False,
            }
            count += record is not None
    return t.wall, t.cpu, count


def _median_rate(samples: list[Sample], cpu: bool) -> float:
    return statistics.median(n / (c if cpu else w) for w, c, n in samples)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0, help="simulated hours per run")
    ap.add_argument("--runs", type=int, default=7, help="runs per figure (median reported), at least 5")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    runs = max(5, args.runs)
    cfg = SyntheticMarketConfig(seed=args.seed)
    span = span_us(hours=args.hours)

    # Warm-up (imports, numpy caches) outside the timed runs.
    run_stream(cfg, span_us(minutes=10))
    n_books = int(args.hours * 3600 * 1000 / cfg.book_interval_ms)
    _, _, n_book_trade = run_stream(cfg, span)
    n_trades = n_book_trade - n_books

    results: dict[str, list[Sample]] = {"stream": [], "list": [], "numpy-only": [], "dicts": []}
    jobs: dict[str, Callable[[], Sample]] = {
        "stream": lambda: run_stream(cfg, span),
        "list": lambda: run_list(cfg, span),
        "numpy-only": lambda: run_numpy_only(cfg, span),
        "dicts": lambda: run_dict_baseline(n_books, n_trades, cfg.book_levels),
    }
    for _ in range(runs):
        for name, job in jobs.items():
            results[name].append(job())

    wall = {name: _median_rate(samples, cpu=False) for name, samples in results.items()}
    cpu = {name: _median_rate(samples, cpu=True) for name, samples in results.items()}
    print(f"synthetic market, {args.hours:g} simulated h per run ({n_books} books + {n_trades} trades), "
          f"book interval {cfg.book_interval_ms} ms, {cfg.book_levels} levels, median of {runs} runs")
    print(f"  {'':<11} {'wall clock':>14} {'CPU time':>14}   (book+trade events/s)")
    for name in ("stream", "list", "numpy-only", "dicts"):
        print(f"  {name:<11} {wall[name]:>14,.0f} {cpu[name]:>14,.0f}")
    print(f"  ratio stream / dicts baseline  {wall['stream'] / wall['dicts']:>10.2f} {cpu['stream'] / cpu['dicts']:>14.2f}")
    print(f"  ratio stream / numpy-only      {wall['stream'] / wall['numpy-only']:>10.2f} {cpu['stream'] / cpu['numpy-only']:>14.2f}")
    per_day = n_book_trade / args.hours * 24
    print(f"  simulated days per second (stream, CPU) = {cpu['stream'] / per_day:.2f}")
    verdict = "meets" if cpu["stream"] >= TARGET_EVENTS_PER_S else "below"
    print(f"  target {TARGET_EVENTS_PER_S:,}/s in-process on one core (CPU time): {verdict}")


if __name__ == "__main__":
    main()
