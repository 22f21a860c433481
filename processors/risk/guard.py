"""The ops guard: RUNNING / SOFT_PAUSE / HARD_STOP from PnL, drawdown, book staleness and cancel budget.

Rules (spec P0-2, backlog thresholds):

* HARD_STOP (latched) when the daily loss reaches ``max_daily_loss_pct_hard`` (3 %), the drawdown
  from the day's equity peak reaches ``max_drawdown_pct_hard``, the gate reports a cancel-budget
  breach, an external ``kill_switch`` intent arrives, or ``force_hard_stop`` is called.
* SOFT_PAUSE when the daily loss or drawdown reaches its soft limit (latched until a ``resume``
  intent or the UTC day rolls over), or while the last book is older than ``book_stale_after_s``
  (not latched: clears by itself when a fresh book arrives; a resume cannot clear it).
* A ``resume`` intent (any producer) leaves SOFT_PAUSE: it acknowledges the soft PnL limits for
  the rest of the UTC day (the hard limits still apply).
* HARD_STOP stays until an **operator** resume: a ``resume`` intent whose ``producer`` equals
  ``GuardConfig.operator_producer`` (``"operator"``) or whose ``metadata`` has a non-empty
  ``"operator"`` entry. It must be newer (event time) than the HARD_STOP itself, so a replayed old
  resume cannot lift a later stop. An operator resume re-baselines the day (start and peak equity
  = current equity), otherwise the still-breached limit would stop the desk again at once.
* Daily reset at the UTC day rollover of event time: start-of-day and peak equity = last equity;
  soft latches and acknowledgements are cleared; HARD_STOP is not.

Each state change is returned as a ``schemas/guard.avsc`` record. The first transition into
HARD_STOP also returns one ``kill_switch`` ``schemas/execution_intent.avsc`` record. Because
HARD_STOP is latched and part of the snapshot, later ticks and a restored guard do not fire again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from pydantic import Field, model_validator

from processors.clock import US_PER_S, to_micros, utc_day
from processors.config import FrozenConfig
from processors.ids import make_id
from processors.risk.guard_state import GuardState
from processors.risk.recent_ids import RecentIds

DAILY_LOSS_SOFT = "daily_loss_soft_limit"
DAILY_LOSS_HARD = "daily_loss_hard_limit"
DRAWDOWN_SOFT = "drawdown_soft_limit"
DRAWDOWN_HARD = "drawdown_hard_limit"
BOOK_STALE = "book_stale"
CANCEL_BUDGET_BREACH = "cancel_budget_breach"
EXTERNAL_KILL_SWITCH = "external_kill_switch"
KILL_SWITCH_REASON = "hard_stop_transition"


class GuardConfig(FrozenConfig):
    """Limits of the ops guard. Fractions of start-of-day equity (0.03 = 3 %)."""

    id_kind: ClassVar[str] = "guardcfg"

    max_daily_loss_pct_soft: float = Field(default=0.02, gt=0, lt=1, description="Daily loss that soft-pauses.")
    max_daily_loss_pct_hard: float = Field(default=0.03, gt=0, lt=1, description="Daily loss that hard-stops (spec: 3 %).")
    max_drawdown_pct_soft: float = Field(default=0.03, gt=0, lt=1, description="Drawdown from the day's peak that soft-pauses.")
    max_drawdown_pct_hard: float = Field(default=0.05, gt=0, lt=1, description="Drawdown from the day's peak that hard-stops.")
    book_stale_after_s: float = Field(default=30.0, gt=0, description="A book older than this soft-pauses (spec P1-5: 30 s).")
    hard_stop_on_cancel_budget_breach: bool = Field(default=True, description="Cancel-budget breach -> HARD_STOP (spec P0-2); False -> SOFT_PAUSE.")
    producer: str = Field(default="risk_guard", min_length=1, description="`producer` of the kill_switch intents this guard emits.")
    operator_producer: str = Field(default="operator", min_length=1, description="`producer` that marks an intent as an operator's.")
    intent_dedup_window: int = Field(default=256, ge=1, description="How many processed intent ids are remembered.")

    @model_validator(mode="after")
    def _soft_below_hard(self) -> "GuardConfig":
        if self.max_daily_loss_pct_soft > self.max_daily_loss_pct_hard:
            raise ValueError("max_daily_loss_pct_soft must be <= max_daily_loss_pct_hard")
        if self.max_drawdown_pct_soft > self.max_drawdown_pct_hard:
            raise ValueError("max_drawdown_pct_soft must be <= max_drawdown_pct_hard")
        return self



@dataclass(frozen=True, slots=True)
class GuardOutcome:
    """What one guard input produced: transition records, kill-switch intents, and notes (ignored inputs)."""

    state: GuardState
    records: tuple[dict[str, Any], ...] = ()
    intents: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = field(default=())


class OpsGuard:
    """Pure ops guard of one instance and market. Feed it events; it returns ``GuardOutcome``s.

    Inputs (each takes the event time of what caused it and that event's id as ``cause_id``):
    ``on_equity``, ``on_book``, ``on_cancel_budget_breach``, ``on_intent``, ``force_hard_stop``,
    ``tick``. Time only moves forward (the max event time seen).
    """

    def __init__(self, config: GuardConfig, instance_id: str, market: str) -> None:
        self.config = config
        self.instance_id = instance_id
        self.market = market
        self._state = GuardState.RUNNING
        self._state_since: int | None = None
        self._now: int | None = None
        self._day: int | None = None
        self._day_start_equity: float | None = None
        self._peak_equity: float | None = None
        self._equity: float | None = None
        self._last_book_time: int | None = None
        self._hard: list[str] = []
        self._soft: list[str] = []
        self._soft_acknowledged = False
        self._transitions = 0
        self._intents_seen = RecentIds(config.intent_dedup_window)

    # ------------------------------------------------------------------ views
    @property
    def state(self) -> GuardState:
        """Current state."""
        return self._state

    @property
    def daily_pnl_pct(self) -> float:
        """Today's PnL as a fraction of start-of-day equity (0.0 before the first equity)."""
        if not self._day_start_equity or self._equity is None:
            return 0.0
        return (self._equity - self._day_start_equity) / self._day_start_equity

    @property
    def drawdown_pct(self) -> float:
        """Drawdown from today's equity peak as a fraction (>= 0)."""
        if not self._peak_equity or self._equity is None:
            return 0.0
        return max(0.0, (self._peak_equity - self._equity) / self._peak_equity)

    def book_stale(self) -> bool:
        """True when a book was seen and the latest is older than the limit at the current event time."""
        if self._last_book_time is None or self._now is None:
            return False
        return self._now - self._last_book_time > self.config.book_stale_after_s * US_PER_S

    # ------------------------------------------------------------------ inputs
    def on_equity(self, event_time: Any, equity_quote: float, cause_id: str) -> GuardOutcome:
        """A new account equity (from a fill or a mark). Checks the daily loss and drawdown limits."""
        t = self._advance(event_time)
        rollover = self._roll_day(t)
        self._equity = float(equity_quote)
        if self._day_start_equity is None:
            self._day_start_equity = self._equity
        if self._peak_equity is None or self._equity > self._peak_equity:
            self._peak_equity = self._equity
        loss, dd = -self.daily_pnl_pct, self.drawdown_pct
        cfg = self.config
        if loss >= cfg.max_daily_loss_pct_hard:
            self._latch_hard(DAILY_LOSS_HARD)
        if dd >= cfg.max_drawdown_pct_hard:
            self._latch_hard(DRAWDOWN_HARD)
        if not self._soft_acknowledged:
            if loss >= cfg.max_daily_loss_pct_soft:
                self._latch_soft(DAILY_LOSS_SOFT)
            if dd >= cfg.max_drawdown_pct_soft:
                self._latch_soft(DRAWDOWN_SOFT)
        return self._evaluate(t, cause_id, ["daily_reset"] if rollover else [])

    def on_book(self, event_time: Any, cause_id: str) -> GuardOutcome:
        """A book arrived (its event time is its freshness). May clear a stale-book SOFT_PAUSE."""
        was_stale = self.book_stale()  # as of the previous event: only then is "book_fresh" news
        t = self._advance(event_time)
        rollover = self._roll_day(t)
        if self._last_book_time is None or t > self._last_book_time:
            self._last_book_time = t
        reasons = (["daily_reset"] if rollover else []) + (["book_fresh"] if was_stale else [])
        return self._evaluate(t, cause_id, reasons)

    def tick(self, event_time: Any, cause_id: str) -> GuardOutcome:
        """Time passed (any event): checks book staleness and the UTC day rollover."""
        t = self._advance(event_time)
        rollover = self._roll_day(t)
        return self._evaluate(t, cause_id, ["daily_reset"] if rollover else [])

    def on_cancel_budget_breach(self, event_time: Any, cause_id: str) -> GuardOutcome:
        """The gate had to deny cancels beyond its per-minute budget (spec P0-2: HARD_STOP)."""
        t = self._advance(event_time)
        self._roll_day(t)
        if self.config.hard_stop_on_cancel_budget_breach:
            self._latch_hard(CANCEL_BUDGET_BREACH)
        else:
            self._latch_soft(CANCEL_BUDGET_BREACH)
        return self._evaluate(t, cause_id, [])

    def force_hard_stop(self, event_time: Any, reason: str, cause_id: str) -> GuardOutcome:
        """HARD_STOP for an external reason (e.g. reconciliation drift)."""
        t = self._advance(event_time)
        self._roll_day(t)
        self._latch_hard(reason)
        return self._evaluate(t, cause_id, [])

    def on_intent(self, intent: Mapping[str, Any]) -> GuardOutcome:
        """An ``schemas/execution_intent.avsc`` record: ``resume`` or an external ``kill_switch``; others are ignored."""
        if intent.get("instance_id") != self.instance_id or intent.get("market", self.market) not in ("", self.market):
            return GuardOutcome(self._state, notes=("intent_for_other_instance",))
        event_id = str(intent["event_id"])
        if event_id in self._intents_seen:
            return GuardOutcome(self._state, notes=("duplicate_intent",))
        action = intent.get("action")
        if action not in ("resume", "kill_switch"):
            return GuardOutcome(self._state, notes=("intent_not_for_guard",))
        self._intents_seen.add(event_id)
        intent_time = to_micros(intent["event_time"])
        t = self._advance(intent_time)
        rollover = self._roll_day(t)
        day = ["daily_reset"] if rollover else []
        if action == "kill_switch":
            if intent.get("producer") == self.config.producer:
                return GuardOutcome(self._state, notes=("own_kill_switch_intent",))
            # Someone else already issued the kill switch: stop, but do not issue a second one.
            self._latch_hard(EXTERNAL_KILL_SWITCH)
            return self._evaluate(t, event_id, day, emit_kill_switch=False)
        if self._state_since is not None and intent_time < self._state_since and self._state != GuardState.RUNNING:
            return GuardOutcome(self._state, notes=("resume_predates_state",))
        if self._state == GuardState.HARD_STOP:
            operator = self._operator_of(intent)
            if operator is None:
                return GuardOutcome(self._state, notes=("resume_requires_operator",))
            self._hard.clear()
            self._soft.clear()
            self._soft_acknowledged = False
            if self._equity is not None:
                self._day_start_equity = self._peak_equity = self._equity
            return self._evaluate(t, event_id, day + [f"operator_resume:{operator}"])
        if self._state == GuardState.SOFT_PAUSE:
            self._soft.clear()
            self._soft_acknowledged = True
            return self._evaluate(t, event_id, day + ["resume"])
        return self._evaluate(t, event_id, day)

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """JSON-able state; ``OpsGuard.restore`` continues from it (a restored HARD_STOP does not fire again)."""
        return {
            "state": self._state.value,
            "state_since": self._state_since,
            "now": self._now,
            "day": self._day,
            "day_start_equity": self._day_start_equity,
            "peak_equity": self._peak_equity,
            "equity": self._equity,
            "last_book_time": self._last_book_time,
            "hard": list(self._hard),
            "soft": list(self._soft),
            "soft_acknowledged": self._soft_acknowledged,
            "transitions": self._transitions,
            "intents_seen": self._intents_seen.to_list(),
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], config: GuardConfig, instance_id: str, market: str) -> "OpsGuard":
        """A guard in the state ``snapshot()`` returned."""
        g = cls(config, instance_id, market)
        g._state = GuardState(snap["state"])
        g._state_since = snap.get("state_since")
        g._now = snap.get("now")
        g._day = snap.get("day")
        g._day_start_equity = snap.get("day_start_equity")
        g._peak_equity = snap.get("peak_equity")
        g._equity = snap.get("equity")
        g._last_book_time = snap.get("last_book_time")
        g._hard = list(snap.get("hard", ()))
        g._soft = list(snap.get("soft", ()))
        g._soft_acknowledged = bool(snap.get("soft_acknowledged", False))
        g._transitions = int(snap.get("transitions", 0))
        g._intents_seen = RecentIds(config.intent_dedup_window, snap.get("intents_seen", ()))
        return g

    # ------------------------------------------------------------------ internals
    def _advance(self, event_time: Any) -> int:
        t = to_micros(event_time)
        if self._now is None or t > self._now:
            self._now = t
        return self._now

    def _roll_day(self, t: int) -> bool:
        day = utc_day(t)
        if self._day is None:
            self._day = day
            return False
        if day <= self._day:
            return False
        self._day = day
        self._day_start_equity = self._peak_equity = self._equity
        self._soft = [r for r in self._soft if r not in (DAILY_LOSS_SOFT, DRAWDOWN_SOFT)]
        self._soft_acknowledged = False
        return True

    def _latch_hard(self, reason: str) -> None:
        if reason not in self._hard:
            self._hard.append(reason)

    def _latch_soft(self, reason: str) -> None:
        if reason not in self._soft:
            self._soft.append(reason)

    def _operator_of(self, intent: Mapping[str, Any]) -> str | None:
        meta = intent.get("metadata") or {}
        if meta.get("operator"):
            return str(meta["operator"])
        if intent.get("producer") == self.config.operator_producer:
            return self.config.operator_producer
        return None

    def _evaluate(self, t: int, cause_id: str, running_reasons: list[str], emit_kill_switch: bool = True) -> GuardOutcome:
        if self._hard:
            new, reasons = GuardState.HARD_STOP, list(self._hard)
        else:
            soft = list(self._soft) + ([BOOK_STALE] if self.book_stale() else [])
            if soft:
                new, reasons = GuardState.SOFT_PAUSE, soft
            else:
                new, reasons = GuardState.RUNNING, running_reasons or ["conditions_cleared"]
        if new == self._state:
            return GuardOutcome(self._state)
        previous = self._state
        self._transitions += 1
        self._state = new
        self._state_since = t
        record = {
            "event_id": make_id("guard", self.instance_id, self.market, self._transitions, previous.value, new.value, cause_id),
            "event_time": t,
            "instance_id": self.instance_id,
            "market": self.market,
            "previous_state": previous.value,
            "state": new.value,
            "reasons": reasons,
            "daily_pnl_pct": self.daily_pnl_pct,
            "drawdown_pct": self.drawdown_pct,
        }
        intents: tuple[dict[str, Any], ...] = ()
        if new == GuardState.HARD_STOP and emit_kill_switch:
            intents = (self._kill_switch_intent(record),)
        return GuardOutcome(new, (record,), intents)

    def _kill_switch_intent(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "event_id": make_id("intent", self.instance_id, self.market, "kill_switch", record["event_id"]),
            "event_time": record["event_time"],
            "instance_id": self.instance_id,
            "market": self.market,
            "producer": self.config.producer,
            "action": "kill_switch",
            "target_base_pct": None,
            "regime": None,
            "reason": KILL_SWITCH_REASON,
            "metadata": {
                "guard_event_id": str(record["event_id"]),
                "previous_state": str(record["previous_state"]),
                "reasons": ",".join(record["reasons"]),
                "daily_pnl_pct": repr(record["daily_pnl_pct"]),
                "drawdown_pct": repr(record["drawdown_pct"]),
            },
        }
