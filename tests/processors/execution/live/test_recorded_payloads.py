"""The venue's requests match ccxt's recorded Bitget requests, and recorded Bitget answers become the right records.

Requests are compared with ``request.json`` (url, and body minus ``clientOid``, which the recorded
cases do not send); answers are the recorded ``httpResponse`` bodies served unchanged.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.processors.execution.live.fake_bitget import Fault, FakeBitget, make_exchange, recorded_body, recorded_case
from tests.processors.execution.live.live_scripts import INSTANCE, Sleeps, cancel, cancel_all, live_config, make_venue, place, trade_key
from tests.processors.execution.paper_scripts import assert_all_valid
from processors.execution.live import CcxtVenue


def _url_of(fake: FakeBitget, path: str) -> tuple[str, dict[str, str]]:
    (req,) = fake.requests_to(path)
    return path, req.query


def _recorded_url(method: str, description: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(recorded_case("request", method, description)["url"])
    return parts.path, dict(parse_qsl(parts.query))


def test_when_post_only_reduce_only_sell_placed_then_the_request_is_ccxts_recorded_swap_request() -> None:
    # Arrange
    case = recorded_case("request", "createOrder", "Swap limit sell order with postOnly and reduceOnly")
    symbol, otype, side, amount, price, params = case["input"]
    assert (symbol, otype, params) == ("BTC/USDT:USDT", "limit", {"postOnly": True, "reduceOnly": True, "marginMode": "cross"})
    fake = FakeBitget()
    v = make_venue(fake)

    # Act
    ev = v.place(place("q-38000", side.upper(), float(price), amount, post_only=True, reduce_only=True))

    # Assert
    (req,) = fake.requests_to(urlsplit(case["url"]).path, "POST")
    assert req.body.pop("clientOid") == "q-38000"
    assert req.body == case["output"]
    assert [u["status"] for u in ev.order_updates] == ["ACK"]


def test_when_cancelled_by_client_id_then_the_request_is_ccxts_recorded_one() -> None:
    # Arrange: an order whose client id is the recorded one
    case = recorded_case("request", "cancelOrder", "cancel linear swap order by clientOrderId")
    cid = case["input"][2]["clientOrderId"]
    fake = FakeBitget()
    v = make_venue(fake)
    v.place(place(cid))

    # Act
    ev = v.cancel(cancel(cid))

    # Assert
    (req,) = fake.requests_to(urlsplit(case["url"]).path)
    assert req.body == case["output"]
    assert [u["status"] for u in ev.order_updates] == ["CANCELLED"]


@pytest.mark.parametrize(
    ("unified", "description"), [(False, "Swap cancel all orders"), (True, "uta swap cancelAllOrders")], ids=["classic", "uta"]
)
def test_when_cancel_all_then_the_request_is_ccxts_recorded_one(unified: bool, description: str) -> None:
    # Arrange
    case = recorded_case("request", "cancelAllOrders", description)
    fake = FakeBitget()
    v = make_venue(fake, unified)

    # Act
    v.cancel_all(cancel_all())

    # Assert
    (req,) = fake.requests_to(urlsplit(case["url"]).path)
    assert req.body == case["output"]


@pytest.mark.parametrize(
    ("unified", "description"), [(False, "Swap open orders"), (True, "uta swap fetchOpenOrders")], ids=["classic", "uta"]
)
def test_when_open_orders_fetched_then_the_url_is_ccxts_recorded_one(unified: bool, description: str) -> None:
    # Arrange
    fake = FakeBitget()
    v = make_venue(fake, unified)

    # Act
    v.fetch_open_orders()

    # Assert
    path, query = _recorded_url("fetchOpenOrders", description)
    assert _url_of(fake, path) == (path, query)


def test_when_recorded_swap_fill_is_served_then_it_becomes_one_fill_record_with_ccxts_parsed_values() -> None:
    # Arrange: a venue on LTC/USDT:USDT (the recorded fill's market); the recorded body served as is
    case = recorded_case("response", "fetchMyTrades", "swap trade")
    (parsed,) = case["parsedResponse"]
    fake = FakeBitget()
    cfg = live_config(symbol="LTC/USDT:USDT")
    v = CcxtVenue(make_exchange(fake), cfg, INSTANCE, "bitget:LTC/USDT:USDT", key=trade_key(fake), sleep=Sleeps(),
                  now_us=lambda: parsed["timestamp"] * 1000)
    v.start()
    fake.fail_next("GET", "/api/v2/mix/order/fills", Fault(200, case["httpResponse"]))
    # The fill's order is not ours: its client id is looked up from the recorded order detail.
    detail = recorded_body("fetchOrder", "swap market buy")
    detail["data"]["orderId"] = parsed["order"]
    fake.fail_next("GET", "/api/v2/mix/order/detail", Fault(200, detail))

    # Act
    ev = v.poll()

    # Assert
    (f,) = ev.fills
    assert f["trade_id"] == parsed["id"] == "1115965644337205249"
    assert (f["exchange_order_id"], f["client_order_id"]) == (parsed["order"], detail["data"]["clientOid"])
    assert (f["side"], f["price"], f["size"]) == (parsed["side"].upper(), parsed["price"], parsed["amount"])
    assert (f["fee_quote"], f["fee_asset"]) == (parsed["fee"]["cost"], parsed["fee"]["currency"]) == (0.004335, "USDT")
    assert f["liquidity"] == "TAKER" and f["event_time"] == parsed["timestamp"] * 1000
    assert f["fee_quote"] == pytest.approx(parsed["cost"] * 0.0006, rel=1e-9)  # Bitget's 6 bp taker fee, paid
    assert_all_valid(ev)


def test_when_recorded_uta_fills_are_served_then_fees_are_paid_fees_despite_ccxts_sign() -> None:
    # Arrange
    case = recorded_case("response", "fetchMyTrades", "uta swap fetchMyTrades")
    fake = FakeBitget()
    fake.now_ms = max(p["timestamp"] for p in case["parsedResponse"]) + 1_000  # the venue reads fills from 5 min back
    v = make_venue(fake, unified=True)
    fake.fail_next("GET", "/api/v3/trade/fills", Fault(200, case["httpResponse"]))

    # Act
    ev = v.poll()

    # Assert: both recorded taker fills, oldest first; ccxt's parse says -0.0064 (a rebate) ...
    assert [f["trade_id"] for f in ev.fills] == [p["id"] for p in case["parsedResponse"]]
    assert [p["fee"]["cost"] for p in case["parsedResponse"]] == [-0.00642022, -0.00642032]
    # ... but a taker pays 6 bp of execValue: the record keeps the exchange's positive (paid) fee.
    for f, p in zip(ev.fills, case["parsedResponse"]):
        assert f["liquidity"] == "TAKER"
        assert f["fee_quote"] == pytest.approx(float(p["info"]["execValue"]) * 0.0006, rel=1e-3)
        assert f["fee_quote"] > 0
    assert not any(n.startswith("taker_fee_negative") for n in ev.notes)


def test_when_recorded_uta_open_order_is_foreign_then_the_orphan_scan_cancels_it_by_exchange_id() -> None:
    # Arrange
    case = recorded_case("response", "fetchOpenOrders", "uta swap fetchOpenOrders")
    (parsed,) = case["parsedResponse"]
    fake = FakeBitget()
    v = make_venue(fake, unified=True)
    fake.fail_next("GET", "/api/v3/trade/unfilled-orders", Fault(200, case["httpResponse"]))
    fake.fail_next("POST", "/api/v3/trade/cancel-order", Fault(200, recorded_body("cancelOrder", "uta swap cancel order")))

    # Act
    report = v.scan_orphans(known_client_ids={"some-other-id"})

    # Assert
    (req,) = fake.requests_to("/api/v3/trade/cancel-order")
    assert req.body == {"symbol": "BTCUSDT", "orderId": parsed["id"]}
    assert [c["exchange_order_id"] for c in report.cancelled] == [parsed["id"]]
    assert report.cancelled[0]["client_order_id"] == parsed["clientOrderId"]
    assert report.kept == [] and report.ok
    assert json.loads(json.dumps(report.to_dict()))["cancelled"][0]["price"] == parsed["price"]
