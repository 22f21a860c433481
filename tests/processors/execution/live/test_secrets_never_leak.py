"""Rule 7: a venue session against an exchange whose errors echo the credentials leaks them nowhere.

Not in logs (ccxt's own debug log of request headers included), exception messages, returned
records and notes, or files written by the session.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ccxt
import pytest

from tests.processors.execution.live.fake_bitget import Fault, FakeBitget, SeenRequest
from tests.processors.execution.live.live_scripts import cancel, cancel_all, make_venue, place
from processors.execution.live import VenueError


def _echo(fake: FakeBitget, status: int, as_json: bool) -> Fault:
    """A fault whose body quotes the request's headers and body, and the account's secret."""

    def body(req: SeenRequest) -> Any:
        text = f"bad request headers={req.headers} body={req.raw_body} secret={fake.secret} key={fake.api_key}"
        return {"code": "40017", "msg": text, "requestTime": "1", "data": None} if as_json else f"<html>{text}</html>"

    return Fault(status, body)


def test_when_exchange_errors_echo_the_credentials_then_they_appear_in_no_log_record_exception_or_file(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # Arrange: everything logged at DEBUG, to caplog and to a file
    caplog.set_level(logging.DEBUG)
    log_file = tmp_path / "session.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    fake = FakeBitget()
    secrets = [fake.api_key, fake.secret, fake.passphrase]
    events: list[Any] = []
    errors: list[str] = []
    try:
        v = make_venue(fake)
        # Act: a session where every kind of call meets an echoing error
        fake.fail_next("POST", "/api/v2/mix/order/place-order", _echo(fake, 400, as_json=True))
        events.append(v.place(place("q-rejected")))
        events.append(v.place(place("q-1")))
        fake.fail_next("POST", "/api/v2/mix/order/cancel-order", *[_echo(fake, 503, as_json=False) for _ in range(5)])
        events.append(v.cancel(cancel("q-1")))
        fake.fail_next("GET", "/api/v2/mix/order/fills", *[_echo(fake, 429, as_json=False) for _ in range(5)])
        events.append(v.poll())
        fake.fail_next("POST", "/api/v2/mix/order/batch-cancel-orders", _echo(fake, 400, as_json=True))
        events.append(v.cancel_all(cancel_all()))
        fake.fail_next("GET", "/api/v2/mix/order/orders-pending", _echo(fake, 400, as_json=True))
        with pytest.raises(VenueError) as caught:
            v.fetch_open_orders()
        errors += [str(caught.value), repr(caught.value), "".join(traceback.format_exception(caught.value))]
        report = v.scan_orphans(known_client_ids=set())  # orders-pending answers normally again
        (tmp_path / "snapshot.json").write_text(json.dumps(v.snapshot()))
        (tmp_path / "records.json").write_text(
            json.dumps([{"updates": e.order_updates, "fills": e.fills, "notes": e.notes} for e in events] + [report.to_dict()])
        )
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()

    # Assert: the scenario really carried the secrets (else this test would prove nothing) ...
    rejected = events[0].order_updates[0]
    assert rejected["status"] == "REJECTED" and "bad request headers=" in rejected["reason"] and "***" in rejected["reason"]
    assert any("ACCESS-KEY" in r.getMessage() and "***" in r.getMessage() for r in caplog.records), "ccxt debug log not captured"
    assert any(n.startswith("cancel_failed:q-1") for n in events[2].notes)
    assert any(n.startswith("poll_fills_failed") for n in events[3].notes)
    fake.fail_next("POST", "/api/v2/mix/order/cancel-order", _echo(fake, 400, as_json=True))
    with pytest.raises(ccxt.BaseError) as raw:  # the raw ccxt error, outside the venue, does quote them
        v.exchange.cancel_order("", "BTC/USDT:USDT", {"clientOrderId": "nope"})
    assert fake.secret in str(raw.value) and fake.api_key in str(raw.value)
    # ... and nothing the venue produced contains any of them, raw or URL-encoded.
    texts = {
        "caplog": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "errors": "\n".join(errors),
        "records": json.dumps([{"u": e.order_updates, "f": e.fills, "n": e.notes} for e in events]),
    }
    for path in tmp_path.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text()
    assert log_file.stat().st_size > 0
    for where, text in texts.items():
        for s in secrets:
            assert s not in text, f"secret leaked into {where}"
            assert quote(s, safe="") not in text, f"URL-encoded secret leaked into {where}"
