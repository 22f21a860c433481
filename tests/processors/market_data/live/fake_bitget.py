"""Test doubles for Bitget below the real ccxt.pro code: a loopback websocket server and a recorded-REST ``fetch``.

:class:`FakeBitgetWs` speaks the part of Bitget's public WS v2 protocol that ccxt.pro's ``bitget`` uses
for books and trades: it acknowledges ``subscribe``/``unsubscribe`` ops as Bitget does
(``{"event": "subscribe", "arg": {...}}``), answers the text ``ping`` with ``pong``, and lets a test push
``books``/``books15`` and ``trade`` frames in Bitget's format (``action`` snapshot/update, ``arg`` with
``instType``/``channel``/``instId``, ``data`` items with string prices/sizes, ``seq``, ``checksum``,
``ts``) and drop a connection abruptly. It is served by aiohttp (already a ccxt dependency).

:func:`recorded_fetch` replaces the exchange's HTTP ``fetch`` with the recorded Bitget payloads of
``shared/fixtures/ccxt-static/bitget`` (ccxt's own static test data); everything above it is real ccxt.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import WSMsgType, web

import ccxt.pro

FIXTURES = Path(__file__).resolve().parents[4] / ".." / "shared" / "fixtures" / "ccxt-static" / "bitget"
INST = {"instType": "USDT-FUTURES", "instId": "BTCUSDT"}

# A BTC/USDT:USDT perpetual as Bitget's v2 contracts endpoint documents it (symbol BTCUSDT, baseCoin BTC,
# quoteCoin USDT, pricePlace 1, volumePlace 4, sizeMultiplier 0.0001, maker 0.0002, taker 0.0006), in
# ccxt's unified market shape; the recorded fixtures have no fetchMarkets case.
BTC_PERP = {
    "id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
    "baseId": "BTC", "quoteId": "USDT", "settleId": "USDT", "type": "swap", "spot": False, "margin": False,
    "swap": True, "future": False, "option": False, "active": True, "contract": True, "linear": True,
    "inverse": False, "contractSize": 1.0, "maker": 0.0002, "taker": 0.0006,
    "precision": {"amount": 0.0001, "price": 0.1},
    "limits": {"amount": {"min": 0.0001, "max": None}, "price": {"min": None, "max": None},
               "cost": {"min": 5.0, "max": None}, "leverage": {"min": 1.0, "max": 125.0}},
    "info": {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "pricePlace": "1", "volumePlace": "4",
             "sizeMultiplier": "0.0001", "symbolType": "perpetual", "symbolStatus": "normal"},
}


def bitget_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """Bitget's book checksum: CRC32 (signed) of bid1:ask1:bid2:ask2... over 25 levels, as raw strings."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 2**32 if crc >= 2**31 else crc


