"""A fake Bitget REST server at ccxt's HTTP layer, answering with ccxt's recorded Bitget payloads.

It replaces the ``requests.Session`` a ccxt exchange sends through (``exchange.session``), so the
whole of ccxt runs for real: request building and signing, ``Exchange.fetch`` (status check,
``handle_errors`` with Bitget's error codes, ``handle_http_status_code``), and response parsing.

Bodies come from ``/work/shared/fixtures/ccxt-static/bitget/response.json`` (ccxt's static test
fixtures, read at test time, never copied): each answer is a recorded ``httpResponse`` with the ids,
prices and sizes of the fake's own orders put in. The fake keeps a small order book of the account
(orders, fills) so a test can place, fill, cancel and poll like against the exchange. It checks
every signed request the way Bitget does (API key, passphrase, HMAC-SHA256 signature) and records
every request. Faults are scripted per endpoint: an HTTP status with a body, or a timeout raised
after the request reached the exchange (the response was lost).

Error codes the fake answers with, and ccxt's mapping of them (``ccxt.bitget().exceptions``):
40768 order does not exist -> OrderNotFound; 40762 balance too low -> InsufficientFunds;
45110 below the minimum -> InvalidOrder; 40006 bad key / 40009 bad signature -> AuthenticationError;
429 -> DDoSProtection (JSON body) or RateLimitExceeded (no JSON body, via the HTTP status).
A duplicate clientOid is answered with code 40786, which ccxt does not classify (ExchangeError).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

import ccxt
import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

FIXTURE_DIR = Path(__file__).resolve().parents[4] / ".." / "shared" / "fixtures" / "ccxt-static" / "bitget"

# Obviously fake credentials: nothing here can sign a real request.
FAKE_API_KEY = "bg_FAKE_apikey_DO_NOT_USE_0123456789"
FAKE_SECRET = "FAKE-secret-DO-NOT-USE-9f8e7d6c5b4a39281706"
FAKE_PASSPHRASE = "FAKEpassphraseDoNotUse42"

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

# Contract definitions for load_markets (fetchMarkets is not in the recorded fixtures): the fields
# Bitget documents for GET /api/v2/mix/market/contracts, as ccxt's bitget.fetch_markets shows them.
CONTRACTS = [
    {
        "symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "buyLimitPriceRatio": "0.01",
        "sellLimitPriceRatio": "0.01", "feeRateUpRatio": "0.005", "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0006", "openCostUpRatio": "0.01", "supportMarginCoins": ["USDT"],
        "minTradeNum": "0.001", "priceEndStep": "1", "volumePlace": "3", "pricePlace": "1",
        "sizeMultiplier": "0.001", "symbolType": "perpetual", "minTradeUSDT": "5",
        "maxSymbolOrderNum": "200", "maxProductOrderNum": "400", "maxPositionNum": "150",
        "symbolStatus": "normal", "offTime": "-1", "limitOpenTime": "-1", "deliveryTime": "",
        "deliveryStartTime": "", "deliveryPeriod": "", "launchTime": "", "fundInterval": "8",
        "minLever": "1", "maxLever": "125", "posLimit": "0.05", "maintainTime": "",
    },
    {
        "symbol": "LTCUSDT", "baseCoin": "LTC", "quoteCoin": "USDT", "buyLimitPriceRatio": "0.05",
        "sellLimitPriceRatio": "0.05", "feeRateUpRatio": "0.005", "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0006", "openCostUpRatio": "0.01", "supportMarginCoins": ["USDT"],
        "minTradeNum": "0.1", "priceEndStep": "1", "volumePlace": "1", "pricePlace": "2",
        "sizeMultiplier": "0.1", "symbolType": "perpetual", "minTradeUSDT": "5",
        "maxSymbolOrderNum": "200", "maxProductOrderNum": "400", "maxPositionNum": "150",
        "symbolStatus": "normal", "offTime": "-1", "limitOpenTime": "-1", "deliveryTime": "",
        "deliveryStartTime": "", "deliveryPeriod": "", "launchTime": "", "fundInterval": "8",
        "minLever": "1", "maxLever": "75", "posLimit": "0.05", "maintainTime": "",
    },
]

_CACHE: dict[str, Any] = {}


def recorded(kind: str) -> dict[str, Any]:
    """``request.json`` or ``response.json`` of the recorded fixtures (parsed once)."""
    if kind not in _CACHE:
        _CACHE[kind] = json.loads((FIXTURE_DIR / f"{kind}.json").read_text())
    return _CACHE[kind]


def recorded_case(kind: str, method: str, description: str) -> dict[str, Any]:
    """A deep copy of one recorded case (``kind`` = 'request' or 'response')."""
    for case in recorded(kind)["methods"][method]:
        if case["description"] == description:
            return copy.deepcopy(case)
    raise KeyError(f"no recorded {kind} case {method!r} / {description!r}")


def recorded_body(method: str, description: str) -> dict[str, Any]:
    """The recorded raw exchange JSON (``httpResponse``) of a response case."""
    return recorded_case("response", method, description)["httpResponse"]


def _num(x: float) -> str:
    """Bitget's number strings: no exponent, no trailing zeros."""
    s = f"{x:.10f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


