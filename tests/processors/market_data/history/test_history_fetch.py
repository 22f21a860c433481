"""Fetching history through real ccxt (Bitget faked at the HTTP transport) into the Parquet store."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import fastavro
import pyarrow.parquet as pq
import pytest
import requests
from typer.testing import CliRunner

import schemas
from processors.market_data import validation
from processors.market_data.history.fetch import FetchConfig, FetchError, HistoryFetcher, fetch_book_snapshot
from processors.market_data.history.store import KIND_TOPIC, HistoryStore, batch_to_records
from processors.market_data.topics import SCHEMA_OF_TOPIC
from tests.processors.market_data.history.bitget_fake import FUNDING_MS, MIN_MS, Crash, FakeBitget, bitget_exchange

SYMBOL = "BTC/USDT:USDT"
DAY_MS = 86_400_000
AUG1 = 1_722_470_400_000  # 2024-08-01T00:00:00Z


def _rows(store: HistoryStore, kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for day in store.days("bitget", SYMBOL, kind):
        out += batch_to_records(store.read_table("bitget", SYMBOL, kind, day))
    return out


def _data_urls(fake: FakeBitget, part: str) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(urlparse(u).query).items()} for _, u in fake.calls if part in u]


def _run(store: HistoryStore, fake: FakeBitget, **cfg: Any) -> Any:
    config = FetchConfig(symbol=SYMBOL, **{"since_ms": AUG1, "until_ms": AUG1 + 2 * DAY_MS, "trades_limit": 100, **cfg})
    return HistoryFetcher(bitget_exchange(fake), store, config, sleep=lambda s: None).run()


def test_when_two_days_are_fetched_then_each_kind_is_paged_and_stored_per_day_without_gaps(tmp_path: Path) -> None:
    # Arrange: one trade a minute, funding settlements up to 2024-08-05
    fake = FakeBitget(trade_spacing_ms=60_000, funding_latest_ms=AUG1 + 4 * DAY_MS)
    store = HistoryStore(tmp_path / "data")
    # Act
    report = _run(store, fake)
    # Assert: candles are stored in the day of their close: 23:59 the day before opens the first one
    candles = _rows(store, "ohlcv")
    assert [c["open_time"] for c in candles] == [(AUG1 - MIN_MS + i * MIN_MS) * 1000 for i in range(2 * 1440)]
    assert all(c["event_time"] == c["open_time"] + 60_000_000 for c in candles)
    assert store.days("bitget", SYMBOL, "ohlcv") == store.days("bitget", SYMBOL, "trades")
    # Assert: every generated trade exactly once, in order
    trades = _rows(store, "trades")
    assert [t["event_time"] // 1000 for t in trades] == fake.expected_trades(AUG1, AUG1 + 2 * DAY_MS)
    assert len({t["event_id"] for t in trades}) == len(trades) and {t["aggressor_side"] for t in trades} == {"BUY", "SELL"}
    # Assert: three settlements a day at 00/08/16 UTC, next one 8 h later
    funding = _rows(store, "funding")
    assert [f["event_time"] // 1000 for f in funding] == [AUG1 + i * FUNDING_MS for i in range(6)]
    assert all(f["next_funding_time"] - f["event_time"] == FUNDING_MS * 1000 and f["is_settlement"] for f in funding)
    # Assert: several pages per kind (200 candles and at most 100 trades a request)
    candle_reqs = _data_urls(fake, "history-candles")
    assert len(candle_reqs) == report.kinds["ohlcv"].requests >= 2 * 1440 // 200
    assert all(r["limit"] == "200" and r["symbol"] == "BTCUSDT" and r["productType"] == "USDT-FUTURES" for r in candle_reqs)
    assert report.kinds["trades"].requests > 2 * 1440 // 100 and report.kinds["trades"].truncated_windows == 0
    assert [r["pageNo"] for r in _data_urls(fake, "history-fund-rate")] == ["1"]
    assert report.quality.total_rejected == 0


def test_when_stored_then_the_columns_are_the_avro_fields_and_rows_validate_as_records(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "data")
    _run(store, FakeBitget(trade_spacing_ms=600_000, funding_latest_ms=AUG1 + 4 * DAY_MS), until_ms=AUG1 + DAY_MS)
    for kind in ("ohlcv", "trades", "funding"):
        avro = schemas.load_schema_json(SCHEMA_OF_TOPIC[KIND_TOPIC[kind]])
        path = store.day_dir("bitget", SYMBOL, kind, store.days("bitget", SYMBOL, kind)[0]) / "part.parquet"
        assert pq.read_schema(path).names == [f["name"] for f in avro["fields"]]
        parsed = fastavro.parse_schema(avro)
        rows = _rows(store, kind)
        assert rows and all(r["market"] == f"bitget:{SYMBOL}" and r["source"] == "replay" for r in rows)
        for r in rows:
            assert fastavro.validation.validate({**r, "produce_time": r["event_time"]}, parsed, raise_errors=True)


def test_when_fetched_twice_then_event_ids_are_the_same_and_the_store_does_not_grow(tmp_path: Path) -> None:
    a, b = HistoryStore(tmp_path / "a"), HistoryStore(tmp_path / "b")
    fake = dict(trade_spacing_ms=300_000, funding_latest_ms=AUG1 + 4 * DAY_MS)
    _run(a, FakeBitget(**fake))
    _run(b, FakeBitget(**fake))
    ids = {k: [r["event_id"] for r in _rows(a, k)] for k in ("ohlcv", "trades", "funding")}
    assert ids == {k: [r["event_id"] for r in _rows(b, k)] for k in ids}
    # Act: the same range again into the same store (checkpoints removed, so it really refetches)
    for cp in (tmp_path / "a").rglob("_checkpoint.json"):
        cp.unlink()
    again = _run(a, FakeBitget(**fake))
    # Assert
    assert again.kinds["trades"].rows_fetched == len(ids["trades"])
    assert {k: [r["event_id"] for r in _rows(a, k)] for k in ids} == ids


def test_when_a_fetch_dies_mid_day_then_the_rerun_skips_finished_days_and_resumes_without_gaps_or_duplicates(tmp_path: Path) -> None:
    # Arrange: trades at 4 per minute over 2 days, 100 per page: the crash lands in the second day
    store = HistoryStore(tmp_path / "data")
    spacing = 15_000
    first = FakeBitget(trade_spacing_ms=spacing, crash_after=140)
    # Act 1: the process dies
    with pytest.raises(Crash):
        _run(store, first, kinds=("trades",))
    day1 = store.days("bitget", SYMBOL, "trades")[0]
    cp1 = store.checkpoint("bitget", SYMBOL, "trades", day1)
    assert cp1 is not None and cp1.complete
    day2_dir = next(d for d in (tmp_path / "data").rglob("date=2024-08-02"))
    cp2 = json.loads((day2_dir / "_checkpoint.json").read_text())
    assert not cp2["complete"] and AUG1 + DAY_MS < cp2["hi_ms"] < AUG1 + 2 * DAY_MS
    assert list((day2_dir / "_pending").glob("*.parquet")), "fetched pages of the unfinished day are kept"
    # Act 2: run again
    second = FakeBitget(trade_spacing_ms=spacing)
    report = _run(store, second, kinds=("trades",))
    # Assert: day 1 not fetched again, day 2 resumed from the stored end, nothing missing or doubled
    reqs = _data_urls(second, "fills-history")
    assert report.kinds["trades"].days_skipped == 1
    assert int(reqs[0]["startTime"]) == cp2["hi_ms"]
    assert min(int(r["startTime"]) for r in reqs) >= cp2["hi_ms"]
    trades = _rows(store, "trades")
    assert [t["event_time"] // 1000 for t in trades] == second.expected_trades(AUG1, AUG1 + 2 * DAY_MS)
    assert len({t["event_id"] for t in trades}) == len(trades)
    assert not (day2_dir / "_pending").exists()
    checkpoints = [store.checkpoint("bitget", SYMBOL, "trades", d) for d in store.days("bitget", SYMBOL, "trades")]
    assert len(checkpoints) == 2 and all(cp is not None and cp.complete for cp in checkpoints)
    # Act 3: a third run has nothing left to do
    third = FakeBitget(trade_spacing_ms=spacing)
    assert _run(store, third, kinds=("trades",)).kinds["trades"].requests == 0


def test_when_candles_are_interrupted_then_the_rerun_continues_after_the_last_stored_candle(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "data")
    with pytest.raises(Crash):
        _run(store, FakeBitget(crash_after=4), kinds=("ohlcv",))
    stored = sorted(int(r["open_time"]) // 1000 for p in (tmp_path / "data").rglob("_pending/*.parquet")
                    for r in batch_to_records(pq.read_table(p)))
    assert len(stored) == 3 * 200
    second = FakeBitget()
    _run(store, second, kinds=("ohlcv",))
    reqs = _data_urls(second, "history-candles")
    # The first request asks for the 200 minutes after the last stored candle (Bitget pages back from endTime)
    assert int(reqs[0]["endTime"]) == stored[-1] + MIN_MS + 200 * MIN_MS - 1
    opens = [int(r["open_time"]) // 1000 for r in _rows(store, "ohlcv")]
    assert opens == list(range(AUG1 - MIN_MS, AUG1 + 2 * DAY_MS - MIN_MS, MIN_MS))


def test_when_rate_limited_then_ccxt_throttles_every_request_by_its_cost(tmp_path: Path) -> None:
    # Arrange: a 25 ms rate limit (Bitget's is 50 ms); spy on ccxt's own throttle
    fake = FakeBitget(trade_spacing_ms=120_000)
    ex = bitget_exchange(fake, rate_limit_ms=25)
    throttled: list[float] = []
    real_throttle = ex.throttle

    def spy(cost: float | None = None) -> None:
        throttled.append(cost if cost is not None else 1)
        real_throttle(cost)

    ex.throttle = spy
    cfg = FetchConfig(symbol=SYMBOL, since_ms=AUG1, until_ms=AUG1 + 6 * 3600_000, trades_limit=100, kinds=("ohlcv", "trades"))
    ex.enableRateLimit = False  # the fetcher must switch ccxt's limiter on itself
    # Act
    HistoryFetcher(ex, HistoryStore(tmp_path / "data"), cfg).run()
    # Assert: one throttle per request, with Bitget's endpoint costs (candles 1, fills-history 2)
    assert len(throttled) == len(fake.calls)
    data = [(t, u) for t, u in fake.calls if "/market/" in u]
    costs = [throttled[fake.calls.index((t, u))] for t, u in data]
    assert {c for (_, u), c in zip(data, costs) if "history-candles" in u} == {1}
    assert {c for (_, u), c in zip(data, costs) if "fills-history" in u} == {2}
    # Assert: consecutive requests are spaced by at least rateLimit x cost of the later one
    gaps = [(t1 - t0) * 1000 - 25 * cost for (t0, _), (t1, _), cost in zip(data, data[1:], costs[1:])]
    assert len(gaps) >= 8 and min(gaps) > -3.0


def test_when_a_request_fails_on_the_network_then_it_is_retried(tmp_path: Path) -> None:
    fake = FakeBitget()
    store = HistoryStore(tmp_path / "data")
    real_route = fake.route
    failures = []

    def flaky(path: str, q: dict[str, str]) -> Any:
        if "history-candles" in path and not failures:
            failures.append(path)
            raise requests.exceptions.ConnectionError("connection reset by peer")
        return real_route(path, q)

    fake.route = flaky  # type: ignore[method-assign]
    slept: list[float] = []
    cfg = FetchConfig(symbol=SYMBOL, since_ms=AUG1, until_ms=AUG1 + DAY_MS, kinds=("ohlcv",))
    report = HistoryFetcher(bitget_exchange(fake), store, cfg, sleep=slept.append).run()
    assert failures and slept == [1.0]
    assert len(_rows(store, "ohlcv")) == 1440 and report.kinds["ohlcv"].requests == 1440 // 200 + 1 + 1


def test_when_the_exchange_sends_bad_rows_then_they_are_refused_counted_and_not_stored(tmp_path: Path) -> None:
    bad_minute = AUG1 + 37 * MIN_MS
    fake = FakeBitget(trade_spacing_ms=60_000, bad_candle_minutes={bad_minute}, bad_trade_ids={(AUG1 + 5 * MIN_MS) // 60_000},
                      funding_latest_ms=AUG1 + 4 * DAY_MS)
    store = HistoryStore(tmp_path / "data")
    report = _run(store, fake, until_ms=AUG1 + DAY_MS)
    assert report.quality.rejected == Counter({("ohlcv", validation.NAN_PRICE): 1, ("trades", validation.NEGATIVE_SIZE): 1})
    assert bad_minute * 1000 not in {c["open_time"] for c in _rows(store, "ohlcv")}
    assert len(_rows(store, "trades")) == 1440 - 1
    assert any("negative_size" in line for line in report.lines()) and any("nan_price" in line for line in report.lines())


def test_when_an_order_book_is_fetched_then_the_recorded_bitget_book_becomes_a_valid_book_record() -> None:
    fake = FakeBitget()
    rec = fetch_book_snapshot(bitget_exchange(fake), "BTC/USDT", 2)
    assert rec["bids"] == [{"price": 42604.36, "size": 0.616}, {"price": 42604.3, "size": 0.44}]
    assert rec["asks"] == [{"price": 42604.37, "size": 0.601}, {"price": 42608.51, "size": 0.0127}]
    assert rec["event_time"] == 1_706_804_094_602_000 and rec["market"] == "bitget:BTC/USDT"
    assert validation.check_book(rec) is None
    assert "orderbook?symbol=BTCUSDT&limit=2" in fake.calls[-1][1]


def test_when_hbot_data_fetch_runs_then_it_stores_lists_and_rejects_a_bad_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hbot import cli_data
    from hbot.cli import app

    fake = FakeBitget(trade_spacing_ms=600_000, funding_latest_ms=AUG1 + 4 * DAY_MS)
    monkeypatch.setattr(cli_data, "make_exchange", lambda exchange_id: bitget_exchange(fake))
    runner = CliRunner()
    home = tmp_path / "home"
    res = runner.invoke(app, ["--home", str(home), "data", "fetch", "--since", "2024-08-01", "--until", "2024-08-02"])
    assert res.exit_code == 0, res.output
    assert "ohlcv: 1 day(s)" in res.output and "funding: 1 day(s)" in res.output
    listed = runner.invoke(app, ["--home", str(home), "data", "list", "--json"])
    rows = {r["kind"]: r for r in json.loads(listed.stdout)}
    assert rows["ohlcv"]["rows"] == 1440 and rows["trades"]["rows"] == 144 and rows["funding"]["rows"] == 3
    assert rows["ohlcv"]["symbol"] == SYMBOL and rows["ohlcv"]["incomplete_days"] == 0
    bad = runner.invoke(app, ["--home", str(home), "data", "fetch", "--since", "2024-08-02", "--until", "2024-08-01"])
    assert bad.exit_code != 0 and "must be after --since" in str(bad.exception)


def test_when_the_exchange_returns_the_oldest_trades_of_a_window_first_then_paging_is_still_complete(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "data")
    fake = FakeBitget(trade_spacing_ms=20_000, trades_newest_first=False)
    _run(store, fake, kinds=("trades",), until_ms=AUG1 + DAY_MS)
    assert [t["event_time"] // 1000 for t in _rows(store, "trades")] == fake.expected_trades(AUG1, AUG1 + DAY_MS)


def test_when_the_exchange_ignores_the_trade_window_then_the_fetch_stops_with_a_reason(tmp_path: Path) -> None:
    fake = FakeBitget()
    latest = AUG1 + 10 * DAY_MS
    fake.overrides["fills-history"] = lambda q: {"code": "00000", "msg": "success", "requestTime": "0",
                                                 "data": [fake.trade_at(latest - i * 60_000) for i in range(int(q["limit"]))]}
    with pytest.raises(FetchError, match="does not page by time"):
        _run(HistoryStore(tmp_path / "data"), fake, kinds=("trades",))