@dataclass
class ServerBook:
    """The exchange side of an incremental book: price string -> size string, to compute checksums."""

    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)

    def apply(self, bids: Iterable[list[str]], asks: Iterable[list[str]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for p, s in levels:
                if float(s) == 0:
                    side.pop(p, None)
                else:
                    side[p] = s

    def checksum(self) -> int:
        bids = sorted(([p, s] for p, s in self.bids.items()), key=lambda x: -float(x[0]))
        asks = sorted(([p, s] for p, s in self.asks.items()), key=lambda x: float(x[0]))
        return bitget_checksum(bids, asks)


class Connection:
    """One accepted websocket connection (one ccxt client)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self._subs: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.unsubscribed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def _queue(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        return self._subs.setdefault(channel, asyncio.Queue())

    async def subscribed(self, channel: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the client to subscribe ``channel`` on this connection; the subscription ``arg``."""
        return await asyncio.wait_for(self._queue(channel).get(), timeout)

    async def send(self, frame: dict[str, Any] | str) -> None:
        """Push a frame (a dict is sent as JSON text, like Bitget)."""
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def book(self, channel: str, action: str, bids: list[list[str]], asks: list[list[str]], *, seq: int,
                   ts_ms: int, checksum: int | None = None) -> None:
        """A Bitget ``books``/``booksN`` frame."""
        item: dict[str, Any] = {"asks": asks, "bids": bids, "checksum": 0 if checksum is None else checksum,
                                "seq": seq, "ts": str(ts_ms)}
        await self.send({"action": action, "arg": {**INST, "channel": channel}, "data": [item], "ts": ts_ms + 3})

    async def trades(self, action: str, trades: list[dict[str, str]], ts_ms: int) -> None:
        """A Bitget ``trade`` frame; ``trades`` newest first, as Bitget sends them."""
        await self.send({"action": action, "arg": {**INST, "channel": "trade"}, "data": trades, "ts": ts_ms})

    async def drop(self) -> None:
        """Cut the connection without a close frame, like a network failure."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class FakeBitgetWs:
    """Loopback Bitget public WS v2 endpoint; ``url`` goes into ``exchange.urls['api']['ws']['public']``."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[Connection] = asyncio.Queue()
        self.accepted = 0
        self.pings = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeBitgetWs:
        app = web.Application()
        app.router.add_get("/v2/ws/public", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/v2/ws/public"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def next_connection(self, timeout: float = 5.0) -> Connection:
        """Wait for the client's next connection."""
        return await asyncio.wait_for(self.connections.get(), timeout)

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.accepted += 1
        self.connections.put_nowait(conn)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if msg.data == "ping":  # Bitget's keep-alive is the text 'ping' answered by 'pong'
                self.pings += 1
                await ws.send_str("pong")
                continue
            request_msg = json.loads(msg.data)
            op = request_msg.get("op")
            for arg in request_msg.get("args", []):
                if op == "subscribe":
                    await ws.send_str(json.dumps({"event": "subscribe", "arg": arg}))
                    conn._queue(arg["channel"]).put_nowait(arg)
                elif op == "unsubscribe":
                    await ws.send_str(json.dumps({"event": "unsubscribe", "arg": arg}))
                    conn.unsubscribed.put_nowait(arg)
        return ws


def _recorded(kind: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{kind}.json").read_text())


def recorded_fetch(exchange: Any, calls: list[str]) -> None:
    """Serve ccxt's REST calls from the recorded Bitget payloads (URL path -> recorded ``httpResponse``).

    Covers what the live feed polls: current funding rate and USDT-M 1m candles. ``calls`` receives
    every requested URL; an unexpected one fails loudly.
    """
    methods = _recorded("response")["methods"]
    funding = next(c for c in methods["fetchFundingRate"] if c["input"] == ["BTC/USDT:USDT"])["httpResponse"]
    candles = next(c for c in methods["fetchOHLCV"] if c["description"] == "linear ohlcv")["httpResponse"]
    routes = {"/api/v2/mix/market/current-fund-rate": funding, "/api/v2/mix/market/candles": candles}

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        calls.append(url)
        path = urlsplit(url).path
        if path not in routes:
            raise AssertionError(f"unexpected request {method} {url}")
        return json.loads(json.dumps(routes[path]))  # a fresh copy each time, as from the wire

    exchange.fetch = fetch


def recorded_request_url(method: str, inputs: list[Any]) -> str:
    """The URL ccxt is recorded to call for ``method(*inputs)`` (from ``request.json``)."""
    cases = _recorded("request")["methods"][method]
    return next(c["url"] for c in cases if c["input"] == inputs)


def query(url: str) -> dict[str, list[str]]:
    """Query parameters of ``url``."""
    return parse_qs(urlsplit(url).query)


def bitget_exchange(ws_url: str, rest_calls: list[str], keep_alive_ms: int = 300) -> Any:
    """A real ccxt.pro bitget pointed at the loopback server, markets set, REST served from recordings."""
    ex = ccxt.pro.bitget({"enableRateLimit": False})
    ex.urls["api"]["ws"]["public"] = ws_url
    ex.streaming["keepAlive"] = keep_alive_ms  # ping often, so the server's pong path is exercised
    ex.set_markets([ex.safe_market_structure(BTC_PERP)])
    recorded_fetch(ex, rest_calls)
    return ex
