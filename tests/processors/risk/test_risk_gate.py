"""Risk gate: guard obedience, inventory cap with in-flight orders, cancel budget, rounding, ids, derisk."""

from __future__ import annotations

import json

import pytest

from processors.ids import make_id
from processors.risk import GateConfig, GuardState, MarketRules, RiskGate
from tests.processors.risk.risk_scripts import INSTANCE, MARKET, S, T0, assert_valid, fill, quote, update

RULES = MarketRules(tick_size=0.1, lot_size=0.001, min_size=0.001, min_notional=5.0)
CFG = GateConfig(max_base_pct=0.5, min_base_pct=-0.5, max_order_notional_quote=1000.0, cancel_budget_per_min=60)


def _gate(balance: float = 1_000.0, cfg: GateConfig = CFG, position: float = 0.0) -> RiskGate:
    return RiskGate(cfg, RULES, INSTANCE, MARKET, balance_quote=balance, position_base=position)


def _valid(result: object) -> None:
    for c in result.commands:  # type: ignore[attr-defined]
        assert_valid("order", c)


def _ack_all(g: RiskGate, result: object, t: int) -> None:
    for c in result.places:  # type: ignore[attr-defined]
        g.on_order_update(update(t, c["client_order_id"], "ACK", c["size"]))


def test_when_quote_then_places_rounded_away_from_mid_with_decision_ids() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    # Act
    r = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.97, 0.12345), ("SELL", 0, 100.03, 0.2)]))
    # Assert: BUY 99.97 -> 99.9 (down), SELL 100.03 -> 100.1 (up), size floored to the 0.001 lot.
    got = [(c["action"], c["side"], c["price"], c["size"], c["client_order_id"]) for c in r.commands]
    assert got == [
        ("PLACE", "BUY", 99.9, 0.123, make_id("co", "q1", "BUY", 0)),
        ("PLACE", "SELL", 100.1, 0.2, make_id("co", "q1", "SELL", 0)),
    ]
    assert all(c["post_only"] and not c["reduce_only"] and c["decision_id"] == "q1" and c["mid_at_decision"] == 100.0 for c in r.commands)
    assert r.denials == ()
    _valid(r)


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        (("BUY", 0, 99.9, 0.04), "below_min_notional"),  # 3.996 quote < 5
        (("BUY", 0, 99.9, 0.0004), "below_min_size"),  # rounds to 0
        (("BUY", 0, 100.05, 1.0), "price_crosses_mid"),  # rounds to 100.0 = mid
        (("SELL", 0, 99.95, 1.0), "price_crosses_mid"),  # rounds up to 100.0 = mid
        (("BUY", 0, -1.0, 1.0), "invalid_quote"),
    ],
)
def test_when_quote_breaks_a_market_rule_then_denied_not_raised(level: tuple[str, int, float, float], reason: str) -> None:
    # Arrange
    g = _gate()
    # Act
    r = g.on_quote(quote("q1", T0, 100.0, [level]))
    # Assert
    assert r.commands == ()
    assert [d["reason"] for d in r.denials] == [reason]


def test_when_quote_notional_exceeds_max_then_size_clipped_to_lot() -> None:
    # Arrange: a large account so only the notional limit binds.
    g = _gate(balance=1_000_000.0)
    # Act
    r = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 20.0)]))
    # Assert: 1000 / 99.9 = 10.01001... -> 10.010
    assert [c["size"] for c in r.places] == [10.01]
    assert r.places[0]["price"] * r.places[0]["size"] <= 1000.0


def test_when_desired_quote_matches_resting_order_within_tolerance_then_no_command() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    first = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.1, 1.0)]))
    _ack_all(g, first, T0 + 1)
    # Act: same prices, size within 25 %.
    again = g.on_quote(quote("q2", T0 + 1 * S, 100.0, [("BUY", 0, 99.9, 1.1), ("SELL", 0, 100.1, 0.9)]))
    moved = g.on_quote(quote("q3", T0 + 2 * S, 100.2, [("BUY", 0, 100.1, 1.0), ("SELL", 0, 100.3, 1.0)]))
    # Assert
    assert again.commands == ()
    assert sorted((c["action"], c["reason"]) for c in moved.commands) == [
        ("CANCEL", "reprice"), ("CANCEL", "reprice"), ("PLACE", "reprice"), ("PLACE", "reprice")]
    assert {c["client_order_id"] for c in moved.cancels} == {c["client_order_id"] for c in first.places}
    _valid(moved)


