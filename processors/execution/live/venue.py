"""The live venue: order commands to an exchange through ccxt, answers as ``order_update`` / ``fill`` records.

Implements ``processors.execution.venue.ExecutionVenue`` like the paper exchange, so config picks
one or the other per instance. Behaviour:

* **PLACE** sends a limit order (market if the price is None) with the command's client order id
  as ccxt's ``clientOrderId`` and ``postOnly`` as asked (Bitget: ``force``/``timeInForce`` =
  ``post_only``). A client order id already sent (open, or recently closed) is never sent again.
  The exchange's answer becomes an ``ACK``, or a ``REJECTED`` carrying the exchange's message with
  every key value scrubbed.
* **Retries.** Transient errors (ccxt ``NetworkError``: 429 ``RateLimitExceeded`` /
  ``DDoSProtection``, 5xx ``ExchangeNotAvailable``, ``OnMaintenance``, ``RequestTimeout``) are
  retried with bounded exponential backoff through the injected ``sleep``. Everything else
  (``InvalidOrder``, ``InsufficientFunds``, ``AuthenticationError``, ...) is final at once.
  A PLACE whose attempts may have reached the exchange (a timeout, a 5xx) is never guessed: the
  order is looked up by client order id (now when the exchange answers with an unclassified error
  such as a duplicate id, else at the next :meth:`CcxtVenue.poll`) and acknowledged or rejected
  from what the exchange holds.
* **CANCEL** cancels by client order id; **CANCEL_ALL** cancels the symbol's orders (one request),
  or only this venue's with ``cancel_all_scope='own'``.
* :meth:`CcxtVenue.poll` reads the account's trades (fills, deduplicated by exchange trade id) and
  open orders, and turns what changed into records (partial fills, fills, cancels by the exchange).
* :meth:`CcxtVenue.scan_orphans` is the start-up orphan scan (go-live checklist item 4).

The venue is the boundary where wall-clock time enters (``now_us``, injected); record ids never
depend on it, so the same exchange facts always give the same ids.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import ccxt

from hbot.settings import ConfigError
from processors.clock import to_micros
from processors.execution.keys import ExchangeKey, install_redaction, redact
from processors.execution.live.config import LiveVenueConfig
from processors.execution.live.order import LiveOrder
from processors.execution.live.records import fill_record, order_update_record
from processors.execution.venue import MarketEventKind, VenueEvents, dispatch_command
from processors.risk.recent_ids import RecentIds

BUY, SELL = "BUY", "SELL"
_REL_EPS = 1e-9
# Errors that prove the request was not executed: retrying a PLACE after them cannot duplicate it.
_NOT_EXECUTED = (ccxt.RateLimitExceeded, ccxt.DDoSProtection, ccxt.OnMaintenance, ccxt.InvalidNonce)
# Final errors whose meaning is clear; any other ExchangeError after a PLACE (e.g. Bitget's
# duplicate-clientOid answer, which ccxt does not classify) is checked against the exchange.
_CLEAR_REJECTS = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.AuthenticationError, ccxt.PermissionDenied,
                  ccxt.BadRequest, ccxt.BadSymbol, ccxt.NotSupported, ccxt.AccountSuspended)

_log = logging.getLogger(__name__)


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class _Result:
    """Outcome of one exchange call after retries."""

    value: Any = None
    error: BaseException | None = None
    attempts: int = 0
    ambiguous: bool = False  # some failed attempt may have been executed by the exchange

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class OrphanReport:
    """What the start-up orphan scan found and did on one symbol."""

    instance_id: str
    market: str
    checked: int = 0
    kept: list[str] = field(default_factory=list)  # client order ids the desk holds
    cancelled: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the open orders could not be read at all

    @property
    def ok(self) -> bool:
        """True when every foreign order is gone."""
        return self.error is None and not self.failed

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the audit topic / a report file)."""
        return {
            "instance_id": self.instance_id,
            "market": self.market,
            "checked": self.checked,
            "kept": list(self.kept),
            "cancelled": [dict(c) for c in self.cancelled],
            "failed": [dict(f) for f in self.failed],
            "error": self.error,
            "ok": self.ok,
        }


