"""The risk gate: desired quotes in, place / cancel commands out, within every limit.

For each quote decision (``schemas/quote.avsc``) the gate compares the desired quotes with the
orders it tracks and emits ``schemas/order.avsc`` commands. In order:

1. Guard: SOFT_PAUSE / HARD_STOP -> no place ever; a CANCEL_ALL when orders are live.
   An empty quote list -> CANCEL_ALL.
2. Each desired quote is checked and normalised: side allowed by ``derisk_only`` (only the side
   that reduces the position), price rounded to the tick away from the mid (BUY down, SELL up),
   not at or through the mid, size clipped to ``max_order_notional_quote`` and rounded down to the
   lot, then the market's minimum size / notional.
3. A live order of the same side whose price and remaining size are within tolerance is kept
   (no needless cancel/replace). Unmatched live orders are cancelled.
4. Cancels use a per-minute budget (event-time sliding window). Risk-reducing cancels (guard,
   derisk, inventory cap, empty quote) always go out. Reprice cancels stop at
   ``reprice_budget_fraction`` of the budget: the old order rests, its replacement is withheld
   (denied ``cancel_budget``), and the quote catches up once the window frees; so strategy churn
   alone never breaches the budget. ``cancel_budget_breach`` is reported when risk-reducing
   cancels take the window over the budget (the agent passes it to
   ``OpsGuard.on_cancel_budget_breach``, which hard-stops by default, spec P0-2).
5. Places are clipped to the inventory headroom: the position if every tracked buy filled
   (pending new, open, pending cancel, and reported-but-unseen fills) stays <= ``max_base_pct`` of
   equity at the decision mid; likewise every sell >= ``min_base_pct``. Under ``derisk_only`` the
   reducing orders together never exceed the position.
6. Client order ids are ``make_id("co", decision event_id, side, level)``: a replayed decision
   gives the same ids, and an id the gate already holds (or recently closed) is never placed again.

Denials are returned as data (``GateResult.denials``), never raised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from pydantic import Field, model_validator

from processors.clock import to_micros
from processors.config import FrozenConfig
from processors.ids import make_id
from processors.risk.cancel_budget import CancelBudget
from processors.risk.guard_state import GuardState
from processors.risk.ledger import PositionLedger
from processors.risk.market_rules import MarketRules
from processors.risk.order_tracker import CLOSED, OrderTracker, TrackedOrder
from processors.risk.recent_ids import RecentIds

BUY, SELL = "BUY", "SELL"


class GateConfig(FrozenConfig):
    """Limits of the risk gate."""

    id_kind: ClassVar[str] = "gatecfg"

    max_base_pct: float = Field(default=0.5, description="Long cap: position + every open buy, at mid, <= this fraction of equity.")
    min_base_pct: float = Field(default=-0.5, description="Short floor: position - every open sell, at mid, >= this fraction of equity (0.0 for spot).")
    max_order_notional_quote: float = Field(default=1000.0, gt=0, description="Largest price * size of one order; larger quotes are clipped.")
    cancel_budget_per_min: int = Field(default=60, ge=1, description="Cancels per 60 s of event time; risk-reducing cancels beyond it are a breach.")
    reprice_budget_fraction: float = Field(
        default=0.8, gt=0, le=1,
        description="Reprice cancels stop once this fraction of the budget is used in the window (the old quote rests until "
                    "it frees); the rest is kept for risk-reducing cancels.")
    reuse_price_tolerance_bps: float = Field(default=1.0, ge=0, description="A live order within this many bps of the desired price is kept.")
    reuse_size_tolerance_pct: float = Field(default=0.25, ge=0, description="... and whose remaining size is within this fraction of the desired size.")
    deny_quotes_crossing_mid: bool = Field(default=True, description="Deny a BUY at/above mid or a SELL at/below mid.")
    reduce_only_when_derisk: bool = Field(default=True, description="Mark places reduce_only when the decision is derisk_only.")
    dedup_window: int = Field(default=4096, ge=16, description="How many fill / decision / closed-order ids are remembered for dedup.")

    @model_validator(mode="after")
    def _band(self) -> "GateConfig":
        if not self.min_base_pct < self.max_base_pct:
            raise ValueError("min_base_pct must be < max_base_pct")
        return self



@dataclass(frozen=True, slots=True)
class GateResult:
    """Commands to send (``schemas/order.avsc`` dicts, without produce_time) and what was denied.

    Each denial is ``{"reason", "side", "level", "client_order_id", "detail"}``.
    """

    commands: tuple[dict[str, Any], ...] = ()
    denials: tuple[dict[str, Any], ...] = ()
    cancel_budget_breach: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def places(self) -> list[dict[str, Any]]:
        """The PLACE commands."""
        return [c for c in self.commands if c["action"] == "PLACE"]

    @property
    def cancels(self) -> list[dict[str, Any]]:
        """The CANCEL and CANCEL_ALL commands."""
        return [c for c in self.commands if c["action"] != "PLACE"]


@dataclass(slots=True)
class _Want:
    side: str
    level: int
    price: float
    size: float
    client_order_id: str


@dataclass(slots=True)
class _Acc:
    """Accumulates the outputs of one gate call."""

    t: int
    cause_id: str
    mid: float | None
    commands: list[dict[str, Any]] = field(default_factory=list)
    denials: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    breach: bool = False

    def deny(self, reason: str, side: str | None = None, level: int | None = None, cid: str | None = None, detail: str = "") -> None:
        self.denials.append({"reason": reason, "side": side, "level": level, "client_order_id": cid, "detail": detail})

    def result(self) -> GateResult:
        return GateResult(tuple(self.commands), tuple(self.denials), self.breach, tuple(self.notes))


class RiskGate:
    """Pure risk gate of one instance and market.

    ``balance_quote`` / ``position_base`` are the account at start (equity = balance + position * mid);
    fills keep them current. Feed it ``on_quote``, ``on_guard_state`` (or ``on_guard_record``),
    ``on_order_update`` and ``on_fill``; send the returned commands.
    """

    def __init__(
        self,
        config: GateConfig,
        rules: MarketRules,
        instance_id: str,
        market: str,
        balance_quote: float,
        position_base: float = 0.0,
    ) -> None:
        self.config = config
        self.rules = rules
        self.instance_id = instance_id
        self.market = market
        self.ledger = PositionLedger(balance_quote, position_base, config.dedup_window)
        self.orders = OrderTracker(config.dedup_window)
        self._budget = CancelBudget(config.cancel_budget_per_min)
        self._guard = GuardState.RUNNING
        self._decisions = RecentIds(config.dedup_window)
        self._now: int | None = None

    # ------------------------------------------------------------------ views
    @property
    def guard_state(self) -> GuardState:
        """The guard state the gate currently obeys."""
        return self._guard

    def cancels_used(self, event_time: Any) -> int:
        """Cancels counted in the budget window ending at ``event_time``."""
        return self._budget.used(to_micros(event_time))

    def worst_case_position(self, side: str) -> float:
        """Position (base) if every tracked order of ``side`` filled completely."""
        pos = self.ledger.position_base
        exp = self.orders.exposure(side)
        return pos + exp if side == BUY else pos - exp

    # ------------------------------------------------------------------ inputs
    def on_guard_state(self, state: GuardState | str, event_time: Any, cause_id: str) -> GateResult:
        """The guard changed state. Entering HARD_STOP always emits CANCEL_ALL; SOFT_PAUSE when orders are live."""
        new = GuardState(state)
        t = self._advance(event_time)
        prev, self._guard = self._guard, new
        acc = _Acc(t, cause_id, None)
        if new != prev and new != GuardState.RUNNING:
            if new == GuardState.HARD_STOP or self._has_open_orders():
                self._cancel_all(acc, _guard_reason(new))
        return acc.result()

    def on_guard_record(self, record: Mapping[str, Any]) -> GateResult:
        """Apply a ``schemas/guard.avsc`` record of this instance (others are ignored)."""
        if record.get("instance_id") != self.instance_id or record.get("market") != self.market:
            return GateResult(notes=("guard_record_for_other_instance",))
        return self.on_guard_state(record["state"], record["event_time"], str(record["event_id"]))

    def on_order_update(self, update: Mapping[str, Any]) -> bool:
        """Apply a ``schemas/order_update.avsc`` record; False when it is not about a tracked order."""
        if update.get("instance_id") != self.instance_id or update.get("market") != self.market:
            return False
        return self.orders.on_update(update)

    def on_fill(self, fill: Mapping[str, Any]) -> bool:
        """Apply a ``schemas/fill.avsc`` record to position and order exposure; False for a duplicate (replayed) fill."""
        if fill.get("instance_id") != self.instance_id or fill.get("market") != self.market:
            return False
        if not self.ledger.apply_fill(fill):
            return False
        self.orders.on_fill_size(str(fill["client_order_id"]), float(fill["size"]))
        return True

    def on_quote(self, quote: Mapping[str, Any]) -> GateResult:
        """Turn one quote decision into commands (see the module doc for the rules)."""
        if quote.get("instance_id") != self.instance_id or quote.get("market") != self.market:
            return GateResult(notes=("quote_for_other_instance",))
        did = str(quote["event_id"])
        if not self._decisions.add(did):
            return GateResult(notes=("duplicate_decision",))
        t = self._advance(quote["event_time"])
        mid = float(quote["mid"])
        acc = _Acc(t, did, mid)
        desired = list(quote.get("quotes") or ())

        if self._guard != GuardState.RUNNING:
            reason = _guard_reason(self._guard)
            for q in desired:
                acc.deny(reason, q["side"], int(q["level"]))
            if self._has_live_orders():
                self._cancel_all(acc, reason)
            return acc.result()
        if not desired:
            if self._has_live_orders():
                self._cancel_all(acc, "empty_quote")
            return acc.result()
        if not (mid > 0.0 and math.isfinite(mid)):
            for q in desired:
                acc.deny("invalid_mid", q["side"], int(q["level"]))
            return acc.result()

        pos = self.ledger.position_base
        equity = self.ledger.equity(mid)
        derisk = bool(quote.get("derisk_only", False))
        wants = self._normalise(desired, did, mid, pos, derisk, acc)
        for side in (BUY, SELL):
            self._reconcile_side(side, wants[side], acc, pos, equity, mid, derisk)
        return acc.result()

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """JSON-able state; ``RiskGate.restore`` continues from it."""
        return {
            "guard_state": self._guard.value,
            "now": self._now,
            "ledger": self.ledger.snapshot(),
            "orders": self.orders.snapshot(),
            "cancel_times": self._budget.to_list(),
            "decisions": self._decisions.to_list(),
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], config: GateConfig, rules: MarketRules, instance_id: str, market: str) -> "RiskGate":
        """A gate in the state ``snapshot()`` returned."""
        g = cls(config, rules, instance_id, market, 0.0)
        g.ledger = PositionLedger.restore(snap["ledger"], config.dedup_window)
        g.orders = OrderTracker.restore(snap["orders"], config.dedup_window)
        g._budget = CancelBudget(config.cancel_budget_per_min, times=snap.get("cancel_times", ()))
        g._guard = GuardState(snap.get("guard_state", "RUNNING"))
        g._decisions = RecentIds(config.dedup_window, snap.get("decisions", ()))
        g._now = snap.get("now")
        return g

    # ------------------------------------------------------------------ internals
    def _advance(self, event_time: Any) -> int:
        t = to_micros(event_time)
        if self._now is None or t > self._now:
            self._now = t
        return self._now

    def _has_live_orders(self) -> bool:
        return any(o.live for o in self.orders)

    def _has_open_orders(self) -> bool:
        return any(o.status != CLOSED for o in self.orders)

    def _is_reducing(self, side: str, pos: float) -> bool:
        dust = self.rules.lot_size * 1e-6
        return pos < -dust if side == BUY else pos > dust

    def _normalise(self, desired: list[Mapping[str, Any]], did: str, mid: float, pos: float, derisk: bool, acc: _Acc) -> dict[str, list[_Want]]:
        cfg, rules = self.config, self.rules
        out: dict[str, list[_Want]] = {BUY: [], SELL: []}
        seen: set[tuple[str, int]] = set()
        for q in sorted(desired, key=lambda q: (q["side"], int(q["level"]))):
            side, level = q["side"], int(q["level"])
            price, size = float(q["price"]), float(q["size"])
            if (side, level) in seen:
                acc.deny("duplicate_level", side, level)
                continue
            seen.add((side, level))
            if side not in (BUY, SELL) or not (price > 0.0 and size > 0.0 and math.isfinite(price) and math.isfinite(size)):
                acc.deny("invalid_quote", side, level)
                continue
            if derisk and not self._is_reducing(side, pos):
                acc.deny("derisk_only", side, level)
                continue
            price = rules.round_price(price, side)
            if cfg.deny_quotes_crossing_mid and (price >= mid if side == BUY else price <= mid):
                acc.deny("price_crosses_mid", side, level, detail=f"price={price!r} mid={mid!r}")
                continue
            wanted = rules.round_size(size)
            size = rules.round_size(min(size, cfg.max_order_notional_quote / price))
            if size < wanted:
                acc.notes.append(f"clipped_max_notional:{side}:{level}")
            why = rules.rejection(price, size)
            if why is not None:
                acc.deny(why, side, level, detail=f"price={price!r} size={size!r}")
                continue
            out[side].append(_Want(side, level, price, size, make_id("co", did, side, level)))
        return out

    def _reusable(self, o: TrackedOrder, w: _Want) -> bool:
        cfg = self.config
        price_tol = cfg.reuse_price_tolerance_bps * w.price / 1e4
        size_tol = cfg.reuse_size_tolerance_pct * w.size
        # The tiny absolute slack keeps "same price after rounding" a match despite float noise.
        return abs(o.price - w.price) <= price_tol + 1e-12 * w.price and abs(o.remaining - w.size) <= size_tol + 1e-12 * w.size

    def _caps(self, equity: float, mid: float) -> tuple[float, float]:
        eq = max(equity, 0.0)
        return self.config.max_base_pct * eq / mid, self.config.min_base_pct * eq / mid

    def _headroom(self, side: str, pos: float, equity: float, mid: float, derisk: bool) -> float:
        cap_long, cap_short = self._caps(equity, mid)
        exp = self.orders.exposure(side)
        room = cap_long - (pos + exp) if side == BUY else (pos - exp) - cap_short
        if derisk:
            room = min(room, (-pos if side == BUY else pos) - exp)
        return room

    def _reconcile_side(self, side: str, wants: list[_Want], acc: _Acc, pos: float, equity: float, mid: float, derisk: bool) -> None:
        live = self.orders.live(side)
        unmatched_live = list(live)
        kept: list[TrackedOrder] = []
        to_place: list[_Want] = []
        for w in wants:
            best: TrackedOrder | None = None
            for o in unmatched_live:
                if self._reusable(o, w) and (best is None or abs(o.price - w.price) < abs(best.price - w.price)):
                    best = o
            if best is None:
                to_place.append(w)
            else:
                unmatched_live.remove(best)
                kept.append(best)

        # Kept orders must still fit the cap (equity or mid may have moved): cancel the farthest first.
        cancels: list[tuple[TrackedOrder, str, bool]] = []
        over = -self._headroom(side, pos, equity, mid, derisk=False)
        if over > self.rules.lot_size * 1e-6:
            for o in sorted(kept, key=lambda o: o.price if side == BUY else -o.price):
                if over <= self.rules.lot_size * 1e-6:
                    break
                kept.remove(o)
                over -= o.exposure
                cancels.append((o, "inventory_cap", True))

        # Most aggressive (closest to the other side) first: a stale aggressive quote is the riskiest.
        strategy_reason = "derisk_only" if (derisk and not wants) else ("reprice" if wants else "side_not_quoted")
        forced = strategy_reason == "derisk_only"
        for o in sorted(unmatched_live, key=lambda o: -o.price if side == BUY else o.price):
            cancels.append((o, strategy_reason, forced))

        denied_cancels = 0
        reprice_limit = max(1, math.floor(self._budget.budget * self.config.reprice_budget_fraction))
        for o, reason, is_forced in cancels:
            if self._budget.try_consume(acc.t, forced=is_forced, limit=reprice_limit):
                self.orders.mark_pending_cancel(o.client_order_id)
                acc.commands.append(self._command("CANCEL", acc, reason, cid=o.client_order_id))
                acc.breach = acc.breach or (is_forced and self._budget.exceeded(acc.t))
            else:
                denied_cancels += 1
                acc.deny("cancel_budget", side, o.level, o.client_order_id,
                         detail=f"reprice of {o.client_order_id} deferred: {self._budget.used(acc.t)} of "
                                f"{self._budget.budget} cancels used in the last minute")

        # An order whose cancel was denied still rests: place only what fits next to it.
        n_place = max(0, len(to_place) - denied_cancels)
        for w in to_place[n_place:]:
            acc.deny("cancel_budget", side, w.level, w.client_order_id, detail="replacement withheld: old order still resting")
        reason = "reprice" if cancels else "new_quote"
        for w in to_place[:n_place]:
            if self.orders.known(w.client_order_id):
                acc.deny("duplicate_client_order_id", side, w.level, w.client_order_id)
                continue
            room = self.rules.round_size(self._headroom(side, pos, equity, mid, derisk))
            size = min(w.size, room)
            if size < w.size:
                why = self.rules.rejection(w.price, size)
                if why is not None:
                    acc.deny("derisk_size_limit" if derisk else "inventory_cap", side, w.level, w.client_order_id, detail=f"headroom={room!r}")
                    continue
                acc.notes.append(f"clipped_inventory_cap:{side}:{w.level}")
            self.orders.add(TrackedOrder(w.client_order_id, side, w.price, size, w.level, acc.cause_id, acc.t))
            acc.commands.append(
                self._command("PLACE", acc, reason, cid=w.client_order_id, side=side, price=w.price, size=size,
                              reduce_only=derisk and self.config.reduce_only_when_derisk)
            )

    def _cancel_all(self, acc: _Acc, reason: str) -> None:
        for o in self.orders:
            self.orders.mark_pending_cancel(o.client_order_id)
        # Risk-reducing: always sent, but it uses the budget like any cancel request.
        self._budget.try_consume(acc.t, forced=True)
        acc.commands.append(self._command("CANCEL_ALL", acc, reason))

    def _command(self, action: str, acc: _Acc, reason: str, cid: str | None = None, side: str | None = None,
                 price: float | None = None, size: float | None = None, reduce_only: bool = False) -> dict[str, Any]:
        key = cid if cid is not None else acc.cause_id
        return {
            "event_id": make_id("ord", self.instance_id, self.market, action, key),
            "event_time": acc.t,
            "instance_id": self.instance_id,
            "market": self.market,
            "action": action,
            "client_order_id": cid,
            "side": side,
            "price": price,
            "size": size,
            "post_only": action == "PLACE",
            "reduce_only": reduce_only,
            "decision_id": acc.cause_id,
            "mid_at_decision": acc.mid,
            "reason": reason,
        }


def _guard_reason(state: GuardState) -> str:
    return "guard_hard_stop" if state == GuardState.HARD_STOP else "guard_soft_pause"