def test_when_same_decision_replayed_then_nothing_is_sent_twice() -> None:
    # Arrange
    g = _gate()
    q = quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0)])
    first = g.on_quote(q)
    snap = json.loads(json.dumps(g.snapshot()))
    # Act
    again = g.on_quote(q)
    after_restart = RiskGate.restore(snap, CFG, RULES, INSTANCE, MARKET).on_quote(q)
    # Assert
    assert len(first.places) == 1
    assert again.commands == () and "duplicate_decision" in again.notes
    assert after_restart.commands == ()


def test_when_restarted_from_state_before_the_decision_then_same_ids_are_regenerated() -> None:
    # Arrange: the gate crashed after sending but before its state was saved.
    g = _gate()
    snap = json.loads(json.dumps(g.snapshot()))
    q = quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 1, 100.2, 1.0)])
    first = g.on_quote(q)
    # Act
    replay = RiskGate.restore(snap, CFG, RULES, INSTANCE, MARKET).on_quote(q)
    # Assert: identical commands, so the venue (idempotent on client_order_id) drops them.
    assert replay.commands == first.commands


def test_when_open_orders_in_flight_then_they_count_against_the_inventory_cap() -> None:
    # Arrange: equity 1000 at mid 100, max_base_pct 0.5 -> at most 5.0 base long if all buys fill.
    g = _gate()
    # Act
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 3.0), ("BUY", 1, 99.8, 3.0)]))
    r2 = g.on_quote(quote("q2", T0 + 1 * S, 100.0, [("BUY", 0, 99.7, 3.0), ("BUY", 1, 99.6, 3.0)]))
    # Assert: second level clipped to 2.0; then the repriced buys do not fit while the old are being cancelled.
    assert [c["size"] for c in r1.places] == [3.0, 2.0]
    assert g.worst_case_position("BUY") == pytest.approx(5.0)
    assert len(r2.cancels) == 2 and r2.places == []
    assert [d["reason"] for d in r2.denials] == ["inventory_cap", "inventory_cap"]
    assert g.worst_case_position("BUY") == pytest.approx(5.0)


def test_when_cancels_confirmed_then_headroom_returns() -> None:
    # Arrange
    g = _gate()
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 3.0), ("BUY", 1, 99.8, 3.0)]))
    g.on_quote(quote("q2", T0 + 1 * S, 100.0, [("BUY", 0, 99.7, 3.0), ("BUY", 1, 99.6, 3.0)]))
    for c in r1.places:
        g.on_order_update(update(T0 + 2 * S, c["client_order_id"], "CANCELLED", c["size"]))
    # Act
    r3 = g.on_quote(quote("q3", T0 + 3 * S, 100.0, [("BUY", 0, 99.7, 3.0), ("BUY", 1, 99.6, 3.0)]))
    # Assert
    assert [c["size"] for c in r3.places] == [3.0, 2.0]


def test_when_position_is_long_then_buy_headroom_shrinks_and_sells_may_go_short_to_floor() -> None:
    # Arrange: 2.0 long bought at 100 (balance 1200 - 200 = 1000 cash, equity 1200, cap 6.0 base each way).
    g = _gate(balance=1_200.0)
    g.on_fill(fill(T0, "ext", "f-0", "BUY", 100.0, 2.0))
    # Act
    r = g.on_quote(quote("q1", T0 + 1, 100.0, [("BUY", 0, 99.9, 5.0), ("SELL", 0, 100.1, 9.0)]))
    # Assert: buys <= 6 - 2 = 4.0; sells: 2 - s >= -6 -> s <= 8.0 (9.0 * 100.1 = 900.9 is within the notional limit).
    sizes = {c["side"]: c["size"] for c in r.places}
    assert sizes["BUY"] == pytest.approx(4.0)
    assert sizes["SELL"] == pytest.approx(8.0)