class CcxtVenue:
    """Live venue of one instance on one market over a ccxt exchange object; satisfies ``ExecutionVenue``."""

    is_paper = False

    def __init__(
        self,
        exchange: Any,
        config: LiveVenueConfig,
        instance_id: str,
        market: str,
        *,
        key: ExchangeKey | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now_us: Callable[[], int] = _now_us,
        logger: logging.Logger | None = None,
    ) -> None:
        self.exchange = exchange
        self.config = config
        self.instance_id = instance_id
        self.market = market
        self.symbol = config.symbol
        self._sleep = sleep
        self._now_us = now_us
        # Whatever credentials the exchange object holds are scrubbed, even if it was built elsewhere.
        self._secrets: list[Any] = [key] + [getattr(exchange, a, None) or None for a in ("apiKey", "secret", "password")]
        self.log = logger or _log
        install_redaction(self.log, self._secrets)
        # ccxt logs request headers (API key, passphrase) at DEBUG: give this exchange object its own
        # logger, scrubbed, instead of the shared 'ccxt.base.exchange' one.
        role = key.role if key is not None else "nokey"
        ccxt_logger = logging.getLogger(f"{__name__}.ccxt.{instance_id}.{role}")
        install_redaction(ccxt_logger, self._secrets)
        exchange.logger = ccxt_logger
        exchange.verbose = False  # verbose mode print()s headers, past any logging filter
        exchange.enableRateLimit = True  # stay within the exchange's limits whoever built the object
        self._orders: dict[str, LiveOrder] = {}
        self._recent_closed: OrderedDict[str, LiveOrder] = OrderedDict()
        self._cid_of_oid: OrderedDict[str, str] = OrderedDict()
        self._done = RecentIds(config.done_order_window)
        self._trades_seen = RecentIds(config.trade_dedup_window)
        self._fills_since_ms: int | None = None
        self._cancel_all_unsent: str | None = None
        self._mid: float | None = None
        self._market_info: dict[str, Any] | None = None
        self.stats = {"calls": 0, "attempts": 0, "retries": 0, "final_errors": 0}

    # ------------------------------------------------------------------ start-up
    def start(self) -> None:
        """Load the exchange's markets (a no-op when already loaded) and check the symbol.

        Raises :class:`ConfigError` when the symbol is wrong for the exchange (fix the config) and
        :class:`VenueError` when the markets cannot be read now (network, exchange down).
        """
        res = self._call("load_markets", lambda: self.exchange.load_markets())
        if not res.ok:
            if isinstance(res.error, ccxt.AuthenticationError):
                raise ConfigError(f"instance {self.instance_id}: {self.config.exchange_id} refused the key: {self._reason(res.error)}")
            raise VenueError(f"instance {self.instance_id}: cannot load {self.config.exchange_id} markets: {self._reason(res.error)}")
        markets = self.exchange.markets or {}
        m = markets.get(self.symbol)
        if m is None:
            raise ConfigError(f"instance {self.instance_id}: {self.symbol!r} is not a {self.config.exchange_id} market; fix the symbol")
        if m.get("type") != self.config.ccxt_market_type:
            raise ConfigError(
                f"instance {self.instance_id}: {self.symbol!r} is a {m.get('type')} market but market_type is {self.config.market_type}; fix one"
            )
        self._market_info = m

    def _ensure_started(self) -> str | None:
        """None when ready; else why not (a transient failure: the command is answered, not raised)."""
        if self._market_info is None:
            try:
                self.start()
            except VenueError as exc:
                return f"venue_not_ready: {exc}"
        return None

    # ------------------------------------------------------------------ views
    def open_orders(self) -> list[dict[str, Any]]:
        """This venue's orders not known to be closed, as paper's ``open_orders`` dicts."""
        return [
            {
                "client_order_id": o.client_order_id,
                "exchange_order_id": o.exchange_order_id,
                "side": o.side,
                "price": o.price,
                "size": o.size,
                "filled_size": o.filled,
                "active": o.state == "OPEN",
                "state": o.state,
                "cancel_pending": o.cancel_reason is not None,
            }
            for o in self._orders.values()
        ]

    def fetch_open_orders(self) -> list[dict[str, Any]]:
        """The exchange's open orders on the symbol (all of the account's, ours or not); raises VenueError."""
        not_ready = self._ensure_started()
        if not_ready:
            raise VenueError(not_ready)
        res = self._call("fetch_open_orders", lambda: self.exchange.fetch_open_orders(self.symbol))
        if not res.ok:
            raise VenueError(f"fetch_open_orders failed: {self._reason(res.error)}")
        return [self._order_view(x) for x in res.value]

    # ------------------------------------------------------------------ commands
    def on_command(self, command: Mapping[str, Any]) -> VenueEvents:
        """Dispatch a ``schemas/order.avsc`` command of this instance and market."""
        return dispatch_command(self, command)

    def place(self, command: Mapping[str, Any]) -> VenueEvents:
        """Send the order of a PLACE once per client order id; ACK or REJECTED (see the module doc)."""
        ev = VenueEvents()
        cid = command.get("client_order_id")
        if not cid:
            ev.notes.append("place_without_client_order_id")
            return ev
        cid = str(cid)
        if cid in self._orders or cid in self._done:
            ev.notes.append("duplicate_place")
            return ev
        not_ready = self._ensure_started()
        side, price, size = command.get("side"), command.get("price"), command.get("size")
        post_only = bool(command.get("post_only", True))
        o = LiveOrder(
            client_order_id=cid,
            side=str(side),
            price=None if price is None else float(price),
            size=0.0 if size is None else float(size),
            post_only=post_only,
            reduce_only=bool(command.get("reduce_only", False)),
            order_time=to_micros(command["event_time"]) if command.get("event_time") is not None else self._now_us(),
            mid_at_order=None if command.get("mid_at_decision") is None else float(command["mid_at_decision"]),
        )
        valid = (
            side in (BUY, SELL)
            and o.size > 0.0
            and math.isfinite(o.size)
            and (o.price is None or (o.price > 0.0 and math.isfinite(o.price)))
            and not (o.price is None and post_only)
        )
        if not valid:
            self._close(o, "REJECTED", "invalid_order", ev)
            return ev
        if not_ready:
            # Nothing was sent: a clean reject the strategy can re-quote after.
            self._close(o, "REJECTED", not_ready[: self.config.max_reason_chars], ev)
            return ev
        # Remembered before the request: whatever happens next, this id is never sent twice.
        self._orders[cid] = o
        params: dict[str, Any] = {"clientOrderId": cid}
        if post_only:
            params["postOnly"] = True
        if o.reduce_only:
            params["reduceOnly"] = True
        if self.config.market_type == "perp":
            params["marginMode"] = self.config.margin_mode
        order_type = "market" if o.price is None else "limit"
        res = self._call(
            "create_order",
            lambda: self.exchange.create_order(self.symbol, order_type, o.side.lower(), o.size, o.price, dict(params)),
        )
        if res.ok:
            self._on_created(o, res.value or {}, ev)
            return ev
        err = res.error
        o.last_error = self._reason(err)
        if isinstance(err, ccxt.NetworkError):
            if res.ambiguous:
                # Retries exhausted and some attempt may have landed: the next poll asks the exchange.
                o.state = "UNKNOWN"
                ev.notes.append(f"place_outcome_unknown:{cid}")
            else:
                self._close(o, "REJECTED", f"retries_exhausted: {o.last_error}", ev)
            return ev
        if isinstance(err, _CLEAR_REJECTS) and not (res.ambiguous and isinstance(err, ccxt.DuplicateOrderId)):
            self._close(o, "REJECTED", o.last_error, ev)
            return ev
        # An unclassified answer (e.g. "duplicate clientOid" after a timed-out first attempt): ask.
        self._resolve(o, ev, not_found_reason=o.last_error)
        return ev

    def cancel(self, command: Mapping[str, Any]) -> VenueEvents:
        """Cancel one order by client order id."""
        ev = VenueEvents()
        cid = str(command.get("client_order_id") or "")
        if not cid:
            ev.notes.append("cancel_without_client_order_id")
            return ev
        reason = str(command.get("reason") or "cancelled")
        o = self._orders.get(cid)
        if o is None:
            ev.notes.append("cancel_closed_order" if cid in self._done else "cancel_unknown_order")
            return ev
        o.cancel_reason = reason
        not_ready = self._ensure_started()
        if not_ready:
            o.cancel_unsent = True  # sent by the next poll that finds the exchange reachable
            ev.notes.append(f"cancel_failed:{cid}: {not_ready}")
            return ev
        self._send_cancel(o, ev)
        return ev

    def cancel_all(self, command: Mapping[str, Any]) -> VenueEvents:
        """Cancel every open order on the symbol (``cancel_all_scope='symbol'``) or every one of ours ('own')."""
        ev = VenueEvents()
        reason = str(command.get("reason") or "cancel_all")
        not_ready = self._ensure_started()
        if not_ready:
            for o in self._orders.values():
                o.cancel_reason = reason
                o.cancel_unsent = self.config.cancel_all_scope == "own"
            if self.config.cancel_all_scope == "symbol":
                self._cancel_all_unsent = reason  # the next poll sends it
            ev.notes.append(f"cancel_all_failed: {not_ready}")
            return ev
        if self.config.cancel_all_scope == "own":
            for o in list(self._orders.values()):
                o.cancel_reason = reason
                self._send_cancel(o, ev)
            return ev
        for o in self._orders.values():
            o.cancel_reason = reason
        self._send_cancel_all(reason, ev)
        return ev

    # ------------------------------------------------------------------ market events
    def on_market_event(self, kind: MarketEventKind, record: Mapping[str, Any]) -> VenueEvents:
        """Live orders are matched by the exchange; a book only updates the mid stamped on fills (TCA)."""
        if kind == "book" and record.get("market") == self.market and record.get("mid") is not None:
            self._mid = float(record["mid"])
        return VenueEvents()

    # ------------------------------------------------------------------ polling
    def poll(self) -> VenueEvents:
        """Read fills and open orders from the exchange; records for what changed since the last poll."""
        ev = VenueEvents()
        not_ready = self._ensure_started()
        if not_ready:
            ev.notes.append(f"poll_failed: {not_ready}")
            return ev
        ev.extend(self.send_pending())
        self._poll_fills(ev)
        self._poll_orders(ev)
        return ev

    def send_pending(self) -> VenueEvents:
        """Send the cancels a transient failure left unsent (``poll`` does this first)."""
        ev = VenueEvents()
        if not self.has_pending:
            return ev
        not_ready = self._ensure_started()
        if not_ready:
            ev.notes.append(f"pending_cancels_unsent: {not_ready}")
            return ev
        if self._cancel_all_unsent is not None:
            self._send_cancel_all(self._cancel_all_unsent, ev)
        for o in list(self._orders.values()):
            if o.cancel_unsent:
                self._send_cancel(o, ev)
        return ev

    @property
    def has_pending(self) -> bool:
        """True while a cancel waits to be sent again."""
        return self._cancel_all_unsent is not None or any(o.cancel_unsent for o in self._orders.values())

    def _poll_fills(self, ev: VenueEvents) -> None:
        cfg = self.config
        since = self._fills_since_ms
        if since is None:
            since = self._now_us() // 1000 - cfg.fill_lookback_ms
        trades: dict[str, dict[str, Any]] = {}
        until: int | None = None
        complete = True
        for _ in range(cfg.fills_max_pages):
            params: dict[str, Any] = {} if until is None else {"until": until}
            res = self._call(
                "fetch_my_trades", lambda: self.exchange.fetch_my_trades(self.symbol, since, cfg.fills_page_limit, dict(params))
            )
            if not res.ok:
                ev.notes.append(f"poll_fills_failed: {self._reason(res.error)}")
                complete = False
                break
            page = res.value or []
            for t in page:
                if t.get("symbol") == self.symbol and t.get("id") is not None:
                    trades[str(t["id"])] = t
            if len(page) < cfg.fills_page_limit:
                break
            # A full page: older fills may be missing when the exchange answers newest first.
            oldest = min((int(t["timestamp"]) for t in page if t.get("timestamp") is not None), default=None)
            if oldest is None or (until is not None and oldest >= until):
                break
            until = oldest
        else:
            ev.notes.append("fills_page_limit_reached")
        for t in sorted(trades.values(), key=lambda t: (int(t.get("timestamp") or 0), str(t["id"]))):
            self._on_trade(t, ev)
        if complete and trades:
            newest = max(int(t.get("timestamp") or 0) for t in trades.values())
            # Inclusive restart point: trades of the same millisecond are read again and deduplicated.
            self._fills_since_ms = max(since, newest)
        elif complete and self._fills_since_ms is None:
            self._fills_since_ms = since

    def _poll_orders(self, ev: VenueEvents) -> None:
        if not self._orders:
            return
        res = self._call("fetch_open_orders", lambda: self.exchange.fetch_open_orders(self.symbol))
        if not res.ok:
            ev.notes.append(f"poll_orders_failed: {self._reason(res.error)}")
            return
        open_by_cid = {str(x["clientOrderId"]): x for x in res.value or [] if x.get("clientOrderId")}
        for cid, o in list(self._orders.items()):
            x = open_by_cid.get(cid)
            if x is not None:
                self._apply_open(o, x, ev)
            else:
                self._resolve(o, ev, not_found_reason=f"not_placed: {o.last_error}" if o.last_error else "not_found_on_exchange")

    # ------------------------------------------------------------------ orphan scan
    def scan_orphans(self, known_client_ids: Iterable[str]) -> OrphanReport:
        """Cancel the symbol's open orders whose client order id the desk does not hold.

        ``known_client_ids`` is the desk's state (open orders of the instance); orders this venue
        tracks count as known too. Known orders the venue did not track yet are adopted, so later
        fills and cancels of them work. Foreign orders are cancelled by exchange order id (an order
        placed in the exchange's UI may carry no client id at all).
        """
        report = OrphanReport(self.instance_id, self.market)
        not_ready = self._ensure_started()
        if not_ready:
            report.error = not_ready
            return report
        known = set(known_client_ids) | set(self._orders)
        res = self._call("fetch_open_orders", lambda: self.exchange.fetch_open_orders(self.symbol))
        if not res.ok:
            report.error = self._reason(res.error)
            self.log.error("orphan scan of %s: open orders unreadable: %s", self.market, report.error)
            return report
        for x in res.value or []:
            report.checked += 1
            cid = str(x.get("clientOrderId") or "")
            if cid and cid in known:
                report.kept.append(cid)
                if cid not in self._orders:
                    self._adopt(x)
                continue
            view = self._order_view(x)
            oid = str(x.get("id") or "")
            r = self._call("cancel_order", lambda: self.exchange.cancel_order(oid, self.symbol))
            if r.ok or isinstance(r.error, ccxt.OrderNotFound):
                report.cancelled.append(view)
            else:
                report.failed.append({**view, "reason": self._reason(r.error)})
        self.log.info(
            "orphan scan of %s: %d open, %d kept, %d cancelled, %d failed",
            self.market, report.checked, len(report.kept), len(report.cancelled), len(report.failed),
        )
        return report

    # ------------------------------------------------------------------ exchange dead-man's switch
    @property
    def has_cancel_all_after(self) -> bool:
        """True when ccxt exposes the exchange's own dead-man's switch (``cancelAllOrdersAfter``)."""
        return bool((getattr(self.exchange, "has", None) or {}).get("cancelAllOrdersAfter"))

    def cancel_all_after(self, timeout_ms: int) -> str | None:
        """(Re)arm the exchange's own timer: it cancels every order unless armed again within ``timeout_ms``.

        Returns None when armed, else why not (unsupported, or the exchange's error, scrubbed).
        """
        if not self.has_cancel_all_after:
            return f"{self.config.exchange_id} has no cancelAllOrdersAfter in ccxt"
        not_ready = self._ensure_started()
        if not_ready:
            return not_ready
        res = self._call("cancel_all_orders_after", lambda: self.exchange.cancel_all_orders_after(timeout_ms))
        return None if res.ok else self._reason(res.error)

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """JSON-able state; :meth:`restore` continues from it (no order is sent twice after a restart)."""
        return {
            "config_id": self.config.config_id,
            "orders": [o.to_dict() for o in self._orders.values()],
            "recent_closed": [o.to_dict() for o in self._recent_closed.values()],
            "cid_of_oid": list(self._cid_of_oid.items()),
            "done": self._done.to_list(),
            "trades_seen": self._trades_seen.to_list(),
            "fills_since_ms": self._fills_since_ms,
            "cancel_all_unsent": self._cancel_all_unsent,
            "mid": self._mid,
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], exchange: Any, config: LiveVenueConfig, instance_id: str, market: str, **kwargs: Any) -> "CcxtVenue":
        """A venue in the state ``snapshot()`` returned (orders not acknowledged are checked at the next poll)."""
        v = cls(exchange, config, instance_id, market, **kwargs)
        for d in snap.get("orders", []):
            o = LiveOrder.from_dict(dict(d))
            v._orders[o.client_order_id] = o
        for d in snap.get("recent_closed", []):
            o = LiveOrder.from_dict(dict(d))
            v._recent_closed[o.client_order_id] = o
        v._cid_of_oid = OrderedDict((str(a), str(b)) for a, b in snap.get("cid_of_oid", []))
        v._done = RecentIds(config.done_order_window, snap.get("done", []))
        v._trades_seen = RecentIds(config.trade_dedup_window, snap.get("trades_seen", []))
        v._fills_since_ms = snap.get("fills_since_ms")
        v._cancel_all_unsent = snap.get("cancel_all_unsent")
        v._mid = snap.get("mid")
        return v

    # ------------------------------------------------------------------ internals: exchange calls
    def _call(self, what: str, fn: Callable[[], Any]) -> _Result:
        """``fn()`` with bounded exponential backoff on transient errors; never raises a ccxt error."""
        delays = self.config.retry.delays()
        res = _Result()
        self.stats["calls"] += 1
        for attempt in range(len(delays) + 1):
            res.attempts += 1
            self.stats["attempts"] += 1
            try:
                res.value = fn()
                res.error = None
                return res
            except ccxt.NetworkError as exc:
                res.error = exc
                if not isinstance(exc, _NOT_EXECUTED):
                    res.ambiguous = True
                if attempt >= len(delays):
                    break
                self.stats["retries"] += 1
                self.log.warning("%s %s: %s; retry %d/%d in %.3fs", self.market, what, self._reason(exc), attempt + 1, len(delays), delays[attempt])
                self._sleep(delays[attempt])
            except ccxt.BaseError as exc:
                res.error = exc
                break
        self.stats["final_errors"] += 1
        self.log.warning("%s %s failed after %d attempt(s): %s", self.market, what, res.attempts, self._reason(res.error))
        return res

    def _reason(self, exc: BaseException | None) -> str:
        """``Class: message`` of an exchange error, key values scrubbed, cut to ``max_reason_chars``."""
        if exc is None:
            return ""
        text = redact(f"{type(exc).__name__}: {exc}", self._secrets)
        n = self.config.max_reason_chars
        return text if len(text) <= n else text[: n - 3] + "..."

    # ------------------------------------------------------------------ internals: orders
    def _on_created(self, o: LiveOrder, order: Mapping[str, Any], ev: VenueEvents) -> None:
        oid = order.get("id")
        if oid:
            o.exchange_order_id = str(oid)
            self._remember_oid(o.exchange_order_id, o.client_order_id)
        if order.get("status") == "rejected":
            self._close(o, "REJECTED", self._info_reason(order) or "rejected_by_exchange", ev)
            return
        o.state = "OPEN"
        ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "ACK", self._event_time(order)))
        self._apply_fill_view(o, order, ev)

    def _apply_open(self, o: LiveOrder, x: Mapping[str, Any], ev: VenueEvents) -> None:
        """The exchange lists ``o`` as open: acknowledge it if we had not, report new fills."""
        if x.get("id") and not o.exchange_order_id:
            o.exchange_order_id = str(x["id"])
            self._remember_oid(o.exchange_order_id, o.client_order_id)
        if o.state != "OPEN":
            o.state = "OPEN"
            ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "ACK", self._event_time(x)))
        self._apply_fill_view(o, x, ev)

    def _apply_fill_view(self, o: LiveOrder, x: Mapping[str, Any], ev: VenueEvents) -> None:
        filled = x.get("filled")
        if filled is not None and float(filled) > o.filled + _REL_EPS * max(o.size, 1.0):
            o.filled = min(o.size, float(filled))
            if o.filled < o.size * (1 - _REL_EPS):
                ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "PARTIALLY_FILLED", self._event_time(x)))

    def _resolve(self, o: LiveOrder, ev: VenueEvents, not_found_reason: str) -> None:
        """Ask the exchange for ``o`` by client order id and record its state."""
        res = self._call(
            "fetch_order", lambda: self.exchange.fetch_order("", self.symbol, {"clientOrderId": o.client_order_id})
        )
        if not res.ok:
            if isinstance(res.error, ccxt.OrderNotFound):
                if o.state == "OPEN":
                    self._close(o, "CANCELLED", "not_found_on_exchange", ev)
                else:
                    self._close(o, "REJECTED", not_found_reason, ev)
            else:
                o.state = "UNKNOWN" if o.state == "NEW" else o.state
                ev.notes.append(f"order_state_unknown:{o.client_order_id}: {self._reason(res.error)}")
            return
        x = res.value or {}
        if x.get("id") and not o.exchange_order_id:
            o.exchange_order_id = str(x["id"])
            self._remember_oid(o.exchange_order_id, o.client_order_id)
        status = x.get("status")
        t = self._event_time(x)
        if status == "open" or status is None:
            self._apply_open(o, x, ev)
            return
        if x.get("filled") is not None:
            o.filled = max(o.filled, min(o.size, float(x["filled"])))
        if status == "closed":
            o.filled = o.size  # ccxt's 'closed' is a fully filled order
            self._close(o, "FILLED", "", ev, t)
        elif status == "canceled":
            self._close(o, "CANCELLED", o.cancel_reason or "cancelled_by_exchange", ev, t)
        elif status == "expired":
            self._close(o, "EXPIRED", "expired", ev, t)
        elif status == "rejected":
            self._close(o, "REJECTED", self._info_reason(x) or "rejected_by_exchange", ev, t)
        else:
            ev.notes.append(f"unknown_order_status:{o.client_order_id}:{status}")

    def _send_cancel(self, o: LiveOrder, ev: VenueEvents) -> None:
        res = self._call(
            "cancel_order", lambda: self.exchange.cancel_order(o.exchange_order_id or "", self.symbol, {"clientOrderId": o.client_order_id})
        )
        if res.ok:
            o.cancel_unsent = False
            self._close(o, "CANCELLED", o.cancel_reason or "cancelled", ev)
            return
        if isinstance(res.error, ccxt.OrderNotFound):
            # Not open on the exchange any more (filled, already cancelled) or never there: ask which.
            o.cancel_unsent = False
            self._resolve(o, ev, not_found_reason=f"not_placed: {o.last_error}" if o.last_error else "not_found_on_exchange")
            return
        reason = self._reason(res.error)
        if isinstance(res.error, ccxt.NetworkError):
            o.cancel_unsent = True  # the next poll sends it again
        ev.notes.append(f"cancel_failed:{o.client_order_id}: {reason}")

    def _send_cancel_all(self, reason: str, ev: VenueEvents) -> None:
        res = self._call("cancel_all_orders", lambda: self.exchange.cancel_all_orders(self.symbol))
        if not res.ok:
            if isinstance(res.error, ccxt.OrderNotFound):
                self._cancel_all_unsent = None
                ev.notes.append("cancel_all_nothing_open")
                return
            if isinstance(res.error, ccxt.NetworkError):
                self._cancel_all_unsent = reason
            ev.notes.append(f"cancel_all_failed: {self._reason(res.error)}")
            return
        self._cancel_all_unsent = None
        for x in res.value or []:
            cid = str(x.get("clientOrderId") or "")
            if x.get("status") == "rejected":
                ev.notes.append(f"cancel_failed:{cid or x.get('id')}: {self._info_reason(x) or 'rejected'}")
                continue
            o = self._orders.get(cid)
            if o is None:
                ev.notes.append(f"cancelled_foreign_order:{cid or x.get('id')}")
                continue
            self._close(o, "CANCELLED", reason, ev)
        # Orders of ours the answer did not list were not open any more: the next poll resolves them.

    def _adopt(self, x: Mapping[str, Any]) -> None:
        """Track an open exchange order the desk knows but this venue did not (state restored elsewhere)."""
        side = str(x.get("side") or "").upper()
        o = LiveOrder(
            client_order_id=str(x["clientOrderId"]),
            side=side,
            price=None if x.get("price") is None else float(x["price"]),
            size=float(x.get("amount") or 0.0),
            post_only=bool(x.get("postOnly")),
            reduce_only=bool(x.get("reduceOnly")),
            order_time=int(x["timestamp"]) * 1000 if x.get("timestamp") else self._now_us(),
            mid_at_order=None,
            exchange_order_id=str(x.get("id")) if x.get("id") else None,
            state="OPEN",
            filled=float(x.get("filled") or 0.0),
        )
        self._orders[o.client_order_id] = o
        if o.exchange_order_id:
            self._remember_oid(o.exchange_order_id, o.client_order_id)

    def _close(self, o: LiveOrder, status: str, reason: str, ev: VenueEvents, t: int | None = None) -> None:
        self._orders.pop(o.client_order_id, None)
        self._done.add(o.client_order_id)
        self._recent_closed[o.client_order_id] = o
        while len(self._recent_closed) > self.config.done_order_window:
            self._recent_closed.popitem(last=False)
        ev.order_updates.append(
            order_update_record(self.instance_id, self.market, o, status, self._now_us() if t is None else t, reason)
        )

    # ------------------------------------------------------------------ internals: fills
    def _on_trade(self, t: Mapping[str, Any], ev: VenueEvents) -> None:
        tid = str(t["id"])
        if tid in self._trades_seen:
            return
        oid = str(t.get("order") or "")
        cid = self._cid_of_oid.get(oid) if oid else None
        if cid is None and oid:
            cid = self._lookup_cid(oid, ev)
        o = self._orders.get(cid or "") or self._recent_closed.get(cid or "")
        price = float(t["price"])
        size = float(t["amount"])
        side = str(t.get("side") or (o.side if o else "")).upper()
        if side not in (BUY, SELL) or not size > 0.0:
            ev.notes.append(f"unusable_trade:{tid}")
            self._trades_seen.add(tid)
            return
        fee_quote, fee_asset = self._fee_in_quote(t, price)
        taker_or_maker = t.get("takerOrMaker")
        if taker_or_maker in ("maker", "taker"):
            liquidity = "MAKER" if taker_or_maker == "maker" else "TAKER"
        else:
            liquidity = "MAKER" if (o is not None and o.post_only) else "TAKER"
        if liquidity == "TAKER" and fee_quote < 0.0:
            # A taker never earns a rebate: the exchange's (or ccxt's) fee sign is off. Kept as
            # reported, flagged for reconciliation rather than silently flipped.
            ev.notes.append(f"taker_fee_negative:{tid}")
        when = int(t["timestamp"]) * 1000 if t.get("timestamp") else self._now_us()
        ev.fills.append(
            fill_record(
                self.instance_id,
                self.market,
                client_order_id=cid or f"unknown:{oid}",
                exchange_order_id=oid or None,
                trade_id=tid,
                t=when,
                side=side,
                price=price,
                size=size,
                fee_quote=fee_quote,
                fee_asset=fee_asset,
                liquidity=liquidity,
                mid_at_fill=self._mid if self._mid is not None else price,
                mid_at_order=o.mid_at_order if o else None,
                order_time=o.order_time if o else None,
            )
        )
        self._trades_seen.add(tid)
        if o is None or o.client_order_id not in self._orders:
            return
        o.filled_by_fills += size
        if o.filled_by_fills > o.filled + _REL_EPS * max(o.size, 1.0):
            o.filled = min(o.size, o.filled_by_fills)
            if o.filled >= o.size * (1 - 1e-9):
                o.filled = o.size
                self._close(o, "FILLED", "", ev, when)
            else:
                ev.order_updates.append(order_update_record(self.instance_id, self.market, o, "PARTIALLY_FILLED", when))

    def _fee_in_quote(self, t: Mapping[str, Any], price: float) -> tuple[float, str]:
        fee = t.get("fee") or {}
        cost = fee.get("cost")
        currency = fee.get("currency") or self.config.fee_asset
        if self.config.exchange_id == "bitget" and self.config.unified_account:
            # Bitget's unified-account fills report a paid fee as a positive feeDetail[0].fee (the
            # recorded taker fill: 6 bp of execValue), which ccxt 4.5 negates into a rebate. Read
            # the exchange's own number so fee_quote keeps the schema's sign (positive = paid).
            info = t.get("info") or {}
            detail = info.get("feeDetail") if isinstance(info, dict) else None
            if isinstance(detail, list) and detail and isinstance(detail[0], dict) and detail[0].get("fee") not in (None, ""):
                cost = float(detail[0]["fee"])
                currency = detail[0].get("feeCoin") or currency
        if cost is None:
            return 0.0, currency
        cost = float(cost)
        m = self._market_info or {}
        if currency == m.get("base"):
            return cost * price, currency
        return cost, currency

    def _lookup_cid(self, oid: str, ev: VenueEvents) -> str | None:
        res = self._call("fetch_order", lambda: self.exchange.fetch_order(oid, self.symbol))
        if res.ok and (res.value or {}).get("clientOrderId"):
            cid = str(res.value["clientOrderId"])
            self._remember_oid(oid, cid)
            return cid
        ev.notes.append(f"fill_of_unknown_order:{oid}")
        return None

    def _remember_oid(self, oid: str, cid: str) -> None:
        self._cid_of_oid[oid] = cid
        self._cid_of_oid.move_to_end(oid)
        while len(self._cid_of_oid) > 2 * self.config.done_order_window:
            self._cid_of_oid.popitem(last=False)

    # ------------------------------------------------------------------ internals: helpers
    def _event_time(self, x: Mapping[str, Any]) -> int:
        ts = x.get("lastUpdateTimestamp") or x.get("timestamp")
        return int(ts) * 1000 if ts else self._now_us()

    def _info_reason(self, x: Mapping[str, Any]) -> str:
        info = x.get("info")
        msg = ""
        if isinstance(info, dict):
            msg = info.get("errorMsg") or info.get("cancelReason") or ""
        return redact(str(msg), self._secrets)[: self.config.max_reason_chars]

    def _order_view(self, x: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "client_order_id": x.get("clientOrderId"),
            "exchange_order_id": None if x.get("id") is None else str(x["id"]),
            "side": str(x.get("side") or "").upper() or None,
            "price": x.get("price"),
            "size": x.get("amount"),
            "filled_size": x.get("filled"),
            "status": x.get("status"),
            "post_only": x.get("postOnly"),
        }


class VenueError(RuntimeError):
    """An exchange failure the venue cannot express as a record; the message is already scrubbed."""
