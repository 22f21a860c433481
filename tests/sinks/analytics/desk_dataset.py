"""A plausible small desk history in the real ClickHouse engine, with the answers known in Python.

Two instances on two synthetic markets over two UTC days (the second instance trades only on the
first day). Every record is schema-valid (built from ``tests.samples.sample`` templates) and goes
through the sink's own row conversion. The market mid is a smooth deterministic path; fills are
maker fills a few bps from the mid; equity, realized PnL and fees come from a small position book
run over those fills, exactly as the strategy would report them. ``Dataset`` keeps every record so
tests can compute the expected figures independently of the report code.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from sinks.clickhouse.ddl import row_converter
from streams.catalog import topic_for_schema
from tests.samples import sample

BOOK_EVERY_S = 10
STATE_EVERY_S = 30
FILL_EVERY_S = 420  # one fill every 7 minutes
START_EQUITY = 10_000.0
FEE_RATE = 0.0002
REGIME_BY_HOUR = ["neutral_low_vol"] * 8 + ["up"] * 4 + ["neutral_high_vol"] * 4 + ["down"] * 4 + ["high_vol_shock"] * 4
MIN_EDGE = 0.0003  # min_edge_threshold of every state: a 3 bps cost floor


def us(t: datetime) -> int:
    """Microseconds since the epoch of a naive-UTC datetime."""
    return int(t.replace(tzinfo=timezone.utc).timestamp() * 1_000_000)


def at(us_: int) -> datetime:
    """Naive-UTC datetime of a microsecond timestamp."""
    return datetime.fromtimestamp(us_ / 1e6, tz=timezone.utc).replace(tzinfo=None)


def on_day(records: list[dict[str, Any]], day: date, instance: str | None = None) -> list[dict[str, Any]]:
    """The records of one UTC day (and instance)."""
    return [r for r in records if at(r["event_time"]).date() == day and (instance is None or r["instance_id"] == instance)]


def mid_at(market_index: int, t: datetime) -> float:
    """The market's mid at ``t``: smooth (a few tens of bps per hour), choppy in the shock hours.

    From 20:00 UTC (``high_vol_shock``) a +-20 bps, 4-minute oscillation is added, so maker fills
    there are often run over within 60 s: adverse selection concentrates in that regime and hours.
    """
    x = t.replace(tzinfo=timezone.utc).timestamp()
    base = 100.0 + 20.0 * market_index
    shock = 0.002 * math.sin(2 * math.pi * x / 240) if REGIME_BY_HOUR[t.hour] == "high_vol_shock" else 0.0
    return base * (1.0 + 0.004 * math.sin(2 * math.pi * x / 21_600 + market_index) + 0.0015 * math.sin(2 * math.pi * x / 2_221)
                   + shock)


@dataclass
class Dataset:
    """What was inserted, for computing the expected answers."""

    day1: date
    day2: date
    instances: dict[str, str]  # instance -> market
    states: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    books: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    guards: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    dlq: list[dict[str, Any]] = field(default_factory=list)


class _Book:
    def __init__(self) -> None:
        self.position = 0.0
        self.avg = 0.0
        self.cash = START_EQUITY
        self.realized = 0.0
        self.fees = 0.0

    def fill(self, side: str, price: float, size: float, fee: float) -> None:
        signed = size if side == "BUY" else -size
        pos = self.position
        if pos == 0 or (pos > 0) == (signed > 0):
            new = pos + signed
            self.avg = (abs(pos) * self.avg + size * price) / abs(new)
        else:
            closed = min(size, abs(pos))
            self.realized += closed * (price - self.avg) * (1 if pos > 0 else -1)
            new = pos + signed
            if abs(new) < 1e-12:
                new, self.avg = 0.0, 0.0
            elif (new > 0) != (pos > 0):
                self.avg = price
        self.position = new
        self.cash -= signed * price + fee
        self.fees += fee

    def equity(self, mid: float) -> float:
        return self.cash + self.position * mid


def insert_records(client: Any, schema: str, records: list[dict[str, Any]]) -> None:
    """Insert records of ``schema`` into its table through the sink's own row conversion."""
    if not records:
        return
    spec = topic_for_schema(schema)
    names, convert = row_converter(schema)
    # Not the real topic name: the session's sink tests share these tables, and the sink skips
    # offsets at or below max(_offset) of its (topic, partition) — fake offsets would hide real ones.
    rows = [(*convert(r), f"dataset:{spec.name}", 0, i) for i, r in enumerate(records)]
    for i in range(0, len(rows), 20_000):
        client.insert(spec.table, rows[i:i + 20_000], column_names=[*names, "_topic", "_partition", "_offset"])


