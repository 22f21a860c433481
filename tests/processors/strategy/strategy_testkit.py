"""Builders for the strategy core tests: a small config and a ``Feed`` that makes well-formed events.

Records follow the Avro schemas (market_book, fill, signal, execution_intent, ...), with event times
as int microseconds, as the agent would pass them after ``to_micros``.
"""

from __future__ import annotations

from typing import Any

from processors.clock import US_PER_DAY, US_PER_S
from processors.strategy import Decision, EppV24Config, EppV24Core

MARKET = "test:BTC/USDT:USDT"
INSTANCE = "bot-test"
T0 = 1_718_000_040 * US_PER_S  # 2024-06-10 06:14:00 UTC, a minute boundary
NEXT_MIDNIGHT = (T0 // US_PER_DAY + 1) * US_PER_DAY


def make_config(**overrides: Any) -> EppV24Config:
    """Defaults of the spec, with short indicator periods so tests warm up quickly."""
    base: dict[str, Any] = {"ema_period": 5, "band_period": 3, "tick_size": 0.01, "lot_size": 0.000001}
    base.update(overrides)
    return EppV24Config(**base)


def book_record(
    seq: int,
    t_us: int,
    mid: float,
    *,
    half_spread: float = 0.01,
    bid_sizes: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0),
    ask_sizes: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0),
    level_step: float = 0.01,
    market: str = MARKET,
) -> dict[str, Any]:
    """A ``hb.market.book.v1`` record centred on ``mid``."""
    bids = [{"price": mid - half_spread - i * level_step, "size": s} for i, s in enumerate(bid_sizes)]
    asks = [{"price": mid + half_spread + i * level_step, "size": s} for i, s in enumerate(ask_sizes)]
    return {
        "event_id": f"book-{seq}",
        "event_time": t_us,
        "produce_time": t_us,
        "market": market,
        "sequence": seq,
        "bids": bids,
        "asks": asks,
        "mid": (bids[0]["price"] + asks[0]["price"]) / 2,
        "spread_bps": (asks[0]["price"] - bids[0]["price"]) / mid * 10_000,
        "source": "test",
        "sim_regime": None,
    }


class Feed:
    """Drives one core with a running event clock, book sequence and unique event ids."""

    def __init__(self, core: EppV24Core | None = None, *, t0: int = T0, mid: float = 100.0, **config: Any) -> None:
        self.core = core if core is not None else EppV24Core(make_config(**config), INSTANCE, MARKET)
        self.t = t0
        self.seq = 0
        self.n = 0
        self.mid = mid
        self.decisions: list[Decision] = []

    def _eid(self, kind: str) -> str:
        self.n += 1
        return f"{kind}-{self.n}"

    def _advance(self, dt: float) -> int:
        self.t += int(round(dt * US_PER_S))
        return self.t

    def _keep(self, d: Decision | None) -> Decision | None:
        if d is not None:
            self.decisions.append(d)
        return d

    def book(self, mid: float | None = None, dt: float = 1.0, **kw: Any) -> Decision | None:
        """Feed one book ``dt`` seconds after the previous event."""
        if mid is not None:
            self.mid = mid
        self.seq += 1
        rec = book_record(self.seq, self._advance(dt), self.mid, **kw)
        return self._keep(self.core.on_book(rec))

    def next_decision(self, mid: float | None = None, dt: float = 1.0, max_steps: int = 1000, **kw: Any) -> Decision:
        """Feed books every ``dt`` seconds until one yields a decision."""
        for _ in range(max_steps):
            d = self.book(mid, dt, **kw)
            if d is not None:
                return d
        raise AssertionError(f"no decision within {max_steps} books")

    def fill(
        self, side: str, price: float, size: float, *, fee: float = 0.0, mid_at_fill: float | None = None,
        dt: float = 0.0, event_id: str | None = None,
    ) -> Decision | None:
        """Feed one of our fills."""
        rec = {
            "event_id": event_id or self._eid("fill"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "instance_id": INSTANCE,
            "market": MARKET,
            "client_order_id": self._eid("coid"),
            "exchange_order_id": None,
            "trade_id": self._eid("trade"),
            "side": side,
            "price": price,
            "size": size,
            "fee_quote": fee,
            "fee_asset": "USDT",
            "liquidity": "MAKER",
            "mid_at_fill": self.mid if mid_at_fill is None else mid_at_fill,
            "mid_at_order": None,
            "order_time": None,
            "regime": None,
            "is_paper": True,
        }
        return self._keep(self.core.on_fill(rec))

    def intent(self, action: str, *, target_base_pct: float | None = None, regime: str | None = None,
               dt: float = 0.0) -> Decision | None:
        """Feed an execution intent for this instance."""
        rec = {
            "event_id": self._eid("intent"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "instance_id": INSTANCE,
            "market": MARKET,
            "producer": "test",
            "action": action,
            "target_base_pct": target_base_pct,
            "regime": regime,
            "reason": "",
            "metadata": {},
        }
        return self._keep(self.core.on_intent(rec))

    def signal(self, name: str, value: float, *, expires_at: int | None = None, dt: float = 0.0) -> Decision | None:
        """Feed a strategy signal for this instance."""
        rec = {
            "event_id": self._eid("signal"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "instance_id": INSTANCE,
            "market": MARKET,
            "producer": "test",
            "signal_name": name,
            "signal_value": value,
            "confidence": 1.0,
            "expires_at": expires_at,
            "metadata": {},
        }
        return self._keep(self.core.on_signal(rec))

    def funding(self, rate: float, dt: float = 0.0) -> Decision | None:
        """Feed a funding-rate observation."""
        rec = {
            "event_id": self._eid("funding"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "market": MARKET,
            "funding_rate": rate,
            "next_funding_time": self.t + 3600 * US_PER_S,
            "mark_price": None,
            "is_settlement": False,
            "source": "test",
        }
        return self._keep(self.core.on_funding(rec))

    def candle(self, open_time_us: int, o: float, h: float, low: float, c: float, *, interval: str = "1m",
               dt: float = 0.0) -> Decision | None:
        """Feed a candle."""
        rec = {
            "event_id": self._eid("candle"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "market": MARKET,
            "interval": interval,
            "open_time": open_time_us,
            "open": o,
            "high": h,
            "low": low,
            "close": c,
            "volume": 1.0,
            "trade_count": 1,
            "source": "test",
        }
        return self._keep(self.core.on_candle(rec))

    def trade(self, price: float, dt: float = 0.0) -> Decision | None:
        """Feed a public trade."""
        rec = {
            "event_id": self._eid("mtrade"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "market": MARKET,
            "trade_id": self._eid("tid"),
            "price": price,
            "size": 0.1,
            "aggressor_side": "BUY",
            "sequence": 0,
            "source": "test",
            "informed": None,
        }
        return self._keep(self.core.on_trade(rec))

    def guard(self, state: str, previous: str = "RUNNING", dt: float = 0.0) -> Decision | None:
        """Feed a guard transition for this instance."""
        rec = {
            "event_id": self._eid("guard"),
            "event_time": self._advance(dt),
            "produce_time": self.t,
            "instance_id": INSTANCE,
            "market": MARKET,
            "previous_state": previous,
            "state": state,
            "reasons": ["test"],
            "daily_pnl_pct": 0.0,
            "drawdown_pct": 0.0,
        }
        return self._keep(self.core.on_guard(rec))


def sides(decision: Decision) -> set[str]:
    """The sides quoted by a decision."""
    return {q["side"] for q in decision.quote["quotes"]}

