"""TCA over ClickHouse: fills joined with the strategy state and the book, then the pure TCA maths."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Sequence

from processors.analytics.tca import (
    DIMENSIONS,
    FillInput,
    FillTca,
    TcaBucket,
    TcaHeadline,
    breakdown,
    fill_tca,
    headline,
)
from sinks.clickhouse.analytics import queries as q
from sinks.clickhouse.reader import Reader, as_reader


SLOW_PATH_CHUNK = 5_000


class NoData(Exception):
    """Nothing to report for the asked period; the message says what exists and what to run."""


def bounds(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """Half-open UTC bounds: dates are whole days with ``end`` inclusive, datetimes are used as is."""
    s = start if isinstance(start, datetime) else datetime.combine(start, time.min)
    e = end if isinstance(end, datetime) else datetime.combine(end, time.min) + timedelta(days=1)
    s, e = _naive_utc(s), _naive_utc(e)
    if e <= s:
        raise ValueError(f"the end ({end}) must be after the start ({start})")
    return s, e


def _naive_utc(t: datetime) -> datetime:
    # Naive datetimes are UTC everywhere in hbot (that is how the tables return them).
    return t if t.tzinfo is None else t.astimezone(timezone.utc).replace(tzinfo=None)


def _fill_input(r: dict[str, Any]) -> FillInput:
    regime = r.get("state_regime") or r.get("fill_regime") or "unknown"
    return FillInput(
        event_id=r["event_id"], event_time=r["event_time"], instance_id=r["instance_id"], market=r["market"],
        side=r["side"], price=float(r["price"]), size=float(r["size"]), fee_quote=float(r["fee_quote"]),
        mid_at_fill=float(r["mid_at_fill"]), mid_at_order=r.get("mid_at_order"), mid_after=r.get("mid_after"),
        regime=regime, min_edge_threshold=r.get("min_edge_threshold"), liquidity=r.get("liquidity") or "MAKER",
    )


def load_fill_tca(reader: Reader | Any, start: datetime, end: datetime, instance: str | None = None) -> list[FillTca]:
    """Per-fill TCA of the fills in ``[start, end)`` (one instance, or all)."""
    reader = as_reader(reader)
    rows = reader.query_rows(*q.fills_for_tca(start, end, instance))
    missing = [r["event_id"] for r in rows if r["mid_after_missing"]]
    for i in range(0, len(missing), SLOW_PATH_CHUNK):
        # Sparse or stopped book feeds: look over each fill's whole horizon (few fills, few books).
        found = {r["event_id"]: r["mid_after"] for r in
                 reader.query_rows(*q.mid_after_full(start, end, instance, missing[i:i + SLOW_PATH_CHUNK]))}
        for r in rows:
            if r["event_id"] in found:
                r["mid_after"] = found[r["event_id"]]
    return [fill_tca(_fill_input(r)) for r in rows]


@dataclass(frozen=True)
class TcaReport:
    """TCA of a period: the headline, breakdowns by regime, hour, side and spread, and every fill."""

    start: str
    end: str
    instance: str | None
    headline: TcaHeadline
    breakdowns: dict[str, list[TcaBucket]]
    fills: Sequence[FillTca] = field(default_factory=list, repr=False)

    def to_dict(self, include_fills: bool = False) -> dict[str, Any]:
        """JSON-able form; ``include_fills`` adds one row per fill (ROAD-6's per-fill output)."""
        out: dict[str, Any] = {
            "start": self.start, "end": self.end, "instance": self.instance,
            "headline": self.headline.to_dict(),
            "breakdowns": {k: [b.to_dict() for b in v] for k, v in self.breakdowns.items()},
        }
        if include_fills:
            out["fills"] = [_fill_dict(f) for f in self.fills]
        return out


def _fill_dict(f: FillTca) -> dict[str, Any]:
    d = f._asdict()
    d["event_time"] = f.event_time.isoformat()
    d["pnl_vs_mid_bps"] = f.pnl_vs_mid_bps
    return d


def tca_from_fills(fills: Sequence[FillTca], start: datetime, end: datetime, instance: str | None) -> TcaReport:
    """A :class:`TcaReport` from already computed per-fill TCA."""
    buckets = {d: breakdown(fills, d) for d in DIMENSIONS}
    return TcaReport(start=start.isoformat(), end=end.isoformat(), instance=instance,
                     headline=headline(fills, breakdowns=buckets), breakdowns=buckets, fills=list(fills))


def tca_report(reader: Reader | Any, start: date | datetime, end: date | datetime, instance: str | None = None) -> TcaReport:
    """TCA of the fills between ``start`` and ``end`` (dates: whole days, end inclusive).

    Raises :class:`NoData` when there is no fill in the period.
    """
    s, e = bounds(start, end)
    fills = load_fill_tca(reader, s, e, instance)
    if not fills:
        who = f" of instance {instance}" if instance else ""
        raise NoData(f"no fills{who} between {s:%Y-%m-%d %H:%M} and {e:%Y-%m-%d %H:%M} UTC; "
                     "run `hbot demo` first, or pick a period with fills")
    return tca_from_fills(fills, s, e, instance)


def tca_headline(reader: Reader | Any, start: date | datetime, end: date | datetime, instance: str | None = None) -> TcaHeadline:
    """The TCA headline (overall figures, worst regime and hour) of a period; :class:`NoData` without fills."""
    return tca_report(reader, start, end, instance).headline
