"""Paper exchange determinism, snapshot/restore continuity, deterministic fill ids on replay."""

from __future__ import annotations

import json
from typing import Any, Callable

from tests.processors.execution.paper_scripts import INSTANCE, MARKET, MS, T0, book, cancel, funding, place, standard_book, trade
from processors.execution.paper import PaperExchange, PaperExchangeConfig
from processors.execution.venue import ExecutionVenue, VenueEvents

CONFIG = PaperExchangeConfig(order_latency_ms=20.0, cancel_latency_ms=30.0)


def _script() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("book", standard_book(T0, 1)),
        ("cmd", place(T0 + 1 * MS, "b1", "BUY", 100.0, 1.0)),
        ("cmd", place(T0 + 2 * MS, "a1", "SELL", 100.1, 1.0)),
        ("trade", trade(T0 + 30 * MS, "t1", 100.0, 2.5, "SELL")),
        ("book", book(T0 + 40 * MS, 2, [(100.0, 0.5), (99.9, 5.0)], [(100.1, 2.0)])),
        ("trade", trade(T0 + 50 * MS, "t2", 100.0, 1.0, "SELL")),
        ("funding", funding(T0 + 52 * MS, 0.0001)),
        ("cmd", cancel(T0 + 55 * MS, "a1")),
        ("trade", trade(T0 + 60 * MS, "t3", 100.1, 2.5, "BUY")),
        ("trade", trade(T0 + 100 * MS, "t4", 100.2, 5.0, "BUY")),
        ("cmd", place(T0 + 110 * MS, "b2", "BUY", 99.9, 2.0)),
        ("trade", trade(T0 + 200 * MS, "t5", 99.8, 1.0, "SELL")),
    ]


def _apply(x: PaperExchange, kind: str, rec: dict[str, Any]) -> VenueEvents:
    handlers: dict[str, Callable[[dict[str, Any]], VenueEvents]] = {
        "cmd": x.on_command,
        "book": lambda r: x.on_market_event("book", r),
        "trade": lambda r: x.on_market_event("trade", r),
        "funding": lambda r: x.on_market_event("funding", r),
    }
    return handlers[kind](rec)


def _run(x: PaperExchange, steps: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    out: list[Any] = []
    for kind, rec in steps:
        ev = _apply(x, kind, rec)
        out.append((ev.order_updates, ev.fills, ev.ledger))
    return out


def test_when_paper_exchange_built_then_it_satisfies_execution_venue() -> None:
    assert isinstance(PaperExchange(CONFIG, INSTANCE, MARKET), ExecutionVenue)


def test_when_same_inputs_twice_then_same_outputs() -> None:
    # Arrange / Act
    a = _run(PaperExchange(CONFIG, INSTANCE, MARKET), _script())
    b = _run(PaperExchange(CONFIG, INSTANCE, MARKET), _script())
    # Assert
    assert a == b
    assert sum(len(step[1]) for step in a) >= 3  # the script does fill


def test_when_restored_mid_script_then_outputs_and_state_match_an_uninterrupted_run() -> None:
    # Arrange
    steps = _script()
    whole = PaperExchange(CONFIG, INSTANCE, MARKET)
    expected = _run(whole, steps)
    # Act: run half, snapshot through JSON, restore in a fresh object, run the rest.
    first = PaperExchange(CONFIG, INSTANCE, MARKET)
    head = _run(first, steps[:6])
    snap = json.loads(json.dumps(first.snapshot()))
    second = PaperExchange.restore(snap, CONFIG, INSTANCE, MARKET)
    tail = _run(second, steps[6:])
    # Assert
    assert head + tail == expected
    assert second.snapshot() == whole.snapshot()
    assert (second.position_base, second.balance_quote, second.fees_quote) == (whole.position_base, whole.balance_quote, whole.fees_quote)


def test_when_restored_from_older_snapshot_and_trade_replayed_then_fill_has_same_ids() -> None:
    # Arrange: snapshot taken before a trade that fills us.
    x = PaperExchange(CONFIG, INSTANCE, MARKET)
    _run(x, _script()[:3])
    snap = json.loads(json.dumps(x.snapshot()))
    t = trade(T0 + 30 * MS, "t1", 100.0, 3.5, "SELL")
    original = x.on_trade(t)
    # Act: a restarted worker restores the older snapshot and re-processes the same trade.
    restarted = PaperExchange.restore(snap, CONFIG, INSTANCE, MARKET)
    replayed = restarted.on_trade(t)
    # Assert
    assert original.fills and [f["trade_id"] for f in replayed.fills] == [f["trade_id"] for f in original.fills]
    assert [f["event_id"] for f in replayed.fills] == [f["event_id"] for f in original.fills]
    assert [u["event_id"] for u in replayed.order_updates] == [u["event_id"] for u in original.order_updates]
