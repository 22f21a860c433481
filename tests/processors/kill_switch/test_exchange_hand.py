"""The live kill switch's hand on the exchange: the exchange's own dead-man's switch (cancel-all-after).

Bybit exposes ``cancelAllOrdersAfter`` in ccxt (Bitget does not): the real ccxt ``bybit`` code
builds and signs the request; only its HTTP session is replaced, answering as Bybit documents
(``{"retCode": 0, "retMsg": "success"}``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from processors.execution.keys import ExchangeKey
from processors.execution.live import CcxtVenue, LiveVenueConfig, build_exchange
from processors.kill_switch.exchange import ExchangeHand
from tests.processors.execution.live.fake_bitget import FakeBitget, make_exchange

DCP_PATH = "/v5/order/disconnected-cancel-all"
KEY = ExchangeKey(role="kill_switch", api_key=SecretStr("FAKEbybitKEY0000"), secret=SecretStr("FAKEbybitSECRET0000"),
                  source="test")


class BybitSession:
    """Bybit's REST endpoint for the one call under test, at ccxt's HTTP layer; records every request."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.cookies = RequestsCookieJar()
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, data: Any = None, headers: Any = None, **kwargs: Any) -> requests.Response:
        body = json.loads(data) if data else {}
        self.seen.append((method, urlsplit(url).path, body))
        r = requests.Response()
        r.status_code, r.url, r.encoding = 200, url, "utf-8"
        r._content = json.dumps({"retCode": 0, "retMsg": "success", "result": {}, "retExtInfo": {}, "time": 1767225600000}).encode()
        r.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        return r

    def close(self) -> None:
        """requests.Session API."""


def _bybit_hand() -> tuple[ExchangeHand, BybitSession]:
    cfg = LiveVenueConfig(exchange_id="bybit", symbol="BTC/USDT:USDT", rate_limit_ms=1)
    ex = build_exchange(cfg, KEY)
    session = BybitSession()
    ex.session = session
    # The market as ccxt describes it, so start-up needs no market download.
    ex.set_markets([{"id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
                     "baseId": "BTC", "quoteId": "USDT", "settleId": "USDT", "type": "swap", "spot": False, "swap": True,
                     "future": False, "option": False, "contract": True, "linear": True, "inverse": False, "active": True,
                     "contractSize": 1.0, "precision": {"amount": 0.001, "price": 0.1}, "limits": {}, "info": {}}])
    venue = CcxtVenue(ex, cfg, "k1", "bybit:BTC/USDT:USDT", key=KEY)
    return ExchangeHand(venue, "kill_switch", lambda: 1_767_225_600_000_000), session


def test_when_the_instance_is_active_then_the_exchange_timer_is_rearmed_every_third_of_the_deadman_time() -> None:
    hand, session = _bybit_hand()

    first = hand.heartbeat(120.0, active=True, now_s=0.0)
    hand.heartbeat(120.0, active=True, now_s=10.0)
    hand.heartbeat(120.0, active=True, now_s=41.0)

    calls = [s for s in session.seen if s[1] == DCP_PATH]
    assert [(m, b.get("timeWindow"), b.get("product")) for m, _, b in calls] == [("POST", 120, "DERIVATIVES")] * 2
    assert [(t, r["action"], r["details"]["timeout_ms"]) for t, r in first] == \
        [("hb.audit.v1", "exchange_cancel_all_after_armed", "120000")]


def test_when_the_instance_goes_silent_then_the_timer_is_left_to_run_out() -> None:
    hand, session = _bybit_hand()
    hand.heartbeat(30.0, active=True, now_s=0.0)

    assert hand.heartbeat(30.0, active=False, now_s=100.0) == []
    assert hand.heartbeat(0.0, active=True, now_s=200.0) == []  # HBOT_DEADMAN_AFTER_S=0: off

    assert len([s for s in session.seen if s[1] == DCP_PATH]) == 1


def test_when_the_exchange_has_no_cancel_all_after_then_nothing_is_sent() -> None:
    fake = FakeBitget()
    ex = make_exchange(fake)
    venue = CcxtVenue(ex, LiveVenueConfig(exchange_id="bitget", symbol="BTC/USDT:USDT", rate_limit_ms=1), "b1", "bitget:BTC/USDT:USDT")
    sent_before = len(fake.requests)

    assert ExchangeHand(venue, "kill_switch", lambda: 0).heartbeat(60.0, active=True, now_s=0.0) == []
    assert len(fake.requests) == sent_before
