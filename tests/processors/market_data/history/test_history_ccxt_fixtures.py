"""The fake Bitget sits under real ccxt: recorded requests and responses reproduce exactly.

Every recorded case of the four REST paths the history fetcher relies on (fetchOHLCV,
fetchFundingRateHistory, fetchOrderBook, fetchTrades) is run through the real ``ccxt.bitget`` with
only the HTTP transport faked: the URL ccxt builds must equal the recorded one, and parsing the
recorded body must give the recorded unified structure.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlparse

import ccxt
import pytest

from tests.processors.market_data.history.bitget_fake import FakeBitget, bitget_exchange, envelope, recorded, recorded_case

METHODS = ("fetchOHLCV", "fetchFundingRateHistory", "fetchOrderBook", "fetchTrades")
SKIP_KEYS = set(recorded("request").get("skipKeys", ()))


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method.replace("OHLCV", "Ohlcv")).lower()


def _cases(kind: str) -> list[Any]:
    return [pytest.param(m, c, id=f"{m}: {c['description']}") for m in METHODS for c in recorded(kind)["methods"][m]]


def _query(url: str) -> tuple[str, list[tuple[str, str]]]:
    p = urlparse(url)
    return p.path, sorted((k, v) for k, v in parse_qsl(p.query) if k not in SKIP_KEYS)


@pytest.fixture(scope="module")
def bitget() -> tuple[FakeBitget, ccxt.bitget]:
    """One real ccxt.bitget with loaded markets over the fake transport (ccxt objects are slow to build)."""
    fake = FakeBitget()
    ex = bitget_exchange(fake)
    ex.load_markets()
    return fake, ex


def test_when_markets_load_then_ccxt_parses_the_documented_bitget_contract_and_spot_symbol() -> None:
    # Arrange: fetchMarkets is not among the recordings; the fake serves Bitget's documented objects
    fake = FakeBitget()
    ex = bitget_exchange(fake)
    # Act
    markets = ex.load_markets()
    # Assert: real ccxt market loading, through the fake transport
    swap = markets["BTC/USDT:USDT"]
    assert swap["id"] == "BTCUSDT" and swap["swap"] and swap["linear"] and swap["settle"] == "USDT"
    assert swap["precision"]["price"] == 0.1 and swap["precision"]["amount"] == 0.001
    assert markets["BTC/USDT"]["spot"] and markets["BTC/USD:BTC"]["inverse"]
    paths = [urlparse(u).path for _, u in fake.calls]
    assert "/api/v2/mix/market/contracts" in paths and "/api/v2/spot/public/symbols" in paths


@pytest.mark.parametrize("method,case", _cases("response"))
def test_when_a_recorded_body_is_served_then_ccxt_returns_the_recorded_parsed_structure(
        method: str, case: dict[str, Any], bitget: tuple[FakeBitget, ccxt.bitget]) -> None:
    fake, ex = bitget
    body = case["httpResponse"]
    fake.overrides = {p: (lambda q, b=body: b) for p in ("/candles", "history-fund-rate", "/orderbook", "fills-history", "/fills")}
    # Act
    out = getattr(ex, _snake(method))(*case["input"])
    # Assert
    assert json.loads(json.dumps(out)) == case["parsedResponse"]


@pytest.mark.parametrize("method,case", _cases("request"))
def test_when_a_recorded_call_is_made_then_ccxt_requests_the_recorded_url(
        method: str, case: dict[str, Any], bitget: tuple[FakeBitget, ccxt.bitget]) -> None:
    fake, ex = bitget
    book = recorded_case("fetchOrderBook", "spot orderbook")["httpResponse"]
    fake.overrides = {p: (lambda q: envelope([])) for p in ("/candles", "history-fund-rate", "fills-history", "/fills")}
    fake.overrides.update({p: (lambda q: book) for p in ("/orderbook", "/merge-depth")})
    before = len(fake.calls)
    # Act
    try:
        getattr(ex, _snake(method))(*case["input"])
    except ccxt.BaseError:
        pass  # only the request matters here
    # Assert: exactly one request, the recorded one (times computed from "now" excepted, as in ccxt's own tests)
    assert len(fake.calls) == before + 1
    assert _query(fake.calls[-1][1]) == _query(case["url"])