def test_when_equity_cap_shrinks_below_resting_orders_then_farthest_kept_order_is_cancelled() -> None:
    # Arrange: tolerant reuse, so the resting orders would otherwise be kept.
    cfg = CFG.model_copy(update={"reuse_price_tolerance_bps": 10_000.0, "deny_quotes_crossing_mid": False})
    g = _gate(cfg=cfg)
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 2.0), ("BUY", 1, 99.8, 2.0)]))
    _ack_all(g, r1, T0 + 1)
    # Act: mid doubles -> cap 0.5 * 1000 / 200 = 2.5 base.
    r2 = g.on_quote(quote("q2", T0 + 1 * S, 200.0, [("BUY", 0, 99.9, 2.0), ("BUY", 1, 99.8, 2.0)]))
    # Assert
    assert [(c["action"], c["client_order_id"], c["reason"]) for c in r2.commands] == [
        ("CANCEL", r1.places[1]["client_order_id"], "inventory_cap")]


def test_when_reprices_use_up_their_share_of_the_budget_then_they_wait_for_the_window_without_a_breach() -> None:
    # Arrange: budget of 2 cancels per minute, all of it open to reprices.
    g = _gate(balance=100_000.0, cfg=CFG.model_copy(update={"cancel_budget_per_min": 2, "reprice_budget_fraction": 1.0}))
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.1, 1.0)]))
    _ack_all(g, r1, T0)
    r2 = g.on_quote(quote("q2", T0 + 1 * S, 100.2, [("BUY", 0, 100.1, 1.0), ("SELL", 0, 100.3, 1.0)]))
    for c in r2.cancels:
        g.on_order_update(update(T0 + 1 * S, c["client_order_id"], "CANCELLED", 1.0))
    _ack_all(g, r2, T0 + 1 * S)
    # Act
    r3 = g.on_quote(quote("q3", T0 + 2 * S, 100.4, [("BUY", 0, 100.3, 1.0), ("SELL", 0, 100.5, 1.0)]))
    r4 = g.on_quote(quote("q4", T0 + 62 * S, 100.4, [("BUY", 0, 100.3, 1.0), ("SELL", 0, 100.5, 1.0)]))
    # Assert: the old orders rest, their replacements are withheld, and nothing is a breach
    assert len(r2.cancels) == 2 and not r2.cancel_budget_breach
    assert r3.commands == () and not r3.cancel_budget_breach
    assert sorted(d["reason"] for d in r3.denials) == ["cancel_budget"] * 4
    assert "deferred: 2 of 2 cancels used" in r3.denials[0]["detail"]
    assert g.cancels_used(T0 + 2 * S) == 2
    assert len(r4.cancels) == 2 and len(r4.places) == 2 and not r4.cancel_budget_breach


def test_when_the_strategy_requotes_every_second_then_reprices_stay_within_their_share_and_never_breach() -> None:
    # Arrange: budget 10 per minute, reprices get 80 % of it; the mid walks 0.2 every second for 3 minutes.
    g = _gate(balance=100_000.0, cfg=CFG.model_copy(update={"cancel_budget_per_min": 10}))
    cancel_times: list[int] = []
    breaches = places = 0
    # Act
    for i in range(180):
        t, mid = T0 + i * S, 100.0 + 0.2 * (i % 20)
        r = g.on_quote(quote(f"q{i}", t, mid, [("BUY", 0, round(mid - 0.1, 1), 1.0), ("SELL", 0, round(mid + 0.1, 1), 1.0)]))
        for c in r.cancels:
            g.on_order_update(update(t, c["client_order_id"], "CANCELLED", 1.0))
            cancel_times.append(t)
        _ack_all(g, r, t)
        breaches += r.cancel_budget_breach
        places += len(r.places)
    # Assert: at most 8 reprice cancels in any minute, the quotes kept moving, no breach
    worst = max(sum(1 for u in cancel_times if t - 60 * S < u <= t) for t in cancel_times)
    assert worst == 8 and breaches == 0
    assert places == 2 + len(cancel_times) and len(cancel_times) >= 3 * 8  # each cancel was replaced


