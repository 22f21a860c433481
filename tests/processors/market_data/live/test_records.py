"""ccxt unified structures (ccxt's recorded Bitget results) -> schema-valid hbot market records."""

from __future__ import annotations

import json
import math
from typing import Any

import fastavro
import fastavro.validation
import pytest

import schemas
from processors.ids import make_id
from processors.market_data.live.records import book_record, book_sequence, candle_record, funding_record, trade_record
from processors.market_data.topics import BOOK_TOPIC, CANDLE_TOPIC, FUNDING_TOPIC, SCHEMA_OF_TOPIC, TRADE_TOPIC
from processors.market_data.validation import NAN_PRICE, check_book, check_candle, check_funding, check_trade
from tests.processors.market_data.live.fake_bitget import FIXTURES

MARKET = "bitget:BTC/USDT:USDT"
RECV = 1_750_000_000_123_456
PARSED = {t: fastavro.parse_schema(schemas.load_schema_json(s)) for t, s in SCHEMA_OF_TOPIC.items()}


def parsed_response(method: str, description: str) -> Any:
    """The unified structure ccxt is recorded to return for one case (``parsedResponse``)."""
    cases = json.loads((FIXTURES / "response.json").read_text())["methods"][method]
    return next(c for c in cases if c["description"] == description)["parsedResponse"]


def valid(topic: str, record: dict[str, Any]) -> bool:
    return fastavro.validation.validate({**record, "produce_time": RECV}, PARSED[topic], raise_errors=True)


def test_when_ccxt_returns_an_order_book_then_the_record_has_its_levels_mid_spread_and_time() -> None:
    ob = parsed_response("fetchOrderBook", "spot orderbook")
    rec = book_record(MARKET, ob, depth=1, received_us=RECV)
    assert rec["bids"] == [{"price": 42604.36, "size": 0.616}] and rec["asks"] == [{"price": 42604.37, "size": 0.601}]
    assert rec["mid"] == pytest.approx(42604.365) and rec["spread_bps"] == pytest.approx(0.01 / 42604.365 * 1e4)
    assert rec["event_time"] == 1706804094602 * 1000
    assert rec["sequence"] == rec["event_time"]  # no exchange update id: derived from the event time
    assert rec["event_id"] == make_id("book", MARKET, "live", rec["sequence"]) and rec["source"] == "live"
    assert check_book(rec) is None and valid(BOOK_TOPIC, rec)


def test_when_the_book_has_an_exchange_update_id_then_it_is_the_sequence() -> None:
    ob = {**parsed_response("fetchOrderBook", "uta orderbook"), "nonce": "1343064377779269632"}
    rec = book_record(MARKET, ob, depth=3, received_us=RECV, last_sequence=5)
    assert rec["sequence"] == 1343064377779269632 and len(rec["bids"]) == len(rec["asks"]) == 3
    assert check_book(rec) is None and valid(BOOK_TOPIC, rec)


def test_when_there_is_no_update_id_then_sequences_still_increase_strictly() -> None:
    assert book_sequence(None, None, 1000) == 1000
    assert book_sequence(None, 1000, 1000) == 1001  # same millisecond twice
    assert book_sequence(None, 5000, 1000) == 5001  # clock went back: still above
    assert book_sequence("77", 5000, 1000) == 77  # an exchange id is taken as it is (the validator judges it)


def test_when_a_book_side_is_empty_or_missing_numbers_then_the_record_is_built_and_rejected_by_validation() -> None:
    rec = book_record(MARKET, {"bids": [[None, 1.0]], "asks": [[100.0, 1.0]], "timestamp": None}, 5, RECV)
    assert rec["event_time"] == RECV and math.isnan(rec["bids"][0]["price"])
    assert check_book(rec).reason == NAN_PRICE
    empty = book_record(MARKET, {"bids": [], "asks": []}, 5, RECV)
    assert math.isnan(empty["mid"]) and check_book(empty).reason == "empty_book"


def test_when_ccxt_returns_trades_then_records_carry_id_side_and_numeric_sequence() -> None:
    trades = parsed_response("fetchTrades", "uta swap fetchTrades")
    rec = trade_record(MARKET, trades[0], RECV)
    assert rec["trade_id"] == "1319897954512838659" and rec["sequence"] == 1319897954512838659
    assert (rec["price"], rec["size"], rec["aggressor_side"]) == (105806.5, 1.645, "BUY")
    assert rec["event_time"] == 1750414115551 * 1000
    assert rec["event_id"] == make_id("trade", MARKET, "live", "1319897954512838659")
    assert check_trade(rec) is None and valid(TRADE_TOPIC, rec)


def test_when_a_trade_has_no_id_then_its_id_comes_from_its_content() -> None:
    t = {"id": None, "timestamp": 1_750_000_000_000, "price": 100.0, "amount": 0.1, "side": "sell"}
    a, b = trade_record(MARKET, t, RECV), trade_record(MARKET, dict(t), RECV + 5)
    assert a["trade_id"] == b["trade_id"] and a["event_id"] == b["event_id"]
    assert a["aggressor_side"] == "SELL" and a["sequence"] == 1_750_000_000_000_000
    assert check_trade({**a, "aggressor_side": None}) is not None


def test_when_ccxt_returns_ohlcv_then_the_candle_record_closes_one_minute_after_it_opens() -> None:
    row = parsed_response("fetchOHLCV", "linear ohlcv")[0]
    rec = candle_record(MARKET, row)
    assert rec["open_time"] == 1703762100000 * 1000 and rec["event_time"] == rec["open_time"] + 60_000_000
    assert (rec["open"], rec["high"], rec["low"], rec["close"], rec["volume"]) == (43094.7, 43095.8, 43080.4, 43084.2, 90.097)
    assert rec["interval"] == "1m" and rec["trade_count"] == 0
    assert check_candle(rec) is None and valid(CANDLE_TOPIC, rec)


def test_when_ccxt_returns_a_funding_rate_then_the_record_has_rate_next_settlement_and_receive_time() -> None:
    fr = parsed_response("fetchFundingRate", "Fetch the funding rate")
    rec = funding_record(MARKET, fr, RECV)
    assert rec["funding_rate"] == pytest.approx(-0.000014)
    assert rec["next_funding_time"] == 1745510400000 * 1000  # Bitget's 'nextUpdate', parsed as fundingTimestamp
    assert rec["event_time"] == RECV and rec["mark_price"] is None and rec["is_settlement"] is False
    assert check_funding(rec) is None and valid(FUNDING_TOPIC, rec)
    with_next = funding_record(MARKET, {**fr, "timestamp": 1_745_500_000_000, "nextFundingTimestamp": 1_745_539_200_000,
                                        "markPrice": 93000.5}, RECV)
    assert with_next["event_time"] == 1_745_500_000_000_000 and with_next["next_funding_time"] == 1_745_539_200_000_000
    assert with_next["mark_price"] == 93000.5 and valid(FUNDING_TOPIC, with_next)