@dataclass
class SeenRequest:
    """One request ccxt sent, as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_body: str
    status: int = 0


@dataclass
class Fault:
    """A scripted failure of the next matching request."""

    status: int = 0
    body: Any = None  # dict -> JSON, str -> raw text, callable(SeenRequest) -> either
    reach: bool = False  # process the request first (the exchange acted; the answer is lost/failed)
    exc: BaseException | None = None  # raise this from the HTTP layer instead of answering


@dataclass
class FakeOrder:
    order_id: str
    client_oid: str
    symbol: str
    side: str
    price: float | None
    size: float
    force: str
    reduce_only: bool
    c_time: int
    u_time: int
    filled: float = 0.0
    notional: float = 0.0
    fee: float = 0.0
    state: str = "live"  # live | partially_filled | filled | canceled
    uta: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in ("live", "partially_filled")


@dataclass
class FakeFill:
    trade_id: str
    order_id: str
    symbol: str
    side: str
    price: float
    qty: float
    fee: float  # paid, positive
    maker: bool
    ts: int


class FakeBitget:
    """A stateful Bitget REST endpoint behind ccxt's ``session.request`` (see the module doc)."""

    def __init__(self, api_key: str = FAKE_API_KEY, secret: str = FAKE_SECRET, passphrase: str = FAKE_PASSPHRASE) -> None:
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        self.keys: dict[str, tuple[str, str]] = {api_key: (secret, passphrase)}  # api key -> (secret, passphrase)
        self.headers: dict[str, str] = {}  # ccxt merges session.headers into every request
        self.cookies = RequestsCookieJar()
        self.requests: list[SeenRequest] = []
        self.orders: dict[str, FakeOrder] = {}
        self.fills: list[FakeFill] = []
        self.now_ms = T0_MS
        self._next_id = 1_400_000_000_000_000_000
        self._faults: dict[tuple[str, str], list[Fault]] = {}
        self.maker_fee = 0.0002
        self.taker_fee = 0.0006
        self.initial_usdt = 10_000.0
        self.outside_position: dict[str, float] = {}  # base held on the exchange that no fill here explains

    # ------------------------------------------------------------------ wiring
    def attach(self, exchange: Any) -> Any:
        """Route ``exchange``'s HTTP through this fake; returns the exchange."""
        exchange.session = self
        return exchange

    def close(self) -> None:
        """requests.Session API (ccxt may call it)."""

    # ------------------------------------------------------------------ scripting
    def add_key(self, api_key: str, secret: str, passphrase: str) -> None:
        """Another API key of the same account (e.g. the kill switch's); requests record which key signed them."""
        self.keys[api_key] = (secret, passphrase)

    def fail_next(self, method: str, path: str, *faults: Fault) -> None:
        """The next ``len(faults)`` ``method path`` requests fail as scripted, in order."""
        self._faults.setdefault((method.upper(), path), []).extend(faults)

    def add_order(self, client_oid: str, side: str, price: float, size: float, symbol: str = "BTCUSDT", force: str = "gtc", uta: bool = False) -> FakeOrder:
        """An order placed by someone else (the exchange's web UI, a previous run)."""
        return self._create(symbol, client_oid, side, price, size, force, False, uta)

    def fill(self, order_ref: str, qty: float, price: float | None = None, maker: bool = True) -> FakeFill:
        """Fill ``qty`` of an open order (by order id or client oid) at ``price`` (default: its limit)."""
        o = self.orders.get(order_ref) or next(o for o in self.orders.values() if o.client_oid == order_ref)
        assert o.is_open, f"order {order_ref} is {o.state}"
        px = o.price if price is None else price
        assert px is not None
        qty = min(qty, o.size - o.filled)
        self.now_ms += 1
        fee = px * qty * (self.maker_fee if maker else self.taker_fee)
        f = FakeFill(self._new_id(), o.order_id, o.symbol, o.side, px, qty, fee, maker, self.now_ms)
        self.fills.append(f)
        o.filled += qty
        o.notional += px * qty
        o.fee += fee
        o.u_time = self.now_ms
        o.state = "filled" if o.filled >= o.size - 1e-12 else "partially_filled"
        return f

    def requests_to(self, path: str, method: str | None = None) -> list[SeenRequest]:
        """Recorded requests to ``path`` (optionally of one HTTP method)."""
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def open_orders(self) -> list[FakeOrder]:
        """Orders open on the fake exchange."""
        return [o for o in self.orders.values() if o.is_open]

    # ------------------------------------------------------------------ HTTP (requests.Session API)
    def request(self, method: str, url: str, data: Any = None, headers: Any = None, timeout: Any = None,
                proxies: Any = None, verify: Any = None, files: Any = None) -> requests.Response:
        parts = urlsplit(url)
        raw_body = data.decode() if isinstance(data, bytes) else (data or "")
        body = json.loads(raw_body) if raw_body else None
        seen = SeenRequest(method.upper(), parts.path, dict(parse_qsl(parts.query)), dict(headers or {}), body, raw_body)
        self.requests.append(seen)
        queue = self._faults.get((seen.method, seen.path))
        fault = queue.pop(0) if queue else None
        if fault is not None and not fault.reach:
            return self._fault(seen, url, fault)
        status, payload = self._handle(seen, parts.query)
        if fault is not None:  # reached the exchange: state changed, but the caller sees the fault
            return self._fault(seen, url, fault)
        seen.status = status
        return self._response(url, status, payload)

    def _fault(self, seen: SeenRequest, url: str, fault: Fault) -> requests.Response:
        if fault.exc is not None:
            seen.status = -1
            raise fault.exc
        body = fault.body(seen) if callable(fault.body) else fault.body
        seen.status = fault.status
        return self._response(url, fault.status, body)

    def _response(self, url: str, status: int, payload: Any) -> requests.Response:
        r = requests.Response()
        r.status_code = status
        r.reason = HTTPStatus(status).phrase
        r.url = url
        is_json = not isinstance(payload, str)
        text = json.dumps(payload) if is_json else payload
        r._content = text.encode()
        r.encoding = "utf-8"
        r.headers = CaseInsensitiveDict({"Content-Type": "application/json" if is_json else "text/html"})
        return r

    # ------------------------------------------------------------------ routing
    def _handle(self, req: SeenRequest, raw_query: str) -> tuple[int, Any]:
        p = req.path
        if p == "/api/v2/spot/public/coins":
            return 200, self._ok([])
        if p == "/api/v2/mix/market/contracts":
            data = copy.deepcopy(CONTRACTS) if req.query.get("productType") == "USDT-FUTURES" else []
            return 200, self._ok(data)
        auth = self._check_auth(req, raw_query)
        if auth is not None:
            return auth
        routes: dict[tuple[str, str], Callable[[SeenRequest], tuple[int, Any]]] = {
            ("POST", "/api/v2/mix/order/place-order"): self._place,
            ("POST", "/api/v3/trade/place-order"): self._place,
            ("POST", "/api/v2/mix/order/cancel-order"): self._cancel,
            ("POST", "/api/v3/trade/cancel-order"): self._cancel,
            ("POST", "/api/v2/mix/order/batch-cancel-orders"): self._cancel_all,
            ("POST", "/api/v3/trade/cancel-symbol-order"): self._cancel_all,
            ("GET", "/api/v2/mix/order/orders-pending"): self._pending,
            ("GET", "/api/v3/trade/unfilled-orders"): self._pending,
            ("GET", "/api/v2/mix/order/fills"): self._fills,
            ("GET", "/api/v3/trade/fills"): self._fills,
            ("GET", "/api/v2/mix/order/detail"): self._detail,
            ("GET", "/api/v2/mix/position/all-position"): self._positions,
            ("GET", "/api/v2/mix/account/accounts"): self._accounts,
            ("GET", "/api/v3/trade/order-info"): self._detail,
        }
        handler = routes.get((req.method, p))
        if handler is None:
            return 404, self._err("40404", f"Request URL NOT FOUND {p}")
        return handler(req)

    def _check_auth(self, req: SeenRequest, raw_query: str) -> tuple[int, Any] | None:
        h = req.headers
        secret, passphrase = self.keys.get(str(h.get("ACCESS-KEY")), ("", None))
        if h.get("ACCESS-PASSPHRASE") != passphrase:
            return 400, self._err("40006", "Invalid ACCESS_KEY")
        prehash = h.get("ACCESS-TIMESTAMP", "") + req.method + req.path
        if req.method == "GET":
            if raw_query:
                prehash += "?" + unquote(raw_query)
        else:
            prehash += req.raw_body
        expected = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        if h.get("ACCESS-SIGN") != expected:
            return 400, self._err("40009", "sign signature error")
        return None

    # ------------------------------------------------------------------ endpoints
    def _place(self, req: SeenRequest) -> tuple[int, Any]:
        b = req.body or {}
        uta = req.path.startswith("/api/v3/")
        cid = b.get("clientOid") or self._new_id()
        if any(o.client_oid == cid for o in self.orders.values()):
            return 400, self._err("40786", "Duplicate clientOid")
        size = float(b["qty"] if uta else b["size"])
        force = str(b.get("timeInForce" if uta else "force") or "gtc").lower()
        price = float(b["price"]) if b.get("price") not in (None, "") else None
        o = self._create(b["symbol"], cid, b["side"], price, size, force, str(b.get("reduceOnly", "")).upper() == "YES", uta)
        if uta:
            body = recorded_body("createOrder", "uta swap create order with posSide param")
        else:
            # Same {orderId, clientOid} answer as the mix place-order endpoint.
            body = recorded_body("createOrder", "create spot order")
        body["data"] = {"orderId": o.order_id, "clientOid": o.client_oid}
        body["requestTime"] = str(self.now_ms)
        return 200, body

    def _find(self, b: dict[str, Any]) -> FakeOrder | None:
        if b.get("orderId"):
            return self.orders.get(str(b["orderId"]))
        cid = b.get("clientOid")
        return next((o for o in self.orders.values() if o.client_oid == cid), None) if cid else None

    def _cancel(self, req: SeenRequest) -> tuple[int, Any]:
        o = self._find(req.body or {})
        if o is None or not o.is_open:
            return 400, self._err("40768", "Order does not exist")
        self._cancel_order(o)
        if req.path.startswith("/api/v3/"):
            body = recorded_body("cancelOrder", "cancel uta linear swap order using the clientOrderId")
        else:
            body = recorded_body("cancelOrder", "linear swap cancelOrder by clientOrderId")
        body["data"] = {"orderId": o.order_id, "clientOid": o.client_oid}
        body["requestTime"] = str(self.now_ms)
        return 200, body

    def _cancel_all(self, req: SeenRequest) -> tuple[int, Any]:
        symbol = (req.body or {}).get("symbol")
        victims = [o for o in self.orders.values() if o.is_open and o.symbol == symbol]
        for o in victims:
            self._cancel_order(o)
        entries = [{"orderId": o.order_id, "clientOid": o.client_oid} for o in victims]
        if req.path.startswith("/api/v3/"):
            body = recorded_body("cancelAllOrders", "uta swap cancelAllOrders")
            body["data"] = {"list": entries}
        else:
            # batch-cancel-orders answers like the recorded mix cancel-plan-order: successList / failureList.
            body = recorded_body("cancelOrder", "trailing cancel order with clientOrderId")
            body["data"] = {"successList": entries, "failureList": []}
        body["requestTime"] = str(self.now_ms)
        return 200, body

    def _pending(self, req: SeenRequest) -> tuple[int, Any]:
        uta = req.path.startswith("/api/v3/")
        symbol = req.query.get("symbol")
        live = [o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]
        live.sort(key=lambda o: o.c_time, reverse=True)
        if uta:
            body = recorded_body("fetchOpenOrders", "uta swap fetchOpenOrders")
            template = body["data"]["list"][0]
            body["data"] = {"list": [self._uta_order(template, o) for o in live], "cursor": live[-1].order_id if live else ""}
        else:
            # orders-pending entries carry the fields of the recorded mix order detail.
            body = recorded_body("fetchOrder", "swap market buy")
            template = body["data"]
            body["data"] = {"entrustedList": [self._mix_order(template, o) for o in live] or None, "endId": live[-1].order_id if live else ""}
        body["requestTime"] = str(self.now_ms)
        return 200, body

    def _detail(self, req: SeenRequest) -> tuple[int, Any]:
        o = self._find(req.query)
        if o is None:
            return 400, self._err("40768", "Order does not exist")
        if req.path.startswith("/api/v3/"):
            body = recorded_body("fetchOrder", "uta swap fetchOrder")
            body["data"] = self._uta_order(body["data"], o)
        else:
            body = recorded_body("fetchOrder", "swap market buy")
            body["data"] = self._mix_order(body["data"], o)
        body["requestTime"] = str(self.now_ms)
        return 200, body

    def _fills(self, req: SeenRequest) -> tuple[int, Any]:
        q = req.query
        uta = req.path.startswith("/api/v3/")
        start = int(q.get("startTime", 0))
        end = int(q["endTime"]) if "endTime" in q else None
        limit = int(q.get("limit", 100))
        rows = [f for f in self.fills if f.ts >= start and (end is None or f.ts <= end)
                and (uta or f.symbol == q.get("symbol"))]
        rows.sort(key=lambda f: (f.ts, f.trade_id), reverse=True)  # newest first, like Bitget
        rows = rows[:limit]
        if uta:
            body = recorded_body("fetchMyTrades", "uta swap fetchMyTrades")
            template = body["data"]["list"][0]
            body["data"] = {"list": [self._uta_fill(template, f) for f in rows], "cursor": rows[-1].trade_id if rows else ""}
        else:
            body = recorded_body("fetchMyTrades", "swap trade")
            template = body["data"]["fillList"][0]
            body["data"] = {"fillList": [self._mix_fill(template, f) for f in rows] or None, "endId": rows[-1].trade_id if rows else ""}
        body["requestTime"] = str(self.now_ms)
        return 200, body

    def net_position(self, symbol: str = "BTCUSDT") -> float:
        """The account's net position: its fills, plus anything put there from outside."""
        return sum(f.qty if f.side == "buy" else -f.qty for f in self.fills if f.symbol == symbol) \
            + self.outside_position.get(symbol, 0.0)

    def usdt_balance(self) -> float:
        """Cash after the fills' notional and fees (a perp account would hold margin; this is the quote flow)."""
        return self.initial_usdt + sum((-1 if f.side == "buy" else 1) * f.qty * f.price - f.fee for f in self.fills)

    def _positions(self, req: SeenRequest) -> tuple[int, Any]:
        body = recorded_body("fetchPositions", "Linear position")
        template = body["data"][0]
        rows = []
        for symbol in sorted({f.symbol for f in self.fills} | set(self.outside_position)):
            net = self.net_position(symbol)
            if abs(net) < 1e-12:
                continue
            row = copy.deepcopy(template)
            row.update(symbol=symbol, holdSide="long" if net > 0 else "short", total=_num(abs(net)),
                       available=_num(abs(net)), locked="0", marginCoin="USDT", posMode="one_way_mode")
            rows.append(row)
        body["data"], body["requestTime"] = rows, str(self.now_ms)
        return 200, body

    def _accounts(self, req: SeenRequest) -> tuple[int, Any]:
        # No recorded body: the fields Bitget documents for GET /api/v2/mix/account/accounts.
        cash = _num(self.usdt_balance())
        return 200, self._ok([{"marginCoin": "USDT", "locked": "0", "available": cash, "crossedMaxAvailable": cash,
                               "isolatedMaxAvailable": cash, "maxTransferOut": cash, "accountEquity": cash, "usdtEquity": cash,
                               "btcEquity": "0", "crossedRiskRate": "0", "unrealizedPL": "0", "coupon": "0",
                               "crossedUnrealizedPL": "0", "isolatedUnrealizedPL": "0"}])

    # ------------------------------------------------------------------ payload builders
    def _mix_order(self, template: dict[str, Any], o: FakeOrder) -> dict[str, Any]:
        d = copy.deepcopy(template)
        d.update(
            symbol=o.symbol, size=_num(o.size), orderId=o.order_id, clientOid=o.client_oid,
            baseVolume=_num(o.filled), fee=_num(-o.fee), price="" if o.price is None else _num(o.price),
            priceAvg=_num(o.notional / o.filled) if o.filled else "", state=o.state, side=o.side, force=o.force,
            posSide="net", posMode="one_way_mode", tradeSide="open", orderType="limit" if o.price is not None else "market",
            reduceOnly="YES" if o.reduce_only else "NO", quoteVolume=_num(o.notional), orderSource="normal",
            cTime=str(o.c_time), uTime=str(o.u_time),
        )
        return d

    def _uta_order(self, template: dict[str, Any], o: FakeOrder) -> dict[str, Any]:
        d = copy.deepcopy(template)
        state = {"canceled": "cancelled"}.get(o.state, o.state)
        d.update(
            orderId=o.order_id, clientOid=o.client_oid, symbol=o.symbol, orderType="limit" if o.price is not None else "market",
            side=o.side, price="" if o.price is None else _num(o.price), qty=_num(o.size), cumExecQty=_num(o.filled),
            cumExecValue=_num(o.notional), avgPrice=_num(o.notional / o.filled) if o.filled else "0", timeInForce=o.force,
            orderStatus=state, posSide="", holdMode="one_way_mode", reduceOnly="YES" if o.reduce_only else "NO",
            feeDetail=[{"feeCoin": "USDT" if o.fee else "", "fee": _num(o.fee) if o.fee else ""}],
            createdTime=str(o.c_time), updatedTime=str(o.u_time),
        )
        return d

    def _mix_fill(self, template: dict[str, Any], f: FakeFill) -> dict[str, Any]:
        d = copy.deepcopy(template)
        d.update(
            tradeId=f.trade_id, symbol=f.symbol, orderId=f.order_id, price=_num(f.price), baseVolume=_num(f.qty),
            side=f.side, quoteVolume=_num(f.price * f.qty), profit="0", tradeSide="open", posMode="one_way_mode",
            tradeScope="maker" if f.maker else "taker", cTime=str(f.ts),
        )
        # Bitget's mix fills report a paid fee as a negative totalFee.
        d["feeDetail"] = [dict(d["feeDetail"][0], feeCoin="USDT", totalFee=_num(-f.fee))]
        return d

    def _uta_fill(self, template: dict[str, Any], f: FakeFill) -> dict[str, Any]:
        d = copy.deepcopy(template)
        d.update(
            execId=f.trade_id, orderId=f.order_id, symbol=f.symbol, orderType="limit", side=f.side,
            execPrice=_num(f.price), execQty=_num(f.qty), execValue=_num(f.price * f.qty),
            tradeScope="maker" if f.maker else "taker", createdTime=str(f.ts), updatedTime=str(f.ts), execPnl="0",
        )
        d["feeDetail"] = [{"feeCoin": "USDT", "fee": _num(f.fee)}]  # as recorded: a positive number
        return d

    # ------------------------------------------------------------------ helpers
    def _create(self, symbol: str, cid: str, side: str, price: float | None, size: float, force: str, reduce_only: bool, uta: bool) -> FakeOrder:
        self.now_ms += 1
        o = FakeOrder(self._new_id(), cid, symbol, side, price, size, force, reduce_only, self.now_ms, self.now_ms, uta=uta)
        self.orders[o.order_id] = o
        return o

    def _cancel_order(self, o: FakeOrder) -> None:
        self.now_ms += 1
        o.state = "canceled"
        o.u_time = self.now_ms

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _ok(self, data: Any) -> dict[str, Any]:
        return {"code": "00000", "msg": "success", "requestTime": str(self.now_ms), "data": data}

    def _err(self, code: str, msg: str) -> dict[str, Any]:
        return {"code": code, "msg": msg, "requestTime": str(self.now_ms), "data": None}