def test_when_risk_reducing_cancels_take_the_window_over_the_budget_then_a_breach_is_reported() -> None:
    # Arrange: budget 2; long 2.0 with two resting buys; one reprice already used the reprice share (1).
    g = _gate(balance=100_000.0, cfg=CFG.model_copy(update={"cancel_budget_per_min": 2}))
    g.on_fill(fill(T0, "ext", "f-0", "BUY", 100.0, 2.0))
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("BUY", 1, 99.8, 1.0), ("SELL", 0, 100.1, 1.0)]))
    _ack_all(g, r1, T0)
    g.on_quote(quote("q2", T0 + 1, 100.0, [("BUY", 0, 99.9, 1.0), ("BUY", 1, 99.8, 1.0), ("SELL", 0, 100.5, 1.0)]))
    # Act: derisk cancels both buys (risk-reducing, so they go out regardless)
    r3 = g.on_quote(quote("q3", T0 + 2, 100.0, [("SELL", 0, 100.5, 1.0)], derisk_only=True))
    # Assert
    assert [(c["action"], c["reason"]) for c in r3.cancels] == [("CANCEL", "derisk_only")] * 2
    assert g.cancels_used(T0 + 2) == 3 and r3.cancel_budget_breach


def test_when_hard_stop_then_cancel_all_and_no_place_passes_while_quotes_keep_coming() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.1, 1.0)]))
    _ack_all(g, r1, T0)
    # Act
    stop = g.on_guard_state(GuardState.HARD_STOP, T0 + 1 * S, "guard-1")
    later = []
    for i in range(20):
        if i == 5:  # the venue confirms the cancels; the gate still must not place
            for c in r1.places:
                g.on_order_update(update(T0 + 6 * S, c["client_order_id"], "CANCELLED", 1.0))
        later.append(g.on_quote(quote(f"q{i + 2}", T0 + (i + 2) * S, 100.0 + i * 0.3,
                                      [("BUY", 0, 99.9 + i * 0.3, 1.0), ("SELL", 0, 100.1 + i * 0.3, 1.0)])))
    # Assert
    assert [(c["action"], c["reason"]) for c in stop.commands] == [("CANCEL_ALL", "guard_hard_stop")]
    assert all(r.places == [] for r in later)
    assert all({d["reason"] for d in r.denials} == {"guard_hard_stop"} for r in later)
    _valid(stop)


def test_when_soft_pause_then_resting_cancelled_and_places_resume_after_running() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0)]))
    _ack_all(g, r1, T0)
    # Act
    pause = g.on_guard_record({"event_id": "g1", "event_time": T0 + 1 * S, "instance_id": INSTANCE, "market": MARKET,
                               "previous_state": "RUNNING", "state": "SOFT_PAUSE", "reasons": ["book_stale"],
                               "daily_pnl_pct": 0.0, "drawdown_pct": 0.0})
    paused = g.on_quote(quote("q2", T0 + 2 * S, 100.0, [("BUY", 0, 99.8, 1.0)]))
    g.on_order_update(update(T0 + 2 * S, r1.places[0]["client_order_id"], "CANCELLED", 1.0))
    g.on_guard_state("RUNNING", T0 + 3 * S, "g2")
    resumed = g.on_quote(quote("q3", T0 + 4 * S, 100.0, [("BUY", 0, 99.8, 1.0)]))
    # Assert
    assert [c["action"] for c in pause.commands] == ["CANCEL_ALL"]
    assert paused.places == [] and [d["reason"] for d in paused.denials] == ["guard_soft_pause"]
    assert len(resumed.places) == 1


def test_when_empty_quote_then_cancel_all() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.1, 1.0)]))
    # Act
    r = g.on_quote(quote("q2", T0 + 1 * S, 100.0, []))
    # Assert
    assert [(c["action"], c["client_order_id"], c["reason"]) for c in r.commands] == [("CANCEL_ALL", None, "empty_quote")]
    _valid(r)


def test_when_derisk_only_then_only_the_reducing_side_within_the_position() -> None:
    # Arrange: 2.0 long.
    g = _gate(balance=100_000.0)
    g.on_fill(fill(T0, "ext", "f-0", "BUY", 100.0, 2.0))
    # Act
    r = g.on_quote(quote("q1", T0 + 1, 100.0, [("BUY", 0, 99.9, 1.5), ("SELL", 0, 100.1, 1.5), ("SELL", 1, 100.2, 1.0)],
                         derisk_only=True))
    # Assert
    assert [(c["side"], c["size"], c["reduce_only"]) for c in r.places] == [("SELL", 1.5, True), ("SELL", 0.5, True)]
    assert [(d["side"], d["reason"]) for d in r.denials] == [("BUY", "derisk_only")]


