"""Ops guard: limits, HARD_STOP and its single kill-switch intent, resume rules, stale book, day reset."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from processors.clock import US_PER_DAY
from processors.risk import GuardConfig, GuardState, OpsGuard
from tests.processors.risk.risk_scripts import INSTANCE, MARKET, S, T0, assert_valid, intent

CFG = GuardConfig()  # soft 2 % / hard 3 % daily loss, drawdown 3 % / 5 %, stale after 30 s


def _guard(equity: float = 10_000.0) -> OpsGuard:
    g = OpsGuard(CFG, INSTANCE, MARKET)
    g.on_book(T0, "book-0")
    g.on_equity(T0, equity, "eq-0")
    return g


def _valid(outcome: object) -> None:
    for r in outcome.records:  # type: ignore[attr-defined]
        assert_valid("guard", r)
    for i in outcome.intents:  # type: ignore[attr-defined]
        assert_valid("execution_intent", i)


def test_when_defaults_then_hard_daily_loss_limit_is_3_percent() -> None:
    assert CFG.max_daily_loss_pct_hard == 0.03
    assert CFG.book_stale_after_s == 30.0


def test_when_soft_limit_above_hard_then_config_rejected() -> None:
    with pytest.raises(ValidationError, match="max_daily_loss_pct_soft"):
        GuardConfig(max_daily_loss_pct_soft=0.05, max_daily_loss_pct_hard=0.03)


def test_when_large_loss_then_hard_stop_with_exactly_one_kill_switch_intent() -> None:
    # Arrange
    g = _guard()
    # Act: -4 % on the day.
    out = g.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    # Assert
    assert out.state == GuardState.HARD_STOP
    (rec,) = out.records
    assert (rec["previous_state"], rec["state"]) == ("RUNNING", "HARD_STOP")
    assert "daily_loss_hard_limit" in rec["reasons"]
    assert rec["daily_pnl_pct"] == pytest.approx(-0.04)
    (ks,) = out.intents
    assert (ks["action"], ks["reason"], ks["producer"]) == ("kill_switch", "hard_stop_transition", "risk_guard")
    assert ks["metadata"]["guard_event_id"] == rec["event_id"]
    _valid(out)


def test_when_same_inputs_then_same_kill_switch_event_id() -> None:
    # Arrange / Act
    a = _guard().on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    b = _guard().on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    # Assert
    assert a.intents[0]["event_id"] == b.intents[0]["event_id"]
    assert a.records == b.records


def test_when_already_hard_stopped_then_later_ticks_emit_nothing() -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    # Act
    outs = [
        g.on_equity(T0 + 2 * S, 9_000.0, "fill-2"),
        g.tick(T0 + 90 * S, "tick-1"),
        g.on_cancel_budget_breach(T0 + 91 * S, "gate-1"),
        g.on_book(T0 + 92 * S, "book-1"),
    ]
    # Assert
    assert all(o.records == () and o.intents == () for o in outs)
    assert g.state == GuardState.HARD_STOP


def test_when_restored_in_hard_stop_then_ticks_emit_no_kill_switch() -> None:
    # Arrange: a worker hard-stopped, its state went through JSON, a new worker restores it.
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    snap = json.loads(json.dumps(g.snapshot()))
    # Act
    restored = OpsGuard.restore(snap, CFG, INSTANCE, MARKET)
    outs = [restored.on_equity(T0 + 1 * S, 9_600.0, "fill-1"), restored.tick(T0 + 5 * S, "tick")]
    # Assert
    assert restored.state == GuardState.HARD_STOP
    assert all(o.records == () and o.intents == () for o in outs)


def test_when_resume_without_operator_then_hard_stop_stays() -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    # Act
    out = g.on_intent(intent("i-1", T0 + 2 * S, "resume", producer="signal_router"))
    # Assert
    assert out.state == GuardState.HARD_STOP and out.records == ()
    assert "resume_requires_operator" in out.notes


@pytest.mark.parametrize(("producer", "metadata"), [("operator", {}), ("cli", {"operator": "alice"})])
def test_when_operator_resumes_then_hard_stop_lifts_and_day_is_rebaselined(producer: str, metadata: dict[str, str]) -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    # Act
    out = g.on_intent(intent("i-op", T0 + 2 * S, "resume", producer=producer, metadata=metadata))
    later = g.on_equity(T0 + 3 * S, 9_550.0, "fill-2")  # -0.52 % from the new baseline
    # Assert
    (rec,) = out.records
    assert (rec["previous_state"], rec["state"]) == ("HARD_STOP", "RUNNING")
    assert rec["reasons"][0].startswith("operator_resume:")
    assert out.intents == () and later.records == ()
    _valid(out)


def test_when_operator_resume_is_older_than_the_hard_stop_then_ignored() -> None:
    # Arrange: an old resume replayed after a restart must not lift a newer stop.
    g = _guard()
    g.on_equity(T0 + 10 * S, 9_600.0, "fill-1")
    # Act
    out = g.on_intent(intent("i-old", T0 + 5 * S, "resume", producer="operator"))
    # Assert
    assert out.state == GuardState.HARD_STOP and "resume_predates_state" in out.notes


def test_when_hard_stop_is_lifted_and_breached_again_then_a_new_kill_switch_fires() -> None:
    # Arrange
    g = _guard()
    first = g.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    g.on_intent(intent("i-op", T0 + 2 * S, "resume", producer="operator"))
    # Act: another -4 % from the re-baselined 9600.
    second = g.on_equity(T0 + 3 * S, 9_200.0, "fill-2")
    # Assert
    assert len(second.intents) == 1 and second.intents[0]["event_id"] != first.intents[0]["event_id"]


def test_when_soft_loss_then_soft_pause_and_any_resume_leaves_it() -> None:
    # Arrange
    g = _guard()
    # Act
    paused = g.on_equity(T0 + 1 * S, 9_750.0, "fill-1")  # -2.5 %
    resumed = g.on_intent(intent("i-1", T0 + 2 * S, "resume"))
    still = g.on_equity(T0 + 3 * S, 9_720.0, "fill-2")  # -2.8 %: acknowledged for today
    # Assert
    assert paused.state == GuardState.SOFT_PAUSE and paused.records[0]["reasons"] == ["daily_loss_soft_limit"]
    assert paused.intents == ()
    assert resumed.state == GuardState.RUNNING and resumed.records[0]["reasons"] == ["resume"]
    assert still.records == ()
    _valid(paused)
    _valid(resumed)


def test_when_soft_acknowledged_loss_reaches_hard_limit_then_hard_stop() -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_750.0, "fill-1")
    g.on_intent(intent("i-1", T0 + 2 * S, "resume"))
    # Act
    out = g.on_equity(T0 + 3 * S, 9_690.0, "fill-2")  # -3.1 %
    # Assert
    assert out.state == GuardState.HARD_STOP
    assert (out.records[0]["previous_state"], len(out.intents)) == ("RUNNING", 1)


def test_when_soft_paused_then_hard_loss_transitions_to_hard_stop_with_one_intent() -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_750.0, "fill-1")
    # Act
    out = g.on_equity(T0 + 2 * S, 9_600.0, "fill-2")
    # Assert
    assert (out.records[0]["previous_state"], out.records[0]["state"]) == ("SOFT_PAUSE", "HARD_STOP")
    assert len(out.intents) == 1


def test_when_drawdown_from_peak_reaches_hard_limit_then_hard_stop() -> None:
    # Arrange: up 6 % then back to flat: no daily loss, 5.66 % drawdown.
    g = _guard()
    g.on_equity(T0 + 1 * S, 10_600.0, "m-1")
    # Act
    out = g.on_equity(T0 + 2 * S, 10_000.0, "m-2")
    # Assert
    assert out.state == GuardState.HARD_STOP
    assert out.records[0]["reasons"] == ["drawdown_hard_limit"]
    assert out.records[0]["drawdown_pct"] == pytest.approx(600 / 10_600)


def test_when_book_older_than_30s_then_soft_pause_and_fresh_book_clears_it() -> None:
    # Arrange
    g = _guard()
    # Act
    at_30 = g.tick(T0 + 30 * S, "tick-30")
    at_31 = g.tick(T0 + 31 * S, "tick-31")
    fresh = g.on_book(T0 + 32 * S, "book-32")
    # Assert
    assert at_30.records == ()
    assert at_31.state == GuardState.SOFT_PAUSE and at_31.records[0]["reasons"] == ["book_stale"]
    assert fresh.state == GuardState.RUNNING and fresh.records[0]["reasons"] == ["book_fresh"]
    _valid(at_31)
    _valid(fresh)


def test_when_book_stale_then_resume_cannot_clear_it() -> None:
    # Arrange
    g = _guard()
    g.tick(T0 + 40 * S, "tick")
    # Act
    out = g.on_intent(intent("i-1", T0 + 41 * S, "resume"))
    # Assert
    assert out.state == GuardState.SOFT_PAUSE


def test_when_utc_day_rolls_over_then_soft_loss_pause_clears_but_hard_stop_does_not() -> None:
    # Arrange
    soft = _guard()
    soft.on_equity(T0 + 1 * S, 9_750.0, "fill-1")
    hard = _guard()
    hard.on_equity(T0 + 1 * S, 9_600.0, "fill-1")
    next_day = T0 + US_PER_DAY + 1 * S
    # Act
    soft.on_book(next_day, "book-d2")
    hard.on_book(next_day, "book-d2")
    soft_out = soft.on_equity(next_day, 9_750.0, "m-d2")
    # Assert
    assert soft.state == GuardState.RUNNING
    assert soft.daily_pnl_pct == 0.0 and soft_out.records == ()
    assert hard.state == GuardState.HARD_STOP


def test_when_day_rolls_over_then_transition_reason_is_daily_reset() -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_750.0, "fill-1")
    # Act
    out = g.on_book(T0 + US_PER_DAY, "book-d2")
    # Assert
    assert out.records[0]["reasons"] == ["daily_reset"]


def test_when_cancel_budget_breached_then_hard_stop_and_kill_switch() -> None:
    # Arrange
    g = _guard()
    # Act
    out = g.on_cancel_budget_breach(T0 + 1 * S, "gate-dec-9")
    # Assert
    assert out.state == GuardState.HARD_STOP and out.records[0]["reasons"] == ["cancel_budget_breach"]
    assert len(out.intents) == 1


def test_when_external_kill_switch_intent_then_hard_stop_without_a_second_intent() -> None:
    # Arrange
    g = _guard()
    # Act
    out = g.on_intent(intent("ks-op", T0 + 1 * S, "kill_switch", producer="operator"))
    own = OpsGuard(CFG, INSTANCE, MARKET).on_intent(intent("ks-own", T0 + 1 * S, "kill_switch", producer="risk_guard"))
    # Assert
    assert out.state == GuardState.HARD_STOP and out.intents == ()
    assert own.state == GuardState.RUNNING and "own_kill_switch_intent" in own.notes


def test_when_intent_replayed_or_for_other_instance_then_ignored() -> None:
    # Arrange
    g = _guard()
    g.on_equity(T0 + 1 * S, 9_750.0, "fill-1")
    g.on_intent(intent("i-1", T0 + 2 * S, "resume"))
    g.on_equity(T0 + 3 * S, 10_000.0, "m")
    g.force_hard_stop(T0 + 4 * S, "reconciliation_drift", "recon-1")
    other = {**intent("i-2", T0 + 5 * S, "resume", producer="operator"), "instance_id": "bot2"}
    # Act
    replay = g.on_intent(intent("i-1", T0 + 2 * S, "resume"))
    foreign = g.on_intent(other)
    # Assert
    assert "duplicate_intent" in replay.notes and "intent_for_other_instance" in foreign.notes
    assert g.state == GuardState.HARD_STOP


def test_when_config_built_then_it_is_frozen_with_stable_id() -> None:
    # Arrange / Act / Assert
    assert GuardConfig().config_id == GuardConfig().config_id != GuardConfig(max_drawdown_pct_hard=0.06).config_id
    with pytest.raises(ValidationError):
        GuardConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        CFG.max_daily_loss_pct_hard = 0.5  # type: ignore[misc]
