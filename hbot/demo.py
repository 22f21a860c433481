"""``hbot demo``: the desk on the embedded broker and embedded ClickHouse, end to end.

Today: start the embedded broker, ensure topics, run a worker with the ClickHouse sink in a child
process, publish a deterministic market, wait until the sink has committed every record, stop the
worker (chDB on disk is single-process), then read per-topic counts back from ClickHouse.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hbot.settings import HbotSettings


def seeded_market(seed: int, n_events: int, market: str = "synthetic:BTC/USDT:USDT",
                  start_us: int = 1_767_225_600_000_000) -> Iterator[tuple[str, dict[str, Any]]]:
    """A small deterministic market (random-walk book, trades, 1m candles, funding) for the demo."""
    import random

    from processors.ids import make_id

    rng = random.Random(seed)
    mid = 90_000.0
    t = start_us
    candle: dict[str, Any] | None = None
    for i in range(n_events):
        t += 250_000
        mid *= 1.0 + rng.gauss(0.0, 0.0002)
        half = mid * 0.5e-4
        if i % 3 == 0:
            trade_price = round(mid + (half if rng.random() < 0.5 else -half), 1)
            side = "BUY" if trade_price > mid else "SELL"
            yield "hb.market.trade.v1", {"event_id": make_id("trade", market, seed, i), "event_time": t, "market": market,
                                         "trade_id": f"{seed}-{i}", "price": trade_price, "size": round(rng.expovariate(20.0), 4),
                                         "aggressor_side": side, "sequence": i, "source": "synthetic", "informed": None}
            minute = t // 60_000_000 * 60_000_000
            if candle is not None and candle["open_time"] != minute:
                yield "hb.market.candle.v1", candle
                candle = None
            if candle is None:
                candle = {"event_id": make_id("candle", market, minute), "event_time": minute + 60_000_000, "market": market,
                          "interval": "1m", "open_time": minute, "open": trade_price, "high": trade_price, "low": trade_price,
                          "close": trade_price, "volume": 0.0, "trade_count": 0, "source": "synthetic"}
            candle.update(high=max(candle["high"], trade_price), low=min(candle["low"], trade_price), close=trade_price,
                          volume=candle["volume"] + 1.0, trade_count=candle["trade_count"] + 1)
        elif i % 500 == 1:
            yield "hb.market.funding.v1", {"event_id": make_id("funding", market, seed, i), "event_time": t, "market": market,
                                           "funding_rate": round(rng.gauss(0.0001, 0.00005), 6),
                                           "next_funding_time": (t // 28_800_000_000 + 1) * 28_800_000_000,
                                           "mark_price": mid, "is_settlement": False, "source": "synthetic"}
        else:
            bids = [{"price": round(mid - half - k * 0.1 * (1 + k), 1), "size": round(0.5 + rng.random(), 3)} for k in range(10)]
            asks = [{"price": round(mid + half + k * 0.1 * (1 + k), 1), "size": round(0.5 + rng.random(), 3)} for k in range(10)]
            yield "hb.market.book.v1", {"event_id": make_id("book", market, seed, i), "event_time": t, "market": market,
                                        "sequence": i, "bids": bids, "asks": asks, "mid": (bids[0]["price"] + asks[0]["price"]) / 2,
                                        "spread_bps": (asks[0]["price"] - bids[0]["price"]) / mid * 1e4,
                                        "source": "synthetic", "sim_regime": None}


def run_demo(settings: HbotSettings, seed: int, n_events: int, fresh: bool, console: Console) -> dict[str, int]:
    """Run the demo and print per-topic counts from ClickHouse; returns them."""
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.writer import SINK_GROUP
    from streams.admin import committed_total, ensure_topics
    from streams.broker import EmbeddedBroker, free_port
    from streams.catalog import CATALOG
    from streams.producer import EventProducer
    from streams.serde import serde_from_settings

    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    if fresh and settings.clickhouse_dsn is None and settings.clickhouse_dir.exists():
        shutil.rmtree(settings.clickhouse_dir)  # the demo's embedded data starts from nothing
    broker = None
    if settings.kafka_bootstrap is None:
        console.print("starting the embedded Tansu broker (in memory) ...")
        broker = EmbeddedBroker(free_port(), log_file=home / "logs" / "broker.log").start()
        bootstrap = broker.bootstrap
    else:
        bootstrap = settings.kafka_bootstrap
    conf = {**settings.kafka_client_config(), "bootstrap.servers": bootstrap, "log.connection.close": False}
    worker = None
    try:
        ensure_topics(conf)
        env = {**os.environ, "HBOT_KAFKA_BOOTSTRAP": bootstrap, "HBOT_HOME": str(home), "HBOT_WEB_PORT": str(free_port())}
        log_path = home / "logs" / "demo-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"starting a worker with the ClickHouse sink (log: {log_path}) ...")
        worker = subprocess.Popen([sys.executable, "-m", "hbot.cli", "worker", "--role", "sink"], env=env,
                                  stdout=open(log_path, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        producer = EventProducer(conf, serde_from_settings(settings.schema_registry_url))
        produced: Counter[str] = Counter()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("publishing market events", total=n_events)
            for i, (topic_name, rec) in enumerate(seeded_market(seed, n_events)):
                producer.send(topic_name, rec)
                produced[topic_name] += 1
                if i % 500 == 0:
                    progress.update(task, completed=min(i, n_events))
            producer.flush()
            progress.update(task, completed=n_events)
            total = sum(produced.values())
            task2 = progress.add_task("sink: waiting for the consumer group join, then writing", total=total)
            deadline = time.monotonic() + 120
            while True:
                done = committed_total(conf, SINK_GROUP, list(produced))
                progress.update(task2, completed=done)
                if done >= total:
                    break
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with code {worker.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sink did not catch up within 120 s ({done}/{total}); see {log_path}")
                time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        worker = None
        client = connect(settings.effective_clickhouse_dsn)
        counts: dict[str, int] = {}
        table = Table(title=f"hbot demo (seed {seed}): events per topic, published vs in ClickHouse")
        for col in ("topic", "published", "in ClickHouse"):
            table.add_column(col, justify="left" if col == "topic" else "right")
        for name, spec in CATALOG.items():
            n = int(client.query(f"SELECT count() FROM {spec.table} FINAL").result_rows[0][0])
            counts[name] = n
            if n or produced[name]:
                table.add_row(name, f"{produced[name]:,}", f"{n:,}")
        console.print(table)
        ok = all(counts[t] == produced[t] for t in produced)
        console.print("[bold green]every published event is in ClickHouse[/]" if ok else "[bold red]counts differ: see the worker log[/]")
        return counts
    finally:
        if worker is not None:
            worker.kill()
        if broker is not None:
            broker.stop()
