"""Test helpers: run the synthetic market and turn its records into numpy columns for statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from processors.market_data.synthetic import REGIMES, SyntheticMarket, SyntheticMarketConfig
from processors.market_data.topics import BOOK_TOPIC, FUNDING_TOPIC, TRADE_TOPIC

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
HOUR_US = 3600 * US_PER_S


def fast_regimes(trade_rate_scale: float) -> dict[str, dict[str, float]]:
    """Per-regime overrides that only scale the trade rate (fewer events, same market otherwise)."""
    base = SyntheticMarketConfig().regimes
    return {name: {"trade_rate": base.get(name).trade_rate * trade_rate_scale} for name in REGIMES}


def run(config: SyntheticMarketConfig, duration_us: int) -> list[tuple[str, dict[str, Any]]]:
    """All events of ``duration_us`` from the config's start."""
    market = SyntheticMarket(config)
    return market.generate(market.start_us + duration_us)


@dataclass(frozen=True)
class Frames:
    """Columns of the book and trade records of one run."""

    book_time: np.ndarray
    mid: np.ndarray
    regime: np.ndarray  # index into REGIMES
    imbalance: np.ndarray  # top-5 (bid - ask) / (bid + ask) recomputed from the levels
    spread_bps: np.ndarray
    depth5: np.ndarray  # bid + ask size on the top 5 levels
    best_bid: np.ndarray
    best_ask: np.ndarray
    trade_time: np.ndarray
    trade_price: np.ndarray
    trade_buy: np.ndarray
    trade_informed: np.ndarray
    trade_size: np.ndarray
    funding_time: np.ndarray
    funding_rate: np.ndarray


def frames(config: SyntheticMarketConfig, duration_us: int, levels: int = 5) -> Frames:
    """Stream a run and keep only the columns the statistics need (records are not kept)."""
    bt, mid, reg, imb, spr, dep, bb, ba = [], [], [], [], [], [], [], []
    tt, tp, tb, ti, tz = [], [], [], [], []
    ft, fr = [], []
    index = {name: i for i, name in enumerate(REGIMES)}
    market = SyntheticMarket(config)
    for topic, r in market.iter_span(duration_us):
        if topic == BOOK_TOPIC:
            bids, asks = r["bids"], r["asks"]
            b = sum(lv["size"] for lv in bids[:levels])
            a = sum(lv["size"] for lv in asks[:levels])
            bt.append(r["event_time"])
            mid.append(r["mid"])
            reg.append(index[r["sim_regime"]])
            imb.append((b - a) / (b + a))
            spr.append(r["spread_bps"])
            dep.append(a + b)
            bb.append(bids[0]["price"])
            ba.append(asks[0]["price"])
        elif topic == TRADE_TOPIC:
            tt.append(r["event_time"])
            tp.append(r["price"])
            tb.append(r["aggressor_side"] == "BUY")
            ti.append(bool(r["informed"]))
            tz.append(r["size"])
        elif topic == FUNDING_TOPIC:
            ft.append(r["event_time"])
            fr.append(r["funding_rate"])
    arr = np.asarray
    return Frames(
        arr(bt), arr(mid), arr(reg), arr(imb), arr(spr), arr(dep), arr(bb), arr(ba),
        arr(tt), arr(tp), arr(tb, dtype=bool), arr(ti, dtype=bool), arr(tz), arr(ft), arr(fr),
    )


def prevailing_snapshot(f: Frames) -> np.ndarray:
    """Index of the book snapshot in force at each trade (last one at or before the trade)."""
    return np.searchsorted(f.book_time, f.trade_time, side="right") - 1
