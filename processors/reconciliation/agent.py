"""The reconciliation role: books every live instance's fills and compares them with the exchange.

Fills are read straight from ``hb.fill.v1`` (not through the sequencer) into one
:class:`~processors.reconciliation.core.Reconciler` per instance, checkpointed like the desk roles.
Every ``interval_s`` (the shortest of the live instances') a timer asks the exchange, with the
read-only ``data`` key, for the account's position and settle balance (:func:`fetch_inventory`, in a
thread: ccxt is blocking), publishes one ``hb.reconciliation.v1`` record per instance and sets
``hbot_reconciliation_drift_pct`` (the HbotReconciliationDrift alert).

Paper instances have no exchange beyond the paper venue that made their fills, so there is nothing
to compare: they are skipped (said once at start). An instance is compared once this worker holds
its fills ledger (after its first fill since the worker started, restored from the checkpoint), so a
restart never reports a flat ledger against a real position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping

import faust

from hbot.runtime import Runtime
from hbot.settings import ConfigError
from processors.instance import InstanceSetup
from processors.reconciliation.core import FILL_TOPIC, RECONCILIATION_TOPIC, Reconciler
from processors.reconciliation.exchange import fetch_inventory
from streams.desk_agent import register_desk_role
from streams.metrics import desk_metrics

log = logging.getLogger(__name__)


def _build(setup: InstanceSetup, snap: Mapping[str, Any] | None) -> Reconciler:
    return Reconciler.restore(setup.reconciliation, setup.id, setup.market, snap)


async def reconcile_once(ledger_of: Callable[[str], Any], setups: list[InstanceSetup], exchanges: Mapping[str, Any],
                         send: Callable[[dict[str, Any]], Awaitable[None]], now_us: int) -> list[dict[str, Any]]:
    """One round: for each instance whose ledger this worker holds, ask its exchange and publish the comparison.

    ``ledger_of(instance_id)`` is the instance's :class:`Reconciler` (None when this worker does not
    hold it yet); ``send(record)`` publishes one record. An exchange that fails is logged and tried
    again next round. Returns the records published.
    """
    loop = asyncio.get_running_loop()
    out: list[dict[str, Any]] = []
    for s in setups:
        rec_core = ledger_of(s.id)
        if rec_core is None:
            continue
        try:
            inv = await loop.run_in_executor(None, fetch_inventory, exchanges[s.id], s.instance.symbol)
        except Exception as exc:  # noqa: BLE001 - ccxt's network/exchange errors: report, retry next round
            log.warning("reconciliation %s: the exchange did not answer (%s: %s); trying again next round",
                        s.id, type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
            continue
        rec = rec_core.compare(now_us, inv.position_base, inv.balance_quote, source="live")  # type: ignore[attr-defined]
        await send(rec)
        desk_metrics().event_out(RECONCILIATION_TOPIC)  # published outside the desk glue, so counted here
        desk_metrics().reconciliation_drift(s.id, s.market, rec["drift_pct"])
        if rec["status"] != "ok":
            log.warning("reconciliation %s: %s drift %.6g base (%.2f %%): exchange %.6g, fills %.6g", s.id, rec["status"],
                        rec["drift_base"], 100 * rec["drift_pct"], rec["exchange_position_base"], rec["internal_position_base"])
        out.append(rec)
    return out


def register(app: faust.App, rt: Runtime) -> None:
    """Add the fills ledger agent and, when an instance trades live, the comparison timer."""
    role = register_desk_role(app, rt.serde, rt.instances, "reconciliation", _build, rt.settings.checkpoint_every,
                              direct_topics=(FILL_TOPIC,))
    live = [s for s in rt.instances if s.instance.execution == "live"]
    if not live:
        log.warning("reconciliation: no live instance; paper fills have no exchange to compare with, so no comparison runs")
        return
    from processors.execution.keys import load_key_for_worker
    from processors.execution.live import build_exchange, live_venue_config

    try:
        key = load_key_for_worker("reconciliation")
    except ConfigError as exc:
        raise ConfigError(f"instances {[s.id for s in live]} trade live and reconciliation reads their positions with the "
                          f"read-only data key, but: {exc}") from None
    exchanges = {s.id: build_exchange(live_venue_config(s.instance), key) for s in live}
    out = app.topic(RECONCILIATION_TOPIC, value_serializer="raw", key_serializer="raw")
    serde = rt.serde

    async def send(rec: dict[str, Any]) -> None:
        value = serde.encode("reconciliation", {**rec, "produce_time": time.time_ns() // 1000}, RECONCILIATION_TOPIC)
        await out.send(key=rec["market"].encode(), value=value)

    @app.timer(min(s.reconciliation.interval_s for s in live), name="hbot.reconciliation.compare")
    async def compare() -> None:
        # The snapshot's time is the wall clock when it was taken: exchange state has no event time of its own.
        await reconcile_once(role.processor, live, exchanges, send, time.time_ns() // 1000)
