"""The paper exchange: a deterministic matching model driven by market events and order commands.

Model (event time throughout; plain floats for speed):

* **Latency.** A PLACE received at ``t`` reaches the book at ``t + order_latency``; a CANCEL takes
  effect at ``t + cancel_latency`` and the order can still fill until then. Pending activations
  and cancels are processed, in time order, before each new input.
* **Post-only.** At arrival a post-only order that would cross the best opposite price is
  REJECTED (``post_only_would_cross``). It otherwise rests at its price.
* **Queue.** On arrival the queue ahead of the order is the size the book shows at its price on
  its side (0 if it is a new level), and at least the queue of our own earlier orders at that
  price. A public trade at our price first consumes the queue ahead, then fills us. With
  ``queue_shrinks_with_level`` a book showing less size at our level than our queue ahead moves
  us up (others cancelled).
* **Trade-through.** A SELL-aggressor trade below our bid (BUY-aggressor above our ask) fills us at
  our price, up to the trade's size.
* **One liquidity, one fill.** A trade's size is consumed once across our orders, in price-time
  priority (best price first, then arrival order), queue ahead included.
* **Taker.** A non-post-only order crossing at arrival (or a market order, price None) walks the
  opposite levels of the last book, at ``taker_slippage_bps`` worse than each level, taker fee.
* **Fees.** ``price * size * bps / 1e4``: maker 2 bp, taker 6 bp by default (spec ROAD-2).
* **Funding** (perps): at a settlement record, ``payment = position * mid * rate``; a long pays
  when the rate is positive. Returned as a ledger entry and taken from the balance.
* **Ids.** Fill ``trade_id`` = ``event_id`` = ``make_id("pfill", instance, market, client order id,
  market trade id)``: a fill replayed after a restart has the same id. A PLACE whose client order
  id is open or recently closed is ignored; a market trade id seen before is ignored.

Account: ``balance_quote`` moves by price * size (+/- fee) on every fill; equity is
``balance_quote + position_base * mid``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from processors.clock import to_micros
from processors.execution.paper.config import PaperExchangeConfig
from processors.execution.paper.order import PaperOrder
from processors.execution.paper.records import fill_record, order_update_record
from processors.execution.venue import MarketEventKind, VenueEvents, dispatch_command
from processors.ids import make_id
from processors.risk.recent_ids import RecentIds

BUY, SELL = "BUY", "SELL"
_REL_EPS = 1e-9  # relative tolerance on sizes and prices


def _same_price(a: float, b: float) -> bool:
    return abs(a - b) <= _REL_EPS * max(abs(a), abs(b))


class PaperExchange:
    """Paper venue of one instance on one market; satisfies ``processors.execution.venue.ExecutionVenue``."""

    is_paper = True

    def __init__(self, config: PaperExchangeConfig, instance_id: str, market: str) -> None:
        self.config = config
        self.instance_id = instance_id
        self.market = market
        self.position_base = float(config.initial_position_base)
        self.balance_quote = float(config.initial_balance_quote)
        self.fees_quote = 0.0
        self.funding_quote = 0.0
        self._orders: dict[str, PaperOrder] = {}
        self._done = RecentIds(config.done_order_window)
        self._trades_seen = RecentIds(config.trade_dedup_window)
        self._bids: list[list[float]] = []
        self._asks: list[list[float]] = []
        self._mid: float | None = None
        self._book_seq: int | None = None
        self._now: int | None = None
        self._seq = 0
        self._last_funding_time: int | None = None
        self._next_due: int | None = None

    # ------------------------------------------------------------------ views
    @property
    def mid(self) -> float | None:
        """Mid of the last book, None before the first."""
        return self._mid

    def equity(self, mid: float | None = None) -> float:
        """Balance plus position at ``mid`` (default: the last book mid)."""
        m = mid if mid is not None else (self._mid or 0.0)
        return self.balance_quote + self.position_base * m

    def open_orders(self) -> list[dict[str, Any]]:
        """Orders not closed yet (including those still travelling to the book or being cancelled)."""
        return [
            {
                "client_order_id": o.client_order_id,
                "exchange_order_id": o.exchange_order_id,
                "side": o.side,
                "price": o.price,
                "size": o.size,
                "filled_size": o.filled,
                "active": o.active,
                "queue_ahead": o.queue_ahead,
                "cancel_pending": o.cancel_time is not None,
            }
            for o in sorted(self._orders.values(), key=lambda o: o.seq)
        ]

    # ------------------------------------------------------------------ commands
    def on_command(self, command: Mapping[str, Any]) -> VenueEvents:
        """Dispatch a ``schemas/order.avsc`` command of this instance and market."""
        return dispatch_command(self, command)

    def place(self, command: Mapping[str, Any]) -> VenueEvents:
        """Accept a PLACE; it reaches the book after the order latency. Idempotent on client_order_id."""
        ev = VenueEvents()
        t = self._receive(command["event_time"], ev)
        cid = command.get("client_order_id")
        if not cid:
            ev.notes.append("place_without_client_order_id")
            return ev
        cid = str(cid)
        if cid in self._orders or cid in self._done:
            ev.notes.append("duplicate_place")
            return ev
        side, price, size = command.get("side"), command.get("price"), command.get("size")
        post_only = bool(command.get("post_only", True))
        self._seq += 1
        mid_at_order = self._mid if self._mid is not None else command.get("mid_at_decision")
        o = PaperOrder(
            client_order_id=cid,
            exchange_order_id=make_id("poid", self.instance_id, self.market, cid),
            side=str(side),
            price=None if price is None else float(price),
            size=0.0 if size is None else float(size),
            post_only=post_only,
            reduce_only=bool(command.get("reduce_only", False)),
            order_time=to_micros(command["event_time"]),
            active_time=t + self.config.order_latency_us,
            seq=self._seq,
            mid_at_order=None if mid_at_order is None else float(mid_at_order),
        )
        valid = (
            side in (BUY, SELL)
            and o.size > 0.0
            and math.isfinite(o.size)
            and (o.price is None or (o.price > 0.0 and math.isfinite(o.price)))
            and not (o.price is None and post_only)
        )
        if not valid:
            self._done.add(cid)
            ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "REJECTED", t, "invalid_order"))
            return ev
        self._orders[cid] = o
        self._schedule(o.active_time)
        self._run_due(t, ev)
        return ev

    def cancel(self, command: Mapping[str, Any]) -> VenueEvents:
        """Cancel one order; effective after the cancel latency (fills may still happen before)."""
        ev = VenueEvents()
        t = self._receive(command["event_time"], ev)
        o = self._orders.get(str(command.get("client_order_id")))
        if o is None:
            ev.notes.append("cancel_unknown_order")
            return ev
        if o.cancel_time is not None:
            ev.notes.append("cancel_already_pending")
            return ev
        self._request_cancel(o, t, str(command.get("reason") or "cancelled"))
        self._run_due(t, ev)
        return ev

    def cancel_all(self, command: Mapping[str, Any]) -> VenueEvents:
        """Cancel every order of this instance on this market (each after the cancel latency)."""
        ev = VenueEvents()
        t = self._receive(command["event_time"], ev)
        reason = str(command.get("reason") or "cancel_all")
        for o in sorted(self._orders.values(), key=lambda o: o.seq):
            if o.cancel_time is None:
                self._request_cancel(o, t, reason)
        self._run_due(t, ev)
        return ev

    # ------------------------------------------------------------------ market events
    def on_market_event(self, kind: MarketEventKind, record: Mapping[str, Any]) -> VenueEvents:
        """Dispatch a market ``book`` / ``trade`` / ``funding`` record."""
        if kind == "book":
            return self.on_book(record)
        if kind == "trade":
            return self.on_trade(record)
        if kind == "funding":
            return self.on_funding(record)
        return VenueEvents(notes=[f"unknown_market_event:{kind}"])

    @property
    def next_due(self) -> int | None:
        """Event time (us) of the next pending activation or cancel, None when nothing waits."""
        return self._next_due

    def on_time(self, event_time: Any) -> VenueEvents:
        """Event time advanced with no market event: process due activations and cancels."""
        ev = VenueEvents()
        self._receive(event_time, ev)
        return ev

    def on_book(self, book: Mapping[str, Any]) -> VenueEvents:
        """A ``schemas/market_book.avsc`` record: the book used for post-only checks, queues and taker fills."""
        ev = VenueEvents()
        if book.get("market") != self.market:
            ev.notes.append("book_for_other_market")
            return ev
        self._receive(book["event_time"], ev)
        seq = int(book.get("sequence", 0))
        if self._book_seq is not None and seq <= self._book_seq:
            ev.notes.append("stale_book")
            return ev
        self._book_seq = seq
        self._bids = [[float(lv["price"]), float(lv["size"])] for lv in book["bids"]]
        self._asks = [[float(lv["price"]), float(lv["size"])] for lv in book["asks"]]
        self._mid = float(book["mid"])
        if self.config.queue_shrinks_with_level:
            for o in self._orders.values():
                if o.active and o.price is not None and o.queue_ahead > 0.0:
                    shown = self._level_size(o.side, o.price)
                    if shown is not None:
                        o.queue_ahead = min(o.queue_ahead, shown)
                    elif self._inside_best(o.side, o.price):
                        o.queue_ahead = 0.0
        return ev

    def on_trade(self, trade: Mapping[str, Any]) -> VenueEvents:
        """A ``schemas/market_trade.avsc`` record: may fill our resting orders (see the module doc)."""
        ev = VenueEvents()
        if trade.get("market") != self.market:
            ev.notes.append("trade_for_other_market")
            return ev
        t = self._receive(trade["event_time"], ev)
        tid = str(trade["trade_id"])
        if not self._trades_seen.add(tid):
            ev.notes.append("duplicate_trade")
            return ev
        price, avail = float(trade["price"]), float(trade["size"])
        ours = BUY if trade["aggressor_side"] == SELL else SELL
        tol = _REL_EPS * price
        if ours == BUY:
            cands = [o for o in self._orders.values() if o.active and o.side == BUY and o.price is not None and o.price >= price - tol]
            cands.sort(key=lambda o: (-o.price, o.seq))  # type: ignore[operator]
        else:
            cands = [o for o in self._orders.values() if o.active and o.side == SELL and o.price is not None and o.price <= price + tol]
            cands.sort(key=lambda o: (o.price, o.seq))
        ext_eaten = 0.0  # others' liquidity at the trade price consumed by this trade so far
        for o in cands:
            assert o.price is not None
            if _same_price(o.price, price):
                eat = min(max(o.queue_ahead - ext_eaten, 0.0), avail)
                ext_eaten += eat
                avail -= eat
                # Everything eaten so far at this price was ahead of this order (FIFO).
                o.queue_ahead = max(0.0, o.queue_ahead - ext_eaten)
            else:
                o.queue_ahead = 0.0  # traded through: our level was cleared
            if avail <= _REL_EPS * float(trade["size"]):
                continue
            q = min(o.remaining, avail, self._reduce_cap(o))
            if q <= 0.0:
                continue
            avail -= q
            self._fill(o, q, o.price, "MAKER", t, f"trade:{tid}", ev)
        return ev

    def on_funding(self, funding: Mapping[str, Any]) -> VenueEvents:
        """A ``schemas/market_funding.avsc`` record; at a settlement on a perp, pay or receive funding."""
        ev = VenueEvents()
        if funding.get("market") != self.market:
            ev.notes.append("funding_for_other_market")
            return ev
        t = self._receive(funding["event_time"], ev)
        if not self.config.is_perp or not funding.get("is_settlement", False):
            return ev
        # Dedupe on the settlement's own time (not the receive time): a late replay is still a repeat.
        settled_at = to_micros(funding["event_time"])
        if self._last_funding_time is not None and settled_at <= self._last_funding_time:
            ev.notes.append("duplicate_funding_settlement")
            return ev
        mark = self._mid if self._mid is not None else funding.get("mark_price")
        if mark is None:
            ev.notes.append("funding_without_mark")
            return ev
        self._last_funding_time = settled_at
        rate = float(funding["funding_rate"])
        payment = self.position_base * float(mark) * rate  # > 0: we pay (long with a positive rate)
        self.balance_quote -= payment
        self.funding_quote -= payment
        ev.ledger.append(
            {
                "kind": "funding",
                "event_id": make_id("pfunding", self.instance_id, self.market, funding["event_id"]),
                "event_time": t,
                "instance_id": self.instance_id,
                "market": self.market,
                "funding_rate": rate,
                "mark_price": float(mark),
                "position_base": self.position_base,
                "amount_quote": -payment if payment else 0.0,  # no -0.0 in records
                "balance_quote": self.balance_quote,
            }
        )
        return ev

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """JSON-able state; ``PaperExchange.restore`` continues exactly from it."""
        return {
            "config_id": self.config.config_id,
            "position_base": self.position_base,
            "balance_quote": self.balance_quote,
            "fees_quote": self.fees_quote,
            "funding_quote": self.funding_quote,
            "orders": [o.to_dict() for o in sorted(self._orders.values(), key=lambda o: o.seq)],
            "done": self._done.to_list(),
            "trades_seen": self._trades_seen.to_list(),
            "bids": [list(lv) for lv in self._bids],
            "asks": [list(lv) for lv in self._asks],
            "mid": self._mid,
            "book_seq": self._book_seq,
            "now": self._now,
            "seq": self._seq,
            "last_funding_time": self._last_funding_time,
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], config: PaperExchangeConfig, instance_id: str, market: str) -> "PaperExchange":
        """A paper exchange in the state ``snapshot()`` returned."""
        x = cls(config, instance_id, market)
        x.position_base = float(snap["position_base"])
        x.balance_quote = float(snap["balance_quote"])
        x.fees_quote = float(snap["fees_quote"])
        x.funding_quote = float(snap["funding_quote"])
        for d in snap["orders"]:
            o = PaperOrder.from_dict(d)
            x._orders[o.client_order_id] = o
        x._done = RecentIds(config.done_order_window, snap["done"])
        x._trades_seen = RecentIds(config.trade_dedup_window, snap["trades_seen"])
        x._bids = [list(map(float, lv)) for lv in snap["bids"]]
        x._asks = [list(map(float, lv)) for lv in snap["asks"]]
        x._mid = snap["mid"]
        x._book_seq = snap["book_seq"]
        x._now = snap["now"]
        x._seq = int(snap["seq"])
        x._last_funding_time = snap["last_funding_time"]
        x._recompute_next_due()
        return x

    # ------------------------------------------------------------------ internals
    def _receive(self, event_time: Any, ev: VenueEvents) -> int:
        """Move event time forward to ``event_time`` (never back), processing what fell due."""
        t = to_micros(event_time)
        if self._now is None or t > self._now:
            self._now = t
        self._run_due(self._now, ev)
        return self._now

    def _schedule(self, when: int) -> None:
        if self._next_due is None or when < self._next_due:
            self._next_due = when

    def _recompute_next_due(self) -> None:
        due = [o.active_time for o in self._orders.values() if not o.active]
        due += [o.cancel_time for o in self._orders.values() if o.cancel_time is not None]
        self._next_due = min(due) if due else None

    def _run_due(self, t: int, ev: VenueEvents) -> None:
        if self._next_due is None or self._next_due > t:
            return
        due: list[tuple[int, int, int, str]] = []
        for o in self._orders.values():
            if not o.active and o.active_time <= t:
                due.append((o.active_time, 0, o.seq, o.client_order_id))
            if o.cancel_time is not None and o.cancel_time <= t:
                due.append((o.cancel_time, 1, o.seq, o.client_order_id))
        due.sort()  # time order; at equal times an arrival comes before a cancel
        for when, kind, _, cid in due:
            o = self._orders.get(cid)
            if o is None:
                continue
            if kind == 0:
                if not o.active:
                    self._activate(o, when, ev)
            else:
                self._close(o, when, "CANCELLED", o.cancel_reason, ev)
        self._recompute_next_due()

    def _request_cancel(self, o: PaperOrder, t: int, reason: str) -> None:
        o.cancel_time = t + self.config.cancel_latency_us
        o.cancel_reason = reason
        self._schedule(o.cancel_time)

    def _activate(self, o: PaperOrder, t: int, ev: VenueEvents) -> None:
        o.active = True
        crosses = o.price is None or self._crosses(o.side, o.price)
        if o.post_only and crosses:
            self._close(o, t, "REJECTED", "post_only_would_cross", ev)
            return
        if o.reduce_only and self._reduce_cap(o) <= 0.0:
            self._close(o, t, "REJECTED", "reduce_only_would_increase", ev)
            return
        ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "ACK", t))
        if crosses:
            self._take(o, t, ev)
            if o.client_order_id not in self._orders:
                return
            if o.price is None:
                self._close(o, t, "CANCELLED", "market_order_unfilled_remainder", ev)
                return
        assert o.price is not None
        queue = self._level_size(o.side, o.price) or 0.0
        for other in self._orders.values():
            # Our own earlier orders at this price keep their place ahead of this one.
            if other is not o and other.active and other.side == o.side and other.price is not None and _same_price(other.price, o.price):
                queue = max(queue, other.queue_ahead)
        o.queue_ahead = queue

    def _take(self, o: PaperOrder, t: int, ev: VenueEvents) -> None:
        levels = self._asks if o.side == BUY else self._bids
        slip = self.config.taker_slippage_bps / 1e4
        for lv in levels:
            if o.client_order_id not in self._orders or o.remaining <= _REL_EPS * o.size:
                return
            lp, ls = lv
            if o.price is not None and (lp > o.price * (1 + _REL_EPS) if o.side == BUY else lp < o.price * (1 - _REL_EPS)):
                return
            q = min(o.remaining, ls, self._reduce_cap(o))
            if q <= 0.0:
                continue
            lv[1] = ls - q  # this liquidity is gone until the next book
            px = lp * (1.0 + slip) if o.side == BUY else lp * (1.0 - slip)
            self._fill(o, q, px, "TAKER", t, f"taker:{o.fills}", ev)

    def _fill(self, o: PaperOrder, q: float, px: float, liquidity: str, t: int, trade_key: str, ev: VenueEvents) -> None:
        notional = px * q
        fee = notional * (self.config.maker_fee_bps if liquidity == "MAKER" else self.config.taker_fee_bps) / 1e4
        if o.side == BUY:
            self.position_base += q
            self.balance_quote -= notional + fee
        else:
            self.position_base -= q
            self.balance_quote += notional - fee
        self.fees_quote += fee
        o.filled += q
        o.fills += 1
        if o.remaining <= _REL_EPS * o.size:
            o.filled = o.size
        mid = self._mid if self._mid is not None else px
        ev.fills.append(
            fill_record(self.instance_id, self.market, o, trade_key, t, px, q, fee, liquidity, mid, self.config.fee_asset)
        )
        if o.filled >= o.size:
            self._close(o, t, "FILLED", "", ev)
            return
        ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "PARTIALLY_FILLED", t))
        if o.reduce_only and self._reduce_cap(o) <= 0.0:
            self._close(o, t, "CANCELLED", "reduce_only_position_closed", ev)

    def _close(self, o: PaperOrder, t: int, status: str, reason: str, ev: VenueEvents) -> None:
        self._orders.pop(o.client_order_id, None)
        self._done.add(o.client_order_id)
        ev.order_updates.append(order_update_record(self.instance_id, self.market, o, status, t, reason))

    def _reduce_cap(self, o: PaperOrder) -> float:
        if not o.reduce_only:
            return math.inf
        return max(0.0, -self.position_base) if o.side == BUY else max(0.0, self.position_base)

    def _crosses(self, side: str, price: float) -> bool:
        # Levels emptied by our own taker fills (size 0) no longer count until the next book.
        if side == BUY:
            best = next((lp for lp, ls in self._asks if ls > 0.0), None)
            return best is not None and price >= best * (1 - _REL_EPS)
        best = next((lp for lp, ls in self._bids if ls > 0.0), None)
        return best is not None and price <= best * (1 + _REL_EPS)

    def _level_size(self, side: str, price: float) -> float | None:
        tol = _REL_EPS * price  # hot path: one tolerance per scan instead of _same_price per level
        for lp, ls in self._bids if side == BUY else self._asks:
            if -tol <= lp - price <= tol:
                return ls
        return None

    def _inside_best(self, side: str, price: float) -> bool:
        levels = self._bids if side == BUY else self._asks
        if not levels:
            return True
        return price > levels[0][0] if side == BUY else price < levels[0][0]
