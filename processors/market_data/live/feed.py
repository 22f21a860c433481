"""The live feed of one market: ccxt.pro streams and polls -> validated records -> publish or dead-letter.

Four concurrent loops share one ccxt.pro exchange object (and so one websocket per endpoint):

* order book: ``watch_order_book``; every update ccxt hands back becomes a book record of the top
  ``book_depth`` levels (ccxt returns the latest state, so bursts are coalesced: a snapshot record
  is self-contained and the strategy only needs the latest one);
* trades: ``watch_trades``; every new public trade becomes a trade record;
* funding: ``fetch_funding_rate`` every ``funding_poll_s`` (perpetuals only);
* candles: ``fetch_ohlcv(symbol, '1m')`` every ``candle_poll_s``; each closed candle is published once.

Each record goes through one :class:`FeedValidator`: a good record goes to ``publish(topic, record)``,
a duplicate (a trade re-sent in the snapshot after a reconnect) is counted and skipped (its event id
is the same, so downstream would drop it anyway), anything else becomes an ``hb.dlq.v1`` record
(:func:`streams.dlq.dead_letter`) handed to ``dead_letter(record)``. A checksum mismatch reported by
ccxt (the locally maintained incremental book diverged from the exchange's) is dead-lettered too and
the book is resubscribed from a fresh snapshot. A message ccxt itself fails to parse is dead-lettered
raw (``unparsable``) instead of ending the connection's receive loop.

Book sequences are the exchange's update ids where ccxt exposes them (for Bitget the feed captures
``seq``, which ccxt drops). They must increase; a skip is not an error here, because ccxt coalesces
updates that arrive while the previous one is being handled (integrity of incremental books is
checked by the exchange checksum instead).

Network errors never end the feed: the loop logs what failed, waits an exponential, capped,
jittered delay (:class:`Backoff`, injected random source) and subscribes again; ccxt opens a new
connection. A book stream silent for ``stale_after_s`` is reconnected. Configuration errors (unknown
symbol, unsupported method, authentication) are raised at once.

This module is the I/O shell around pure parts (records, validation, backoff): it is the one place
that reads the wall clock (injectable, for tests) and talks to the exchange.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ccxt
import ccxt.pro

from processors.ids import make_id
from processors.market_data.live.backoff import Backoff
from processors.market_data.live.config import LiveFeedConfig
from processors.market_data.live.records import book_record, candle_record, funding_record, trade_record
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, TRADE_TOPIC
from processors.market_data.validation import CHECKSUM_MISMATCH, DUPLICATE, UNPARSABLE, FeedValidator, Violation
from streams.catalog import DLQ_TOPIC
from streams.dlq import dead_letter as dead_letter_record

log = logging.getLogger(__name__)

PROCESSOR = "market_data.live"
"""``processor`` field of the feed's dead letters."""

Publish = Callable[[str, dict[str, Any]], Awaitable[None] | None]
"""``publish(topic, record)``, sync or async; e.g. ``EventProducer.send``."""
DeadLetter = Callable[[dict[str, Any]], Awaitable[None] | None]
"""``dead_letter(dlq_record)``, sync or async; e.g. ``lambda r: producer.send(DLQ_TOPIC, r)``."""


def _publisher(target: Any) -> Publish:
    """A publish callable from a callable, or from a producer with ``send(topic, record)`` (EventProducer)."""
    return target if callable(target) else target.send


def _dead_letterer(target: Any) -> DeadLetter:
    """A dead-letter callable from a callable, or from a producer: ``send(hb.dlq.v1, record)``."""
    if callable(target):
        return target
    return lambda record: target.send(DLQ_TOPIC, record)


# Errors that retrying cannot fix: a wrong symbol, a method the exchange lacks, a rejected key.
_FATAL = (ccxt.BadSymbol, ccxt.NotSupported, ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.ArgumentsRequired)


@dataclass
class FeedStats:
    """What the feed did: records published per topic, dead letters per reason, skips and reconnects."""

    published: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    reconnects: int = 0


def wall_clock_us() -> int:
    """Local wall clock, microseconds since the epoch (the feed's default ``now_us``)."""
    return time.time_ns() // 1000


def make_exchange(cfg: LiveFeedConfig) -> Any:
    """A public (keyless) ccxt.pro exchange object for ``cfg.exchange``, rate limited."""
    return getattr(ccxt.pro, cfg.exchange)({"enableRateLimit": True})