def test_when_derisk_only_and_flat_then_nothing_is_placed() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    # Act
    r = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.1, 1.0)], derisk_only=True))
    # Assert
    assert r.places == [] and sorted(d["reason"] for d in r.denials) == ["derisk_only", "derisk_only"]


def test_when_derisk_starts_then_increasing_orders_are_cancelled_even_over_budget() -> None:
    # Arrange: long 2.0 with a resting buy; the reprice share of the budget (1 of 2) already used up.
    g = _gate(balance=100_000.0, cfg=CFG.model_copy(update={"cancel_budget_per_min": 2}))
    g.on_fill(fill(T0, "ext", "f-0", "BUY", 100.0, 2.0))
    r1 = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.1, 1.0)]))
    _ack_all(g, r1, T0)
    g.on_quote(quote("q2", T0 + 1, 100.0, [("BUY", 0, 99.9, 1.0), ("SELL", 0, 100.5, 1.0)]))  # uses the budget
    # Act
    r3 = g.on_quote(quote("q3", T0 + 2, 100.0, [("SELL", 0, 100.5, 1.0)], derisk_only=True))
    # Assert
    assert [(c["action"], c["reason"]) for c in r3.cancels] == [("CANCEL", "derisk_only")]
    assert not r3.cancel_budget_breach


def test_when_fill_is_replayed_then_position_counts_it_once() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    r = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0)]))
    cid = r.places[0]["client_order_id"]
    f = fill(T0 + 1 * S, cid, "f-1", "BUY", 99.9, 0.4, fee=0.0079920)
    # Act
    first = g.on_fill(f)
    again = g.on_fill(f)
    restored = RiskGate.restore(json.loads(json.dumps(g.snapshot())), CFG, RULES, INSTANCE, MARKET)
    after_restart = restored.on_fill(f)
    # Assert
    assert (first, again, after_restart) == (True, False, False)
    for gate in (g, restored):
        assert gate.ledger.position_base == pytest.approx(0.4)
        assert gate.ledger.balance_quote == pytest.approx(100_000.0 - 99.9 * 0.4 - 0.007992)
        assert gate.worst_case_position("BUY") == pytest.approx(1.0)  # 0.4 held + 0.6 still open


def test_when_filled_update_arrives_before_its_fills_then_exposure_is_kept_until_fills_land() -> None:
    # Arrange
    g = _gate(balance=100_000.0)
    r = g.on_quote(quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0)]))
    cid = r.places[0]["client_order_id"]
    # Act
    g.on_order_update(update(T0 + 1, cid, "FILLED", 1.0, filled=1.0))
    before = g.worst_case_position("BUY")
    g.on_fill(fill(T0 + 2, cid, "f-1", "BUY", 99.9, 0.6))
    middle = g.worst_case_position("BUY")
    g.on_fill(fill(T0 + 3, cid, "f-2", "BUY", 99.9, 0.4))
    # Assert
    assert before == pytest.approx(1.0) and middle == pytest.approx(1.0)
    assert g.worst_case_position("BUY") == pytest.approx(1.0) and g.ledger.position_base == pytest.approx(1.0)
    assert cid not in g.orders


def test_when_records_are_for_another_instance_then_ignored() -> None:
    # Arrange
    g = _gate()
    # Act
    r = g.on_quote({**quote("q1", T0, 100.0, [("BUY", 0, 99.9, 1.0)]), "instance_id": "bot2"})
    applied = g.on_fill({**fill(T0, "x", "f-1", "BUY", 100.0, 1.0), "market": "other:X/Y"})
    # Assert
    assert r.commands == () and applied is False and g.ledger.position_base == 0.0


def test_when_gate_config_band_inverted_then_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="min_base_pct"):
        GateConfig(max_base_pct=0.1, min_base_pct=0.2)