def build_dataset(client: Any, unique: str, day1: date, seed: int = 7) -> Dataset:
    """Insert two days of books, states, fills, funding, guard, quotes and DLQ rows; return them."""
    rng = random.Random(seed)
    day2 = day1 + timedelta(days=1)
    ds = Dataset(day1=day1, day2=day2, instances={f"botA-{unique}": f"synthetic:A{unique}/USDT",
                                                   f"botB-{unique}": f"synthetic:B{unique}/USDT"})
    t_book, t_state, t_fill = sample("market_book", 1), sample("strategy_state", 1), sample("fill", 1)
    t_fund, t_guard, t_quote, t_dlq = sample("market_funding", 1), sample("guard", 1), sample("quote", 1), sample("dlq", 1)
    t0 = datetime.combine(day1, datetime.min.time())
    for k, (inst, market) in enumerate(ds.instances.items()):
        days = 2 if k == 0 else 1
        end = t0 + timedelta(days=days)
        # Books (plus one past the end so the last fills' 60 s horizon is observable).
        t = t0
        seq = 0
        while t <= end + timedelta(minutes=2):
            m = mid_at(k, t)
            half = m * 0.0001
            seq += 1
            ds.books.append({**t_book, "event_id": f"bk-{market}-{seq}", "event_time": us(t), "produce_time": us(t),
                             "market": market, "sequence": seq, "mid": m, "spread_bps": 2.0, "source": "test",
                             "bids": [{"price": m - half, "size": 1.0}], "asks": [{"price": m + half, "size": 1.0}],
                             "sim_regime": REGIME_BY_HOUR[t.hour]})
            t += timedelta(seconds=BOOK_EVERY_S)
        # Fills at 3 min 10 s past each 7-minute slot, alternating sides, 3-8 bps from the mid.
        book = _Book()
        fills_at: dict[datetime, dict[str, Any]] = {}
        t = t0 + timedelta(seconds=190)
        n = 0
        while t < end:
            m = mid_at(k, t)
            side = "BUY" if n % 2 == 0 else "SELL"
            dist = rng.uniform(3, 8) / 1e4
            price = m * (1 - dist) if side == "BUY" else m * (1 + dist)
            size = round(rng.uniform(0.5, 1.5), 3)
            fee = price * size * FEE_RATE
            order_t = t - timedelta(seconds=20)
            rec = {**t_fill, "event_id": f"fill-{inst}-{n}", "event_time": us(t), "produce_time": us(t), "instance_id": inst,
                   "market": market, "client_order_id": f"co-{inst}-{n}", "exchange_order_id": None, "trade_id": f"tr-{inst}-{n}",
                   "side": side, "price": price, "size": size, "fee_quote": fee, "fee_asset": "USDT", "liquidity": "MAKER",
                   "mid_at_fill": m, "mid_at_order": mid_at(k, order_t), "order_time": us(order_t),
                   "regime": REGIME_BY_HOUR[order_t.hour], "is_paper": True}
            ds.fills.append(rec)
            fills_at[t] = rec
            n += 1
            t += timedelta(seconds=FILL_EVERY_S)
        # States every 30 s, from a position book over the fills (realized and fees reset daily).
        t = t0
        pending = sorted(fills_at)
        seq = 0
        day = t.date()
        while t < end:
            while pending and pending[0] <= t:
                f = fills_at[pending.pop(0)]
                book.fill(f["side"], f["price"], f["size"], f["fee_quote"])
            if t.date() != day:
                day, book.realized, book.fees = t.date(), 0.0, 0.0
            m = mid_at(k, t)
            eq = book.equity(m)
            seq += 1
            ds.states.append({**t_state, "event_id": f"st-{inst}-{seq}", "event_time": us(t), "produce_time": us(t),
                              "instance_id": inst, "market": market, "config_id": "cfg", "decision_seq": seq,
                              "regime": REGIME_BY_HOUR[t.hour], "regime_source": "price_buffer", "mid": m,
                              "spread_min": 0.0004, "spread_max": 0.0009, "spread_multiplier": 1.0, "net_edge": 0.0005,
                              "min_edge_threshold": MIN_EDGE, "target_net_base_pct": 0.0,
                              "base_pct": book.position * m / eq, "funding_rate_bps": 1.0, "fill_edge_ewma_bps": 2.0,
                              "adverse_fill_active": False, "ob_imbalance": 0.0, "risk_reasons": [],
                              "order_book_stale": False, "position_base": book.position, "equity_quote": eq,
                              "realized_pnl_quote": book.realized,
                              "unrealized_pnl_quote": book.position * (m - book.avg) if book.position else 0.0,
                              "fees_paid_quote": book.fees, "guard_state": "RUNNING"})
            t += timedelta(seconds=STATE_EVERY_S)
        # Funding: hourly observations, settlements at 00, 08, 16 UTC (+1 bp: longs pay).
        for h in range(24 * days):
            ft = t0 + timedelta(hours=h, minutes=0, seconds=5)
            ds.funding.append({**t_fund, "event_id": f"fu-{market}-{h}", "event_time": us(ft), "produce_time": us(ft),
                               "market": market, "funding_rate": 0.0001, "next_funding_time": us(ft + timedelta(hours=8)),
                               "mark_price": mid_at(k, ft), "is_settlement": h % 8 == 0 and h > 0, "source": "test"})
        # Quotes each minute of the first hour (for the dashboards).
        for i in range(60):
            qt = t0 + timedelta(minutes=i, seconds=1)
            m = mid_at(k, qt)
            ds.quotes.append({**t_quote, "event_id": f"q-{inst}-{i}", "event_time": us(qt), "produce_time": us(qt),
                              "instance_id": inst, "market": market, "decision_seq": i, "regime": REGIME_BY_HOUR[0], "mid": m,
                              "quotes": [{"side": "BUY", "level": 0, "price": m * 0.9995, "size": 1.0},
                                         {"side": "SELL", "level": 0, "price": m * 1.0005, "size": 1.0}]})
    # The guard of instance A hard-stops for the daily loss on day 2 (and a soft pause on day 1).
    inst_a, market_a = next(iter(ds.instances.items()))
    for i, (when, prev, state, reason) in enumerate([
            (t0 + timedelta(hours=10), "RUNNING", "SOFT_PAUSE", "daily_loss_soft_limit"),
            (t0 + timedelta(days=1, hours=13), "RUNNING", "HARD_STOP", "daily_loss_hard_limit")]):
        ds.guards.append({**t_guard, "event_id": f"g-{inst_a}-{i}", "event_time": us(when), "produce_time": us(when),
                          "instance_id": inst_a, "market": market_a, "previous_state": prev, "state": state,
                          "reasons": [reason], "daily_pnl_pct": -0.031, "drawdown_pct": 0.01})
    # Dead letters are stamped with the wall clock when they are made (streams.app), not event time.
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for i in range(6):
        dt_ = now - timedelta(minutes=5 * i)
        ds.dlq.append({**t_dlq, "event_id": f"dlq-{unique}-{i}", "event_time": us(dt_), "produce_time": us(dt_),
                       "source_topic": "hb.market.book.v1", "reason": "bad magic byte" if i % 2 else "schema mismatch",
                       "error_type": "undecodable" if i % 2 else "wrong_schema", "processor": "strategy"})
    for schema, recs in (("market_book", ds.books), ("strategy_state", ds.states), ("fill", ds.fills),
                         ("market_funding", ds.funding), ("guard", ds.guards), ("quote", ds.quotes), ("dlq", ds.dlq)):
        insert_records(client, schema, recs)
    return ds


def unique_day(unique: str) -> date:
    """A day far from any other test's data (2031..2096: minute buckets are DateTime, which ends in 2106)."""
    return date(2031, 1, 1) + timedelta(days=(int(unique, 16) % 12_000) * 2)


@pytest.fixture(scope="module")
def desk(clickhouse: Any) -> Dataset:
    """Fixture: the dataset in the session's ClickHouse, once per test module, on its own days and names.

    Import it into a test module (``from tests.sinks.analytics.desk_dataset import desk``).
    """
    token = uuid.uuid4().hex[:10]
    return build_dataset(clickhouse, token, unique_day(token))