def bitget_error(code: str, msg: str) -> dict[str, Any]:
    """A Bitget error body."""
    return {"code": code, "msg": msg, "requestTime": str(T0_MS), "data": None}


def rate_limited_json() -> Fault:
    """HTTP 429 with Bitget's JSON body (ccxt: DDoSProtection via the code map)."""
    return Fault(429, bitget_error("429", "Too Many Requests"))


def rate_limited_plain() -> Fault:
    """HTTP 429 without a JSON body (ccxt: RateLimitExceeded via the HTTP status map)."""
    return Fault(429, "Too Many Requests")


def unavailable() -> Fault:
    """HTTP 503 from a load balancer (ccxt: ExchangeNotAvailable)."""
    return Fault(503, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")


def lost_response() -> Fault:
    """The exchange executes the request but the answer never comes (ccxt: RequestTimeout)."""
    return Fault(reach=True, exc=requests.exceptions.ReadTimeout("Read timed out. (read timeout=10.0)"))


def make_exchange(fake: FakeBitget, unified: bool = False, api_key: str | None = None) -> Any:
    """A real ``ccxt.bitget`` with fake credentials, its HTTP through ``fake``, markets loaded through it."""
    from processors.execution.keys import ExchangeKey
    from processors.execution.live import LiveVenueConfig, build_exchange
    from pydantic import SecretStr

    key = ExchangeKey(role="trade", api_key=SecretStr(api_key or fake.api_key), secret=SecretStr(fake.secret),
                      passphrase=SecretStr(fake.passphrase), source="test")
    cfg = LiveVenueConfig(exchange_id="bitget", symbol="BTC/USDT:USDT", rate_limit_ms=1, unified_account=unified)
    ex = fake.attach(build_exchange(cfg, key))
    if unified:
        # Markets through the classic (v2) contracts endpoint, the one the fake serves.
        loader = fake.attach(build_exchange(cfg.model_copy(update={"unified_account": False}), key))
        loader.load_markets()
        ex.set_markets(list(loader.markets.values()), loader.currencies)
    else:
        ex.load_markets()
    assert isinstance(ex, ccxt.bitget)
    return ex
