"""The execution role's processor for a live instance: order commands to the exchange through a ``CcxtVenue``.

Same contract as the paper processor (``processors/execution/processor.py``): order commands in,
``hb.order_update.v1`` / ``hb.fill.v1`` records out, a snapshot that a restart continues from.
Two differences the agent honours:

* ``blocking``: ``on_event`` and ``poll`` send HTTP requests (ccxt is synchronous), so the agent
  runs them off its event loop, one at a time.
* ``poll``: fills and cancels happen on the exchange without a command; the agent calls ``poll``
  every ``poll_interval_s``.
* The orphan scan (go-live checklist item 4) runs once per worker, before the first order it sends
  or at its first poll: exchange orders on the symbol that the venue's state does not hold are
  cancelled, and the scan is written to ``hb.audit.v1``.

A worker killed between sending a PLACE and checkpointing it re-reads the command after the
restart; the venue then sends the same client order id again, the exchange refuses the
duplicate, and the venue resolves the command from the order the exchange holds under that id
(an order the orphan scan cancelled first comes back CANCELLED): never a second order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from processors.desk import Origin, Output
from processors.execution.live.venue import CcxtVenue
from processors.execution.processor import venue_outputs
from processors.ids import make_id
from processors.instance import InstanceSetup

AUDIT_TOPIC = "hb.audit.v1"
_MAX_DETAIL_CHARS = 2000  # an audit detail stays readable; the full scan is in the worker's log


class LiveExecutionProcessor:
    """Drives one live instance's ``CcxtVenue`` from its market's sequenced log and the poll timer."""

    inputs = frozenset({"hb.market.book.v1", "hb.order.v1"})
    blocking = True

    def __init__(self, setup: InstanceSetup, venue: CcxtVenue, now_us: Callable[[], int]) -> None:
        self.setup = setup
        self.venue = venue
        self._now_us = now_us
        self.scanned = False  # not in the snapshot: every worker that takes the instance scans once

    def on_event(self, topic: str, record: Mapping[str, Any], origin: Origin) -> list[Output]:
        """Send order commands (after the orphan scan); remember the book's mid (for fills' ``mid_at_fill``)."""
        if topic == "hb.order.v1":
            return self._scan() + venue_outputs(self.venue.on_command(record))
        if topic == "hb.market.book.v1":
            self.venue.on_market_event("book", record)
        return []

    def poll(self) -> list[Output]:
        """The orphan scan (until it has succeeded once), then the exchange's fills and order states."""
        return self._scan() + venue_outputs(self.venue.poll())

    def _scan(self) -> list[Output]:
        # Before the first order this worker sends, and at its first poll: whichever comes first.
        if self.scanned:
            return []
        report = self.venue.scan_orphans(())
        self.scanned = report.error is None  # unreadable open orders: scan again next time
        return [(AUDIT_TOPIC, self._scan_audit(report.to_dict()))]

    def _scan_audit(self, report: dict[str, Any]) -> dict[str, Any]:
        t = self._now_us()  # the scan is an exchange fact observed now: wall clock at the venue boundary
        severity = "INFO" if report["ok"] and not report["cancelled"] else ("WARNING" if report["ok"] else "CRITICAL")
        details = {"checked": str(report["checked"]), "kept": str(len(report["kept"])),
                   "cancelled": str(len(report["cancelled"])), "failed": str(len(report["failed"])),
                   "error": str(report["error"] or ""),
                   "orders": json.dumps(report["cancelled"] + report["failed"], default=str)[:_MAX_DETAIL_CHARS]}
        return {"event_id": make_id("audit", self.setup.id, "orphan_scan", t), "event_time": t, "produce_time": None,
                "instance_id": self.setup.id, "market": self.setup.market, "actor": "execution", "action": "orphan_scan",
                "severity": severity, "dry_run": False, "details": details}

    def snapshot(self) -> dict[str, Any]:
        """The venue's snapshot (orders sent, fills seen)."""
        return self.venue.snapshot()
