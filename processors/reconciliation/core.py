"""The reconciliation core: the position and quote flow hbot's own fills imply, compared with the exchange's.

Pure: fills in (``hb.fill.v1``, de-duplicated by event id), an exchange snapshot in (position and
quote balance as the exchange reports them, with the time it was taken), one
``hb.reconciliation.v1`` record out. A drift means fills were lost, counted twice, or made outside
the desk; the record's ``status`` grades it against the configured thresholds, and the
``HbotReconciliationDrift`` alert fires on the ``drift_pct`` metric the agent derives from it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from pydantic import Field, model_validator

from processors.clock import to_micros
from processors.config import FrozenConfig
from processors.desk import Origin, Output
from processors.ids import make_id
from processors.risk.recent_ids import RecentIds

FILL_TOPIC = "hb.fill.v1"
RECONCILIATION_TOPIC = "hb.reconciliation.v1"


class ReconciliationConfig(FrozenConfig):
    """How often to compare, and how much drift is a warning or critical."""

    id_kind: ClassVar[str] = "reccfg"

    interval_s: float = Field(default=60.0, gt=0, description="Seconds between two comparisons with the exchange.")
    warning_pct: float = Field(default=0.002, ge=0, description="|drift| / reference at or above this is 'warning'.")
    critical_pct: float = Field(default=0.01, gt=0, description="... and at or above this 'critical' (the alert's 1 %).")
    min_reference_base: float = Field(
        default=0.001, gt=0,
        description="Smallest position used as the reference of drift_pct, so a drift from a flat position is a "
                    "large fraction rather than a division by zero.")
    initial_position_base: float = Field(default=0.0, description="Position the account held before hbot's first fill.")
    dedup_window: int = Field(default=4096, ge=16, description="How many fill ids are remembered for dedup.")

    @model_validator(mode="after")
    def _ordered(self) -> "ReconciliationConfig":
        if self.warning_pct > self.critical_pct:
            raise ValueError(f"warning_pct ({self.warning_pct}) must not exceed critical_pct ({self.critical_pct})")
        return self


class Reconciler:
    """One instance's fills ledger and its comparisons with the exchange."""

    inputs = frozenset({FILL_TOPIC})

    def __init__(self, config: ReconciliationConfig, instance_id: str, market: str) -> None:
        self.config, self.instance_id, self.market = config, instance_id, market
        self.position_base = config.initial_position_base
        self.quote_flow = 0.0  # quote received minus paid (fees included) since the first fill
        self.fills = 0
        self.last_fill_us = 0
        self._seen = RecentIds(config.dedup_window)

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin | None = None) -> list[Output]:
        """Book a fill once (a replayed fill changes nothing); other topics are ignored."""
        if topic != FILL_TOPIC or not self._seen.add(str(record["event_id"])):
            return []
        sign = 1.0 if record["side"] == "BUY" else -1.0
        size, price = float(record["size"]), float(record["price"])
        self.position_base += sign * size
        self.quote_flow += -sign * size * price - float(record["fee_quote"])
        self.fills += 1
        self.last_fill_us = max(self.last_fill_us, to_micros(record["event_time"]))
        return []

    def compare(self, taken_at_us: int, exchange_position_base: float, exchange_balance_quote: float | None = None,
                initial_balance_quote: float | None = None, source: str = "live") -> dict[str, Any]:
        """The ``hb.reconciliation.v1`` record (without produce_time) for an exchange snapshot taken at ``taken_at_us``.

        ``drift_pct`` = (exchange - internal) / max(|exchange|, |internal|, min_reference_base). The
        internal quote balance is only known when ``initial_balance_quote`` (the balance before the
        first fill) is given.
        """
        drift = exchange_position_base - self.position_base
        reference = max(abs(exchange_position_base), abs(self.position_base), self.config.min_reference_base)
        drift_pct = drift / reference
        size = abs(drift_pct)
        status = "critical" if size >= self.config.critical_pct else "warning" if size >= self.config.warning_pct else "ok"
        internal_balance = None if initial_balance_quote is None else initial_balance_quote + self.quote_flow
        return {
            "event_id": make_id("rec", self.instance_id, self.market, taken_at_us),
            "event_time": taken_at_us,
            "instance_id": self.instance_id,
            "market": self.market,
            "exchange_position_base": exchange_position_base,
            "internal_position_base": self.position_base,
            "drift_base": drift,
            "drift_pct": drift_pct,
            "exchange_balance_quote": exchange_balance_quote,
            "internal_balance_quote": internal_balance,
            "status": status,
            "source": source,
        }

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"position_base": self.position_base, "quote_flow": self.quote_flow, "fills": self.fills,
                "last_fill_us": self.last_fill_us, "seen": self._seen.to_list()}

    @classmethod
    def restore(cls, config: ReconciliationConfig, instance_id: str, market: str,
                snap: Mapping[str, Any] | None) -> "Reconciler":
        """A reconciler continuing from ``snap`` (None: a fresh one)."""
        r = cls(config, instance_id, market)
        if snap:
            r.position_base, r.quote_flow = float(snap["position_base"]), float(snap["quote_flow"])
            r.fills, r.last_fill_us = int(snap["fills"]), int(snap["last_fill_us"])
            r._seen = RecentIds(config.dedup_window, snap.get("seen", ()))
        return r