def _capture_bitget_book_sequence(exchange: Any) -> None:
    """Expose Bitget's book update id (``seq``) as the ccxt order book's ``nonce``.

    ccxt parses Bitget's book messages but drops ``seq``; without it the records would carry a
    local sequence and a rewound update could not be recognised. The wrapper runs the real handler
    first (which may replace the book object) and then stamps the stored book; the watcher wakes up
    only after the handler returns, so it sees the stamp.
    """
    original = exchange.handle_order_book

    def handle_order_book(client: Any, message: Any) -> Any:
        result = original(client, message)
        data = message.get("data") if isinstance(message, dict) else None
        raw = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else data
        seq = raw.get("seq") if isinstance(raw, dict) else None
        if seq is not None:
            arg = message.get("arg") or {}
            market_type = "spot" if str(arg.get("instType", "")).lower() == "spot" else "contract"
            symbol = exchange.safe_market(arg.get("instId") or arg.get("symbol"), None, None, market_type)["symbol"]
            book = exchange.orderbooks.get(symbol)
            if book is not None:
                book["nonce"] = seq
        return result

    exchange.handle_order_book = handle_order_book


_SEQUENCE_CAPTURE: dict[str, Callable[[Any], None]] = {"bitget": _capture_bitget_book_sequence}


async def _call(fn: Callable[..., Any], *args: Any) -> None:
    result = fn(*args)
    if inspect.isawaitable(result):
        await result


