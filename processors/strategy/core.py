"""``EppV24Core``: the EPP v2.4 market-making strategy as a pure, deterministic state machine.

Feed it decoded records of one market (``on_book``, ``on_trade``, ``on_candle``, ``on_funding``,
``on_fill``, ``on_signal``, ``on_intent``, ``on_guard``); each call returns a ``Decision`` when one
is due, else None. The core reads no clock: "now" is the latest event time it has seen. Its whole
state round-trips through ``snapshot()`` / ``restore()`` as a JSON-able dict, so a worker that
restores the last snapshot and is fed the same inputs makes the same decisions.

**Decision cadence.** Decisions are made on book events only (they need a fresh book for the
no-cross guarantee), namely on the first book, and then on a book when any of these holds:

- an input changed something the quotes depend on since the last decision ("dirty"): a fill, an
  accepted intent or signal, a funding observation, a guard change, a UTC rollover, a book coming
  back after a stale period;
- ``refresh_s`` of the regime in force at the last decision has elapsed (event time), or the
  regime override used by the last decision has expired;
- mid moved ``requote_mid_move_bps`` or more from the last decision's mid.

One exception: when a non-book input shows the book is older than ``order_book_stale_after_s``,
one decision with no quotes (cancel all) and ``order_book_stale = True`` is made at once.

Each decision carries the event ids (and, when the caller passes ``origin``, the topic/partition/
offset) of every input applied since the previous decision, including its trigger.

**Decision steps** (see the modules for each rule): regime (override, or detection from candles /
price buffer) -> inventory target and skew -> cost floor and ``min_edge_threshold`` -> adverse-fill
widening -> spread and levels from the regime and daily turnover -> order-book imbalance skew ->
risk reasons (inventory band, EOD close) -> either derisk-only quoting of the reducing side, or a
two-sided ladder whose levels are kept only where their expected edge clears the threshold ->
sizes (regime or Kelly) -> tick/lot rounding that never crosses the book.

Inputs for another market, or fills/signals/intents/guard records for another instance, are
ignored, as are duplicate fills (same event id) and books whose sequence does not increase.
Malformed values are ignored too (counted in ``ignored_inputs``); the core never raises on input.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from processors.clock import US_PER_DAY, US_PER_S, to_micros
from processors.strategy import cost_model, inventory
from processors.strategy.accounting import PositionBook
from processors.strategy.candles import CandleSeries, interval_seconds
from processors.strategy.config import EppV24Config
from processors.strategy.imbalance import book_imbalance, combine_skew, imbalance_skew
from processors.strategy.price_buffer import PriceBuffer
from processors.decimals import step_decimals
from processors.strategy.quote_ladder import buy_prices, floor_to, level_size, sell_prices
from processors.strategy.realized_edge import FillEdgeTracker, fill_edge_bps
from processors.strategy.records import quote_record, state_record
from processors.strategy.regime_detection import (
    SOURCE_ML,
    SOURCE_OVERRIDE,
    RegimeOverride,
    classify_regime,
    select_indicators,
)
from processors.strategy.regimes import PHASE0_SPECS, REGIME_NAMES, RegimeSpec, regime_from_index
from processors.strategy.sizing import order_quote

SNAPSHOT_VERSION = 1
LEVEL_STEP_FRACTION = 0.4
"""Each further level sits this fraction of the half spread beyond the previous one (desk rule)."""
EDGE_GATE_BLOCKED = "edge_gate_blocked"
ORDER_BOOK_STALE = "order_book_stale"
_GUARD_STATES = ("RUNNING", "SOFT_PAUSE", "HARD_STOP")
_RECENT_FILL_IDS = 512
"""Fill event ids remembered for de-duplication: redeliveries come from the uncommitted tail, a short window."""


@dataclass(frozen=True, slots=True)
class DecisionDetail:
    """Intermediate values of one decision (not emitted; for tests, backtests and debugging)."""

    regime_spec: RegimeSpec
    band_pct: float
    ema: float | None
    drift_30s: float
    drift_smooth: float
    spread_pct: float
    levels: int
    inventory_skew: float
    imbalance_skew: float
    skew: float
    buy_distances: tuple[float, ...]
    sell_distances: tuple[float, ...]
    buy_edges: tuple[float, ...]
    sell_edges: tuple[float, ...]
    cost_floor_bps: float
    funding_cost_bps: float
    order_quote: float
    kelly_active: bool
    one_sided: str
    derisk_side: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """One strategy decision: the ``hb.quote.v1`` and ``hb.strategy_state.v1`` records, and details."""

    quote: dict[str, Any]
    state: dict[str, Any]
    detail: DecisionDetail


class EppV24Core:
    """The strategy state of one instance on one market, advanced by events."""

    def __init__(
        self,
        config: EppV24Config,
        instance_id: str,
        market: str,
        *,
        specs: Mapping[str, RegimeSpec] | None = None,
    ) -> None:
        self.config = config
        self.instance_id = instance_id
        self.market = market
        self.specs: Mapping[str, RegimeSpec] = specs if specs is not None else PHASE0_SPECS
        missing = [name for name in REGIME_NAMES if name not in self.specs]
        if missing:
            raise ValueError(f"specs lacks regimes {missing}; give a RegimeSpec for each of {list(REGIME_NAMES)}")
        self.config_id = config.config_id
        # Derived constants, computed once (the config is frozen).
        self._tick = config.tick_size
        self._tick_dec = step_decimals(config.tick_size)
        self._lot = config.lot_size
        self._lot_dec = step_decimals(config.lot_size)
        self._stale_us = int(config.order_book_stale_after_s * US_PER_S)
        self._override_hold_us = int(config.regime_override_hold_s * US_PER_S)
        self._requote_frac = config.requote_mid_move_bps / 10_000.0
        self._funding_max_age_us = int(config.funding_max_age_s * US_PER_S)
        max_bars = max(2 * config.ema_period, config.band_period + 1)
        self._one_sided_allowed = (not config.is_perp) or config.one_sided_on_perp
        self._candle_interval_us = interval_seconds(config.candles_interval) * US_PER_S
        self._reset_state(max_bars)

    def _reset_state(self, max_bars: int) -> None:
        cfg = self.config
        self._pb = PriceBuffer(cfg.sample_interval_s, cfg.bar_interval_s, max_bars, cfg.drift_smoothing_alpha)
        self._candles = CandleSeries(self._candle_interval_us, max_bars)
        self._edge = FillEdgeTracker(cfg.adverse_fill_count_threshold, cfg.kelly_window)
        self._book = PositionBook(cfg.total_amount_quote)
        self._override = RegimeOverride()
        self._now_us = 0
        self._day = -1
        self._next_day_us = -1  # the first input initialises the day
        # Latest book.
        self._book_seq = -(2**63)
        self._book_time_us = 0
        self._mid = 0.0
        self._best_bid = 0.0
        self._best_ask = 0.0
        self._bids: list[dict[str, Any]] = []
        self._asks: list[dict[str, Any]] = []
        # External inputs.
        self._target_override: float | None = None
        self._funding_rate = 0.0
        self._funding_time_us = 0
        self._guard_state = "RUNNING"
        self._eod_pending = False
        # Decision bookkeeping.
        self._dirty = False
        self._stale_reported = False
        self._decision_seq = 0
        self._last_mid = 0.0
        self._requote_abs = 0.0
        self._next_forced_us = -1
        self._last_cost_floor_bps = cfg.maker_fee_bps + cfg.slippage_bps
        self._pending_ids: list[str] = []
        self._pending_offsets: list[dict[str, Any]] = []
        self._recent_fill_ids: deque[str] = deque(maxlen=_RECENT_FILL_IDS)
        self._recent_fill_set: set[str] = set()
        self.ignored_inputs = 0

    # ------------------------------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------------------------------
    def on_book(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.market.book.v1`` record; returns a decision when one is due (see cadence)."""
        if rec["market"] != self.market:
            return None
        seq = rec["sequence"]
        if seq <= self._book_seq:
            self.ignored_inputs += 1
            return None
        t = rec["event_time"]
        if type(t) is not int:
            t = to_micros(t)
        bids = rec["bids"]
        asks = rec["asks"]
        self._book_seq = seq
        if t > self._now_us:
            self._now_us = t
            if t >= self._next_day_us:
                self._roll_day(t)
        self._pending_ids.append(rec["event_id"])
        if origin is not None:
            self._add_origin(origin)
        if not bids or not asks:
            return None  # a one-sided book gives no mid; the next full book decides
        bb = bids[0]["price"]
        ba = asks[0]["price"]
        mid = (bb + ba) * 0.5
        if not mid > 0.0 or mid == math.inf:
            self.ignored_inputs += 1
            return None
        self._mid = mid
        self._best_bid = bb
        self._best_ask = ba
        self._bids = bids
        self._asks = asks
        self._book_time_us = t
        pb = self._pb
        pb.last_mid = mid
        if t >= pb.next_sample_us:
            pb.add_sample(t, mid)
        if self._stale_reported:
            self._stale_reported = False
            self._dirty = True
        if self._dirty or t >= self._next_forced_us or abs(mid - self._last_mid) >= self._requote_abs:
            return self._decide(stale=False)
        return None

    def on_trade(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.market.trade.v1`` record (it advances event time; paper fills come as fills)."""
        if self._accept(rec, origin) is None:
            return None
        return self._check_stale()

    def on_candle(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.market.candle.v1`` record (kept when a candles source is configured)."""
        if self._accept(rec, origin) is None:
            return None
        if self.config.use_candles and rec.get("interval") == self.config.candles_interval:
            try:
                ok = self._candles.add(
                    to_micros(rec["open_time"]), float(rec["high"]), float(rec["low"]), float(rec["close"])
                )
            except (TypeError, ValueError, KeyError):
                ok = False
            if not ok:
                self.ignored_inputs += 1
        return self._check_stale()

    def on_funding(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.market.funding.v1`` record: the funding rate used by the cost floor [P1-1]."""
        t = self._accept(rec, origin)
        if t is None:
            return None
        rate = _as_float(rec.get("funding_rate"))
        if rate is None:
            self.ignored_inputs += 1
        elif t >= self._funding_time_us:
            self._funding_rate = rate
            self._funding_time_us = t
            self._dirty = True
        return self._check_stale()

    def on_fill(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.fill.v1`` record of this instance: position, PnL, fill-edge EWMA [P1-2]."""
        if rec.get("instance_id") != self.instance_id:
            return None
        event_id = rec["event_id"]
        if event_id in self._recent_fill_set:
            self.ignored_inputs += 1
            return None
        if self._accept(rec, origin) is None:
            return None
        price = _as_float(rec.get("price"))
        size = _as_float(rec.get("size"))
        fee = _as_float(rec.get("fee_quote"))
        side = rec.get("side")
        if price is None or size is None or fee is None or price <= 0.0 or size <= 0.0 or side not in ("BUY", "SELL"):
            self.ignored_inputs += 1
            return self._check_stale()
        if len(self._recent_fill_ids) == self._recent_fill_ids.maxlen:
            self._recent_fill_set.discard(self._recent_fill_ids[0])
        self._recent_fill_ids.append(event_id)
        self._recent_fill_set.add(event_id)
        self._book.apply_fill(side, price, size, fee)
        mid_ref = _as_float(rec.get("mid_at_fill"))
        if mid_ref is None or mid_ref <= 0.0:
            mid_ref = self._mid
        if mid_ref > 0.0:
            self._edge.on_fill(fill_edge_bps(side, price, mid_ref), self._last_cost_floor_bps)
        self._dirty = True
        return self._check_stale()

    def on_signal(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.signal.v1`` record: ``inventory_rebalance`` [P0-1], ``regime_override`` [ROAD-10]."""
        if rec.get("instance_id") != self.instance_id:
            return None
        t = self._accept(rec, origin)
        if t is None:
            return None
        expires = rec.get("expires_at")
        value = _as_float(rec.get("signal_value"))
        name = rec.get("signal_name")
        if expires is not None and to_micros(expires) < t:
            self.ignored_inputs += 1  # expired before it arrived
        elif value is None:
            self.ignored_inputs += 1
        elif name == "inventory_rebalance":
            self._target_override = inventory.clip_target(value, self.config)
            self._dirty = True
        elif name == "regime_override" and self.config.ml_regime_enabled:
            regime = regime_from_index(value)
            if regime is None:
                self.ignored_inputs += 1
            else:
                self._override.set(regime, SOURCE_ML, t, self._override_hold_us)
                self._dirty = True
        else:
            self.ignored_inputs += 1
        return self._check_stale()

    def on_intent(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.execution_intent.v1`` record: ``set_target_base_pct``, ``set_regime_override``.

        ``set_target_base_pct`` with a null target clears the override (back to the regime target).
        ``kill_switch`` and ``resume`` belong to the kill switch and the risk gate; they are recorded
        as inputs and otherwise ignored here.
        """
        if rec.get("instance_id") != self.instance_id:
            return None
        t = self._accept(rec, origin)
        if t is None:
            return None
        action = rec.get("action")
        if action == "set_target_base_pct":
            raw = rec.get("target_base_pct")
            if raw is None:
                self._target_override = None
                self._dirty = True
            else:
                value = _as_float(raw)
                if value is None:
                    self.ignored_inputs += 1
                else:
                    self._target_override = inventory.clip_target(value, self.config)
                    self._dirty = True
        elif action == "set_regime_override":
            regime = rec.get("regime")
            if regime in self.specs:
                self._override.set(regime, SOURCE_OVERRIDE, t, self._override_hold_us)
                self._dirty = True
            else:
                self.ignored_inputs += 1
        return self._check_stale()

    def on_guard(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None = None) -> Decision | None:
        """Apply a ``hb.guard.v1`` record: the guard state is reported, quoting stays independent."""
        if rec.get("instance_id") != self.instance_id:
            return None
        if self._accept(rec, origin) is None:
            return None
        state = rec.get("state")
        if state not in _GUARD_STATES:
            self.ignored_inputs += 1
        elif state != self._guard_state:
            self._guard_state = state
            self._dirty = True
        return self._check_stale()

    # ------------------------------------------------------------------------------------------
    # read-only views
    # ------------------------------------------------------------------------------------------
    @property
    def now_us(self) -> int:
        """Latest event time seen (microseconds)."""
        return self._now_us

    @property
    def position_base(self) -> float:
        """Signed net position in base currency."""
        return self._book.position

    @property
    def decision_seq(self) -> int:
        """Sequence number of the latest decision (0 before the first)."""
        return self._decision_seq

    @property
    def eod_close_pending(self) -> bool:
        """True from a rollover with a position above ``min_close_notional_quote`` until flat [P1-3]."""
        return self._eod_pending

    @property
    def price_buffer(self) -> PriceBuffer:
        """The 10 s sampled price buffer (read it, do not feed it directly)."""
        return self._pb

    @property
    def fill_edge(self) -> FillEdgeTracker:
        """The realized-edge tracker (read it, do not feed it directly)."""
        return self._edge

    # ------------------------------------------------------------------------------------------
    # internals
    # ------------------------------------------------------------------------------------------
    def _accept(self, rec: Mapping[str, Any], origin: tuple[str, int, int] | None) -> int | None:
        """Common handling of a non-book input: market filter, event time, rollover, provenance."""
        if rec.get("market") != self.market:
            return None
        t = rec["event_time"]
        if type(t) is not int:
            t = to_micros(t)
        if t > self._now_us:
            self._now_us = t
            if t >= self._next_day_us:
                self._roll_day(t)
        self._pending_ids.append(rec["event_id"])
        if origin is not None:
            self._add_origin(origin)
        return t

    def _add_origin(self, origin: tuple[str, int, int]) -> None:
        topic, partition, offset = origin
        self._pending_offsets.append({"topic": topic, "partition": int(partition), "offset": int(offset)})

    def _check_stale(self) -> Decision | None:
        """One cancel-all decision when other inputs show the book went stale."""
        if (
            not self._stale_reported
            and self._decision_seq > 0
            and self._now_us - self._book_time_us > self._stale_us
        ):
            self._stale_reported = True
            return self._decide(stale=True)
        return None

    def _roll_day(self, t: int) -> None:
        """UTC day boundary crossed (event time): reset daily counters, maybe schedule the EOD close."""
        day = t // US_PER_DAY
        first = self._day < 0
        self._day = day
        self._next_day_us = (day + 1) * US_PER_DAY
        if first:
            return
        self._book.roll_day()
        mid = self._mid
        if (
            self.config.close_position_at_rollover
            and mid > 0.0
            and abs(self._book.position) * mid > self.config.min_close_notional_quote
        ):
            self._eod_pending = True
        self._dirty = True

    def _decide(self, *, stale: bool) -> Decision:
        cfg = self.config
        now = self._now_us
        mid = self._mid
        bb = self._best_bid
        ba = self._best_ask
        acct = self._book
        position = acct.position

        if self._eod_pending and abs(position) < inventory.min_base_amount(mid, cfg):
            self._eod_pending = False

        # --- regime --------------------------------------------------------------------------
        ind = select_indicators(cfg, self._candles, self._pb, now)
        band = ind.band_pct if ind.band_pct is not None else 0.0
        drift = self._pb.adverse_drift_30s(now)
        drift_smooth = self._pb.adverse_drift_smooth()
        override = self._override
        if override.active(now):
            regime = override.regime  # type: ignore[assignment]
            source = override.source
        else:
            regime = classify_regime(
                mid, ind.ema, ind.band_pct, drift,
                high_vol_band_pct=cfg.high_vol_band_pct,
                shock_drift_30s_pct=cfg.shock_drift_30s_pct,
                trend_eps_pct=cfg.trend_eps_pct,
            )
            source = ind.source
        spec = self.specs[regime]

        # --- inventory -----------------------------------------------------------------------
        equity = acct.equity(mid)
        base_pct = acct.base_pct(mid)
        if self._target_override is not None:
            target = self._target_override
        else:
            target = inventory.clip_target(spec.target_base_pct, cfg)
        inv_skew = inventory.inventory_skew(target, base_pct, regime, band, cfg)

        # --- cost floor and edge threshold [P1-1] -----------------------------------------------
        funding_rate = self._funding_rate if now - self._funding_time_us <= self._funding_max_age_us else 0.0
        funding_bps = cost_model.funding_cost_bps(funding_rate, base_pct, cfg.is_perp)
        turnover_x = acct.turnover_day_quote / equity if equity > 0.0 else 0.0
        floor = cost_model.cost_floor(
            maker_fee_bps=cfg.maker_fee_bps,
            slippage_bps=cfg.slippage_bps,
            adverse_drift=drift_smooth,
            funding_bps=funding_bps,
            turnover_bps=cost_model.turnover_penalty_bps(turnover_x, cfg.turnover_cap_x, cfg.turnover_penalty_step),
        )
        floor_bps = floor.total_bps
        threshold = cost_model.min_edge_threshold(floor_bps, cfg.min_net_edge_bps)
        self._last_cost_floor_bps = floor_bps

        # --- adverse-fill widening [P1-2] ----------------------------------------------------------
        self._edge.refresh(floor_bps)
        adverse = self._edge.adverse_active
        multiplier = cfg.adverse_fill_spread_multiplier if adverse else 1.0

        # --- spread, levels, skew --------------------------------------------------------------
        spread_min = spec.spread_min * multiplier
        spread_max = spec.spread_max * multiplier
        ratio = inventory.clip(turnover_x / cfg.turnover_cap_x, 0.0, 1.0)
        spread_pct = spread_min + (spread_max - spread_min) * ratio
        span = spec.levels_max - spec.levels_min
        levels = max(spec.levels_min, spec.levels_max - int(round(ratio * span)))
        imbalance = book_imbalance(self._bids, self._asks, cfg.imbalance_levels)
        imb_skew = imbalance_skew(imbalance, cfg.imbalance_threshold, cfg.imbalance_skew_pct)
        skew = combine_skew(inv_skew, imb_skew, cfg.inventory_skew_cap_pct)
        half = spread_pct * 0.5
        step = half * LEVEL_STEP_FRACTION
        market_spread = (ba - bb) / mid if ba > bb else 0.0
        side_floor = max(cfg.min_side_spread_bps / 10_000.0, market_spread * 0.5)
        net_edge = spec.fill_factor * spread_pct

        # --- risk reasons [P0-1, P1-3] -------------------------------------------------------------
        reasons = inventory.base_pct_reasons(base_pct, cfg)
        if self._eod_pending:
            reasons.append(inventory.EOD_CLOSE_PENDING)
        derisk_only = bool(reasons)  # every reason so far is a de-risk reason
        if net_edge < threshold:
            reasons.append(EDGE_GATE_BLOCKED)
        book_stale = stale or now - self._book_time_us > self._stale_us
        if book_stale:
            reasons.append(ORDER_BOOK_STALE)

        # --- quotes --------------------------------------------------------------------------------
        quote_notional, kelly_active = order_quote(equity, spec.quote_size_pct, self._edge, cfg)
        one_sided = spec.one_sided if self._one_sided_allowed else "off"
        buy_d: list[float] = []
        sell_d: list[float] = []
        buy_e: list[float] = []
        sell_e: list[float] = []
        quotes: list[dict[str, Any]] = []
        side_out: str | None = None
        if derisk_only:
            side_out = inventory.derisk_side(position)
            if not book_stale:
                quotes = self._derisk_quotes(side_out, mid, bb, ba, half)
        else:
            for i in range(levels):
                base = half + step * i
                bd = base - skew
                sd = base + skew
                if bd < side_floor:
                    bd = side_floor
                if sd < side_floor:
                    sd = side_floor
                buy_d.append(bd)
                sell_d.append(sd)
                # Edge is measured from the inventory reservation price (mid shifted by the inventory
                # skew): paying edge to reduce inventory is deliberate, so the skew alone never
                # removes the reducing side; the imbalance shift is not credited as edge.
                buy_e.append(cost_model.expected_side_edge(spec.fill_factor, bd + inv_skew))
                sell_e.append(cost_model.expected_side_edge(spec.fill_factor, sd - inv_skew))
            if not book_stale:
                quotes = self._ladder_quotes(
                    mid, bb, ba, buy_d, sell_d, buy_e, sell_e, threshold, one_sided, quote_notional, position
                )

        # --- records -------------------------------------------------------------------------------
        self._decision_seq += 1
        seq = self._decision_seq
        ids = self._pending_ids
        offsets = self._pending_offsets
        self._pending_ids = []
        self._pending_offsets = []
        quote = quote_record(
            instance_id=self.instance_id, market=self.market, config_id=self.config_id, decision_seq=seq,
            event_time_us=now, regime=regime, mid=mid, quotes=quotes, derisk_only=derisk_only,
            input_event_ids=ids, input_offsets=offsets,
        )
        state = state_record(
            instance_id=self.instance_id, market=self.market, config_id=self.config_id, decision_seq=seq,
            event_time_us=now,
            fields={
                "regime": regime,
                "regime_source": source,
                "mid": mid,
                "spread_min": spread_min,
                "spread_max": spread_max,
                "spread_multiplier": multiplier,
                "net_edge": net_edge,
                "min_edge_threshold": threshold,
                "target_net_base_pct": target,
                "base_pct": base_pct,
                "funding_rate_bps": funding_rate * 10_000.0,
                "fill_edge_ewma_bps": self._edge.ewma,
                "adverse_fill_active": adverse,
                "ob_imbalance": imbalance,
                "risk_reasons": reasons,
                "order_book_stale": book_stale,
                "position_base": position,
                "equity_quote": equity,
                "realized_pnl_quote": acct.realized_pnl_day,
                "unrealized_pnl_quote": acct.unrealized(mid),
                "fees_paid_quote": acct.fees_day,
                "guard_state": self._guard_state,
            },
        )
        detail = DecisionDetail(
            regime_spec=spec, band_pct=band, ema=ind.ema, drift_30s=drift, drift_smooth=drift_smooth,
            spread_pct=spread_pct, levels=levels,
            inventory_skew=inv_skew, imbalance_skew=imb_skew, skew=skew,
            buy_distances=tuple(buy_d), sell_distances=tuple(sell_d),
            buy_edges=tuple(buy_e), sell_edges=tuple(sell_e),
            cost_floor_bps=floor_bps, funding_cost_bps=funding_bps,
            order_quote=quote_notional, kelly_active=kelly_active, one_sided=one_sided, derisk_side=side_out,
        )

        # --- cadence bookkeeping ----------------------------------------------------------------------
        self._dirty = False
        self._last_mid = mid
        self._requote_abs = mid * self._requote_frac
        next_forced = now + spec.refresh_s * US_PER_S
        if override.active(now) and override.until_us < next_forced:
            next_forced = override.until_us
        self._next_forced_us = next_forced
        return Decision(quote=quote, state=state, detail=detail)

    def _derisk_quotes(self, side: str, mid: float, bb: float, ba: float, half: float) -> list[dict[str, Any]]:
        """One quote on the reducing side, near mid, for at most the whole position [P1-3]."""
        cfg = self.config
        position = abs(self._book.position)
        distance = cfg.derisk_spread_pct if cfg.derisk_spread_pct > 0.0 else half
        if side == "BUY":
            prices = buy_prices(mid, [distance], ba, self._tick, self._tick_dec)
        else:
            prices = sell_prices(mid, [distance], bb, 0.0, self._tick, self._tick_dec)
        if not prices:
            return []
        price = prices[0]
        size = min(
            floor_to(position, self._lot, self._lot_dec),
            floor_to(cfg.max_order_quote / price, self._lot, self._lot_dec),
        )
        if size <= 0.0 or size * price < cfg.min_order_quote:
            return []  # dust: below what the exchange accepts
        return [{"side": side, "level": 0, "price": price, "size": size}]

    def _ladder_quotes(
        self,
        mid: float,
        bb: float,
        ba: float,
        buy_d: list[float],
        sell_d: list[float],
        buy_e: list[float],
        sell_e: list[float],
        threshold: float,
        one_sided: str,
        notional: float,
        position: float,
    ) -> list[dict[str, Any]]:
        """The two-sided ladder: levels whose expected edge clears ``threshold``, rounded and sized."""
        cfg = self.config
        tick, dec, lot, lot_dec = self._tick, self._tick_dec, self._lot, self._lot_dec
        quotes: list[dict[str, Any]] = []
        own_best_bid = 0.0
        if one_sided != "sell_only":
            dists = [d for d, e in zip(buy_d, buy_e) if e >= threshold]
            for level, price in enumerate(buy_prices(mid, dists, ba, tick, dec)):
                size = level_size(notional, price, lot, lot_dec, cfg.min_order_quote, cfg.max_order_quote)
                if size > 0.0:
                    if own_best_bid == 0.0:
                        own_best_bid = price
                    quotes.append({"side": "BUY", "level": level, "price": price, "size": size})
        if one_sided != "buy_only":
            dists = [d for d, e in zip(sell_d, sell_e) if e >= threshold]
            # Spot cannot short: SELL quotes never add up to more than the position held.
            remaining = math.inf if cfg.is_perp else max(0.0, position)
            level = 0
            for price in sell_prices(mid, dists, bb, own_best_bid, tick, dec):
                size = level_size(notional, price, lot, lot_dec, cfg.min_order_quote, cfg.max_order_quote)
                if size > remaining:
                    size = floor_to(remaining, lot, lot_dec)
                    if size * price < cfg.min_order_quote:
                        size = 0.0
                if size > 0.0:
                    quotes.append({"side": "SELL", "level": level, "price": price, "size": size})
                    remaining -= size
                    level += 1
        return quotes

    # ------------------------------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole state as a JSON-able dict (only str, int, float, bool, None, list, dict)."""
        n = self.config.imbalance_levels
        return {
            "version": SNAPSHOT_VERSION,
            "config_id": self.config_id,
            "instance_id": self.instance_id,
            "market": self.market,
            "now_us": self._now_us,
            "day": self._day,
            "next_day_us": self._next_day_us,
            "book": {
                "seq": self._book_seq,
                "time_us": self._book_time_us,
                "mid": self._mid,
                "best_bid": self._best_bid,
                "best_ask": self._best_ask,
                "bids": [{"price": float(x["price"]), "size": float(x["size"])} for x in self._bids[:n]],
                "asks": [{"price": float(x["price"]), "size": float(x["size"])} for x in self._asks[:n]],
            },
            "price_buffer": self._pb.snapshot(),
            "candles": self._candles.snapshot(),
            "fill_edge": self._edge.snapshot(),
            "account": self._book.snapshot(),
            "override": self._override.snapshot(),
            "target_override": self._target_override,
            "funding_rate": self._funding_rate,
            "funding_time_us": self._funding_time_us,
            "guard_state": self._guard_state,
            "eod_pending": self._eod_pending,
            "dirty": self._dirty,
            "stale_reported": self._stale_reported,
            "decision_seq": self._decision_seq,
            "last_mid": self._last_mid,
            "requote_abs": self._requote_abs,
            "next_forced_us": self._next_forced_us,
            "last_cost_floor_bps": self._last_cost_floor_bps,
            "pending_ids": list(self._pending_ids),
            "pending_offsets": [dict(o) for o in self._pending_offsets],
            "recent_fill_ids": list(self._recent_fill_ids),
            "ignored_inputs": self.ignored_inputs,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace this core's state with one from ``snapshot()`` (of the same instance and market).

        A snapshot taken under another config is accepted (a config change between restarts is
        legitimate); the new config's rules apply from the next decision.
        """
        if int(state["version"]) != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {state['version']} is not {SNAPSHOT_VERSION}; cannot restore it")
        if state["instance_id"] != self.instance_id or state["market"] != self.market:
            raise ValueError(
                f"snapshot of {state['instance_id']}/{state['market']} cannot restore "
                f"{self.instance_id}/{self.market}"
            )
        self._reset_state(self._pb.max_bars)
        self._now_us = int(state["now_us"])
        self._day = int(state["day"])
        self._next_day_us = int(state["next_day_us"])
        book = state["book"]
        self._book_seq = int(book["seq"])
        self._book_time_us = int(book["time_us"])
        self._mid = float(book["mid"])
        self._best_bid = float(book["best_bid"])
        self._best_ask = float(book["best_ask"])
        self._bids = [dict(x) for x in book["bids"]]
        self._asks = [dict(x) for x in book["asks"]]
        self._pb.restore(state["price_buffer"])
        self._candles.restore(state["candles"])
        self._edge.restore(state["fill_edge"])
        self._book.restore(state["account"])
        self._override.restore(state["override"])
        t = state["target_override"]
        self._target_override = None if t is None else float(t)
        self._funding_rate = float(state["funding_rate"])
        self._funding_time_us = int(state["funding_time_us"])
        self._guard_state = str(state["guard_state"])
        self._eod_pending = bool(state["eod_pending"])
        self._dirty = bool(state["dirty"])
        self._stale_reported = bool(state["stale_reported"])
        self._decision_seq = int(state["decision_seq"])
        self._last_mid = float(state["last_mid"])
        self._requote_abs = float(state["requote_abs"])
        self._next_forced_us = int(state["next_forced_us"])
        self._last_cost_floor_bps = float(state["last_cost_floor_bps"])
        self._pending_ids = [str(x) for x in state["pending_ids"]]
        self._pending_offsets = [dict(o) for o in state["pending_offsets"]]
        self._recent_fill_ids.extend(str(x) for x in state["recent_fill_ids"])
        self._recent_fill_set = set(self._recent_fill_ids)
        self.ignored_inputs = int(state["ignored_inputs"])

    @classmethod
    def from_snapshot(
        cls,
        config: EppV24Config,
        state: Mapping[str, Any],
        *,
        specs: Mapping[str, RegimeSpec] | None = None,
    ) -> EppV24Core:
        """A core continuing from ``state`` (instance and market are taken from the snapshot)."""
        core = cls(config, str(state["instance_id"]), str(state["market"]), specs=specs)
        core.restore(state)
        return core


def _as_float(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
