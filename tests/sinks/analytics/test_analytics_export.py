"""CSV exports with the old minute.csv / fills.csv column names, from the real ClickHouse engine."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from sinks.clickhouse.analytics.export import export_csv
from sinks.clickhouse.analytics.queries import FILLS_CSV_COLUMNS, MINUTE_CSV_COLUMNS
from tests.sinks.analytics.desk_dataset import Dataset, desk, on_day  # noqa: F401  (fixture)

pytestmark = pytest.mark.clickhouse


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames or []), list(r)


def test_when_states_are_exported_then_minute_csv_has_one_row_per_decision_with_spec_columns(clickhouse: Any, desk: Dataset, tmp_path: Path) -> None:
    # Arrange
    inst = next(iter(desk.instances))
    out = tmp_path / "minute.csv"

    # Act: two days, fetched one day at a time
    n = export_csv(clickhouse, "state", desk.day1, desk.day2, out, instance=inst)

    # Assert
    header, rows = _read(out)
    expected = sorted(on_day(desk.states, desk.day1, inst) + on_day(desk.states, desk.day2, inst), key=lambda s: s["event_time"])
    assert header == list(MINUTE_CSV_COLUMNS)
    for col in ("regime", "regime_source", "spread_multiplier", "target_net_base_pct", "funding_rate_bps",
                "fill_edge_ewma_bps", "ob_imbalance", "order_book_stale", "risk_reasons"):
        assert col in header  # the spec's minute.csv names
    assert n == len(rows) == len(expected) == 2 * 2880
    assert rows[0]["ts"] == f"{desk.day1.isoformat()}T00:00:00.000000+00:00"
    assert [r["event_id"] for r in rows] == [s["event_id"] for s in expected]
    assert float(rows[-1]["equity_quote"]) == pytest.approx(expected[-1]["equity_quote"])
    assert rows[5]["order_book_stale"] == "false" and rows[5]["risk_reasons"] == ""


def test_when_fills_are_exported_then_fills_csv_carries_pnl_vs_mid_pct(clickhouse: Any, desk: Dataset, tmp_path: Path) -> None:
    # Arrange
    out = tmp_path / "sub" / "fills.csv"

    # Act
    n = export_csv(clickhouse, "fills", desk.day1, desk.day1, out)

    # Assert
    header, rows = _read(out)
    fills = {f["event_id"]: f for f in on_day(desk.fills, desk.day1)}
    assert header == list(FILLS_CSV_COLUMNS) and "pnl_vs_mid_pct" in header and header[0] == "ts"
    assert n == len(rows) == len(fills)
    for r in rows:
        f = fills[r["event_id"]]
        s = 1.0 if f["side"] == "BUY" else -1.0
        assert float(r["pnl_vs_mid_pct"]) == pytest.approx(s * (f["mid_at_fill"] - f["price"]) / f["mid_at_fill"])
        assert r["event_type"] == "order_filled" and r["is_maker"] == "true"
        assert float(r["notional_quote"]) == pytest.approx(f["price"] * f["size"])


def test_when_the_period_is_empty_then_only_the_header_is_written(clickhouse: Any, desk: Dataset, tmp_path: Path) -> None:
    from datetime import timedelta

    out = tmp_path / "empty.csv"
    assert export_csv(clickhouse, "fills", desk.day2 + timedelta(days=5), desk.day2 + timedelta(days=5), out) == 0
    assert _read(out) == (list(FILLS_CSV_COLUMNS), [])
    with pytest.raises(ValueError, match="unknown export"):
        export_csv(clickhouse, "orders", desk.day1, desk.day1, out)  # type: ignore[arg-type]