async def _cancel_all(tasks: list[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again any that swallowed it.

    On Python 3.11 ``asyncio.wait_for`` returns the inner result instead of raising when the
    cancellation and the inner future's completion coincide, so one ``cancel()`` may not stop a loop.
    """
    pending = [t for t in tasks if not t.done()]
    while pending:
        for t in pending:
            t.cancel()
        await asyncio.wait(pending, timeout=0.5)
        pending = [t for t in pending if not t.done()]


def _cancelled_from_outside() -> bool:
    """Whether the running task itself is being cancelled (vs. a ccxt future cancelled under it)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class LiveFeed:
    """One market's live feed on an injected ccxt.pro exchange object (see the module docstring).

    ``publish`` and ``dead_letter`` are callables (sync or async) or an EventProducer. The feed wraps
    two of the exchange object's message handlers, so give each feed its own exchange object.
    """

    def __init__(self, cfg: LiveFeedConfig, exchange: Any, publish: Publish | Any, dead_letter: DeadLetter | Any, *,
                 rng: random.Random | None = None, now_us: Callable[[], int] = wall_clock_us,
                 validator: FeedValidator | None = None) -> None:
        self.cfg = cfg
        self.market = cfg.market
        self.stats = FeedStats()
        self._ex = exchange
        self._publish = _publisher(publish)
        self._dead_letter = _dead_letterer(dead_letter)
        self._rng = rng if rng is not None else random.Random()
        self._now_us = now_us
        self.validator = validator if validator is not None else FeedValidator(cfg.market, stale_after_s=cfg.stale_after_s)
        self._last_book_seq: int | None = None
        self._last_candle_open_us = 0
        self._pending: set[asyncio.Future[None]] = set()
        capture = _SEQUENCE_CAPTURE.get(getattr(exchange, "id", ""))
        if capture is not None:
            capture(exchange)
        self._guard_message_handler()

    def _guard_message_handler(self) -> None:
        """Dead-letter a websocket message that ccxt fails to parse instead of losing the connection.

        ccxt runs its message handler in a callback of the connection's receive loop; an exception
        there (e.g. Bitget trade price "NaN" breaks ccxt's decimal parsing) ends that loop, and the
        connection then dies by keep-alive timeout. Clients capture the handler when they are created,
        so this must run before the first subscription.
        """
        original = self._ex.handle_message

        def handle_message(client: Any, message: Any) -> Any:
            try:
                return original(client, message)
            except Exception as e:  # noqa: BLE001 - any parse failure of one message; the next one may be fine
                arg = message.get("arg") if isinstance(message, dict) else None
                channel = str((arg or {}).get("channel") or (arg or {}).get("topic") or "")
                topic = BOOK_TOPIC if "book" in channel else TRADE_TOPIC if "trade" in channel.lower() else f"ws:{channel}"
                raw = json.dumps(message, default=str).encode()
                fut = asyncio.ensure_future(self._reject(topic, Violation(UNPARSABLE, f"{type(e).__name__}: {e}"), raw, raw))
                self._pending.add(fut)
                fut.add_done_callback(self._pending.discard)
                return None

        self._ex.handle_message = handle_message

    # ----------------------------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> FeedStats:
        """Stream until ``stop`` is set; return the statistics. Raises only on configuration errors."""
        stopper = asyncio.ensure_future(stop.wait())
        try:
            loader = asyncio.ensure_future(self._load_markets())
            await asyncio.wait([loader, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not loader.done():
                loader.cancel()
                await asyncio.gather(loader, return_exceptions=True)
                return self.stats
            loader.result()
            market = self._ex.market(self.cfg.symbol)
            loops = [self._book_loop()]
            if self.cfg.trades:
                loops.append(self._trade_loop())
            if self.cfg.funding and market.get("swap"):
                loops.append(self._poll_loop("funding", self.cfg.funding_poll_s, self._poll_funding))
            if self.cfg.candles:
                loops.append(self._poll_loop("candles", self.cfg.candle_poll_s, self._poll_candles))
            tasks = [asyncio.ensure_future(c) for c in loops]
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            await _cancel_all(tasks)
            if self._pending:  # dead letters of unparsable messages still being handed over
                await asyncio.gather(*self._pending, return_exceptions=True)
            for t in done:
                if t is not stopper and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            return self.stats
        finally:
            stopper.cancel()

    async def _load_markets(self) -> None:
        backoff = self._backoff()
        while True:
            try:
                await self._ex.load_markets()
                self._ex.market(self.cfg.symbol)  # BadSymbol now rather than in every loop
                return
            except _FATAL:
                raise
            except ccxt.BaseError as e:
                await self._pause(backoff, "markets", e)

    def _backoff(self) -> Backoff:
        return Backoff(self.cfg.backoff_min_s, self.cfg.backoff_max_s, self._rng)

    async def _pause(self, backoff: Backoff, stream: str, why: object) -> None:
        delay = backoff.next_delay()
        self.stats.reconnects += 1
        log.warning("%s %s: %s; retrying in %.2f s (attempt %d)", self.market, stream, why, delay, backoff.attempts)
        await asyncio.sleep(delay)

    def _forget_book(self) -> None:
        # A resubscription starts from a fresh snapshot; ccxt would otherwise apply it as deltas on the old book.
        self._ex.orderbooks.pop(self.cfg.symbol, None)

    def _purge_settled_futures(self) -> None:
        """Drop futures that already carry a result or error from the exchange's websocket clients.

        ccxt parks an error raised while nobody waits (the checksum error comes after its own
        unsubscribe) and hands it to the next future for that stream, which then stays in the client
        already failed: ``client.future()`` only replaces cancelled futures, so every later watch
        would fail at once until the next message. A settled future has no waiter left to serve.
        """
        for client in list((self._ex.clients or {}).values()):
            for key, fut in list(client.futures.items()):
                if fut.done():
                    del client.futures[key]

    async def _book_loop(self) -> None:
        backoff = self._backoff()
        while True:
            try:
                book = await asyncio.wait_for(self._ex.watch_order_book(self.cfg.symbol, self.cfg.book_depth),
                                              timeout=self.cfg.stale_after_s)
            except asyncio.TimeoutError:
                # The keep-alive pings would have caught a dead connection, so the subscription itself went
                # quiet: closing the sockets makes the next watch connect and subscribe again.
                self._forget_book()
                await self._ex.close_ws_clients()
                await self._pause(backoff, "order book", f"no update for {self.cfg.stale_after_s:g} s")
            except ccxt.ChecksumError as e:
                # ccxt has already unsubscribed and dropped its book; the next watch subscribes again and
                # the exchange answers with a fresh snapshot (so no local reset here: it may have arrived).
                await self._reject(BOOK_TOPIC, Violation(CHECKSUM_MISMATCH, str(e)), None, self._now_us())
                self._purge_settled_futures()
            except ccxt.UnsubscribeError:
                pass  # the first half of ccxt's checksum-error handling (above): watch again
            except ccxt.ExchangeClosedByUser:
                return  # the exchange object's owner closed it: nothing more can be read
            except _FATAL:
                raise
            except (ccxt.BaseError, asyncio.CancelledError) as e:
                if isinstance(e, asyncio.CancelledError) and _cancelled_from_outside():
                    raise
                self._forget_book()
                await self._pause(backoff, "order book", e if not isinstance(e, asyncio.CancelledError) else "connection closed")
            else:
                backoff.reset()
                await self._on_book(book)

    async def _trade_loop(self) -> None:
        backoff = self._backoff()
        while True:
            try:
                trades = await self._ex.watch_trades(self.cfg.symbol)
            except ccxt.ExchangeClosedByUser:
                return
            except _FATAL:
                raise
            except (ccxt.BaseError, asyncio.CancelledError) as e:
                if isinstance(e, asyncio.CancelledError) and _cancelled_from_outside():
                    raise
                await self._pause(backoff, "trades", e if not isinstance(e, asyncio.CancelledError) else "connection closed")
            else:
                backoff.reset()
                now = self._now_us()
                for t in trades:
                    await self._submit(TRADE_TOPIC, trade_record(self.market, t, now), now)

    async def _poll_loop(self, name: str, interval_s: float, poll: Callable[[], Awaitable[None]]) -> None:
        backoff = self._backoff()
        while True:
            try:
                await poll()
            except _FATAL:
                raise
            except ccxt.NetworkError as e:
                await self._pause(backoff, name, e)
                continue
            except ccxt.BaseError as e:
                # An exchange-side refusal (maintenance, odd payload): say so and try at the next poll.
                log.warning("%s %s poll failed: %s", self.market, name, e)
            else:
                backoff.reset()
            await asyncio.sleep(interval_s)

    # ----------------------------------------------------------------------------------- records

    async def _on_book(self, book: Mapping[str, Any]) -> None:
        now = self._now_us()
        record = book_record(self.market, book, self.cfg.book_depth, now, self._last_book_seq)
        self._last_book_seq = record["sequence"]
        await self._submit(BOOK_TOPIC, record, now)

    async def _poll_funding(self) -> None:
        rate = await self._ex.fetch_funding_rate(self.cfg.symbol)
        now = self._now_us()
        await self._submit(FUNDING_TOPIC, funding_record(self.market, rate, now), now)

    async def _poll_candles(self) -> None:
        rows = await self._ex.fetch_ohlcv(self.cfg.symbol, "1m", limit=3)
        now = self._now_us()
        for row in sorted(rows, key=lambda r: r[0]):
            rec = candle_record(self.market, row)
            # Only closed candles, each once; the still-open minute comes back on a later poll.
            if rec["event_time"] > now or rec["open_time"] <= self._last_candle_open_us:
                continue
            self._last_candle_open_us = rec["open_time"]
            await self._submit(CANDLE_TOPIC, rec, now)

    async def _submit(self, topic: str, record: dict[str, Any], now: int) -> None:
        v = self.validator.validate(topic, record, now)
        if v is None:
            await _call(self._publish, topic, record)
            self.stats.published[topic] += 1
        elif v.reason == DUPLICATE:
            self.stats.duplicates += 1
            log.debug("%s skipped a duplicate on %s: %s", self.market, topic, v.detail)
        else:
            value = json.dumps(record, sort_keys=True, default=str).encode()
            await self._reject(topic, v, value, record["event_id"], now)

    async def _reject(self, topic: str, v: Violation, value: bytes | None, cause: object, now: int | None = None) -> None:
        """Hand the dead letter of one rejected record (or stream event) to the DLQ callback."""
        now = self._now_us() if now is None else now
        rec = dead_letter_record(topic, -1, -1, self.market.encode(), value, str(v), "invalid", PROCESSOR, now_us=now)
        # Not read from a Kafka partition (-1/-1): the id comes from what was rejected instead of an offset.
        rec["event_id"] = make_id("dlq", PROCESSOR, self.market, topic, cause, v.reason)
        self.stats.dead_letters[v.reason] += 1
        log.warning("%s dead letter on %s: %s", self.market, topic, v)
        await _call(self._dead_letter, rec)

async def run_live_feed(cfg: LiveFeedConfig, publish: Publish | Any, dead_letter: DeadLetter | Any, stop_event: asyncio.Event, *,
                        exchange: Any = None, rng: random.Random | None = None,
                        now_us: Callable[[], int] = wall_clock_us) -> FeedStats:
    """Run one market's live feed until ``stop_event`` is set; return what it did.

    ``publish(topic, record)`` receives every valid ``hb.market.*`` record (without ``produce_time``:
    the producer stamps it), ``dead_letter(record)`` every ``hb.dlq.v1`` record; both may be sync or
    async, or an EventProducer (dead letters then go to ``hb.dlq.v1``)::

        await run_live_feed(cfg, producer, producer, stop)

    ``exchange`` (a ccxt.pro object) is created from ``cfg`` when not given and then closed at the
    end; an injected one is left open for its owner.
    """
    own = exchange is None
    ex = make_exchange(cfg) if own else exchange
    try:
        return await LiveFeed(cfg, ex, publish, dead_letter, rng=rng, now_us=now_us).run(stop_event)
    finally:
        if own:
            await ex.close()
