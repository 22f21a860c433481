"""SQL of the analytics: each builder returns ``(sql, params)`` for a reader's ``query_rows``.

Tables are the sink's (one per topic, ReplacingMergeTree by ``event_id``). Duplicates are handled
where they would change a number: sums and counts over fills, funding and guard transitions use
``FINAL``; per-minute ``argMax`` over strategy states is unaffected by an identical duplicate row,
so those scans skip ``FINAL`` (it is the largest table). Time bounds are half-open
``[start, end)`` in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from processors.analytics.tca import HORIZON_S

STATE = "hb_strategy_state_v1"
FILL = "hb_fill_v1"
BOOK = "hb_market_book_v1"
FUNDING = "hb_market_funding_v1"
GUARD = "hb_guard_v1"

_T = "DateTime64(6, 'UTC')"
# How far back the equity at the start of a range and the state in force at a fill are looked for.
LOOKBACK_DAYS = 3


def ts_param(t: datetime) -> str:
    """A timestamp parameter as ClickHouse parses it (naive = UTC)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def _range(start: datetime, end: datetime, instance: str | None) -> tuple[str, dict[str, Any]]:
    where = f"event_time >= {{start:{_T}}} AND event_time < {{end:{_T}}}"
    params: dict[str, Any] = {"start": ts_param(start), "end": ts_param(end)}
    if instance is not None:
        where += " AND instance_id = {instance:String}"
        params["instance"] = instance
    return where, params


def state_minutes(start: datetime, end: datetime, instance: str | None) -> tuple[str, dict[str, Any]]:
    """Equity, regime and realized PnL at the end of every minute, per instance (``minute.csv`` cadence)."""
    where, params = _range(start, end, instance)
    sql = f"""
SELECT instance_id, toStartOfMinute(event_time) AS minute, argMax(equity_quote, event_time) AS equity, toString(argMax(regime, event_time)) AS regime,
       argMax(realized_pnl_quote, event_time) AS realized
FROM {STATE}
WHERE {where}
GROUP BY instance_id, minute
ORDER BY minute, instance_id"""
    return sql, params


def state_series(start: datetime, end: datetime, instance: str | None, bucket_s: int) -> tuple[str, dict[str, Any]]:
    """What the plots show (inventory, mid, spreads, edge floor, regime), last value per ``bucket_s``."""
    where, params = _range(start, end, instance)
    sql = f"""
SELECT instance_id, any(market) AS market, toStartOfInterval(event_time, INTERVAL {int(bucket_s)} SECOND) AS t,
       argMax(base_pct, event_time) AS base_pct, argMax(target_net_base_pct, event_time) AS target_base_pct,
       argMax(position_base, event_time) AS position, argMax(mid, event_time) AS mid,
       argMax(spread_min, event_time) AS spread_min, argMax(spread_max, event_time) AS spread_max,
       argMax(min_edge_threshold, event_time) AS min_edge_threshold, toString(argMax(regime, event_time)) AS regime
FROM {STATE}
WHERE {where}
GROUP BY instance_id, t
ORDER BY instance_id, t"""
    return sql, params


def equity_before(start: datetime, instance: str | None) -> tuple[str, dict[str, Any]]:
    """Each instance's last equity before ``start`` (the start-of-range equity)."""
    params: dict[str, Any] = {"start": ts_param(start)}
    extra = ""
    if instance is not None:
        extra = " AND instance_id = {instance:String}"
        params["instance"] = instance
    sql = f"""
SELECT instance_id, argMax(equity_quote, event_time) AS equity
FROM {STATE}
WHERE event_time < {{start:{_T}}} AND event_time >= {{start:{_T}}} - INTERVAL {LOOKBACK_DAYS} DAY{extra}
GROUP BY instance_id"""
    return sql, params


FAST_WINDOW_S = 5


def _book_seconds(window_from: str, window_to: str) -> str:
    # Books are pre-filtered on a UInt32 set of the seconds that can hold the wanted snapshot: one
    # cheap column read and a hash lookup, instead of a month of 500 ms snapshots in the join.
    return (f"toUnixTimestamp(event_time) IN (SELECT arrayJoin(range(toUInt32(toUnixTimestamp({window_from})), "
            f"toUInt32(toUnixTimestamp({window_to}) + 1))) FROM f)")


def fills_for_tca(start: datetime, end: datetime, instance: str | None, horizon_s: int = HORIZON_S,
                  window_s: int = FAST_WINDOW_S) -> tuple[str, dict[str, Any]]:
    """Fills with the state in force at the fill and the mid ``horizon_s`` later (fast path).

    - strategy state: ASOF join on the instance, last state at or before the fill (regime and
      ``min_edge_threshold``); the fill's own ``regime`` (of the placing decision) is the fallback;
    - mid after: ASOF join on the market, last book at or before ``t_after = fill + horizon``,
      looked for among the books of the ``window_s`` seconds before ``t_after`` (a live book
      updates many times a second, and a book that recent shows the feed was alive at
      ``t_after``). ``mid_after_missing`` marks fills whose window held no book (a sparse or
      stopped feed): :func:`mid_after_full` looks again over the whole horizon and checks that
      the feed went on past ``t_after``, else the fill's outcome is unknown (not zero).
    """
    where, params = _range(start, end, instance)
    state_where = (f"event_time >= {{start:{_T}}} - INTERVAL {LOOKBACK_DAYS} DAY AND event_time < {{end:{_T}}}"
                   + (" AND instance_id = {instance:String}" if instance is not None else ""))
    book_window = f"event_time >= {{start:{_T}}} AND event_time < {{end:{_T}}} + INTERVAL {horizon_s + 60} SECOND"
    seconds = _book_seconds(f"t_after - toIntervalSecond({window_s})", "t_after")
    sql = f"""
WITH f AS (
    SELECT event_id, event_time, instance_id, market, toString(side) AS side, price, size, fee_quote,
           toString(liquidity) AS liquidity, mid_at_fill, mid_at_order, regime AS fill_regime,
           event_time + toIntervalSecond({horizon_s}) AS t_after
    FROM {FILL} FINAL
    WHERE {where}
),
bw AS (
    SELECT market, event_time AS bt, mid FROM {BOOK}
    WHERE {book_window} AND market IN (SELECT DISTINCT market FROM f) AND {seconds}
)
SELECT f.event_id AS event_id, f.event_time AS event_time, f.instance_id AS instance_id, f.market AS market,
       f.side AS side, f.price AS price, f.size AS size, f.fee_quote AS fee_quote, f.liquidity AS liquidity,
       f.mid_at_fill AS mid_at_fill, f.mid_at_order AS mid_at_order, f.fill_regime AS fill_regime,
       toString(s.regime) AS state_regime, s.min_edge_threshold AS min_edge_threshold,
       if(b.bt >= f.t_after - toIntervalSecond({window_s}), b.mid, NULL) AS mid_after,
       b.bt IS NULL OR b.bt < f.t_after - toIntervalSecond({window_s}) AS mid_after_missing
FROM f
ASOF LEFT JOIN (
    SELECT instance_id, event_time AS st, regime, min_edge_threshold FROM {STATE} WHERE {state_where}
) AS s ON f.instance_id = s.instance_id AND f.event_time >= s.st
ASOF LEFT JOIN bw AS b ON f.market = b.market AND f.t_after >= b.bt
ORDER BY event_time, event_id
SETTINGS join_use_nulls = 1"""
    return sql, params


def mid_after_full(start: datetime, end: datetime, instance: str | None, event_ids: list[str],
                   horizon_s: int = HORIZON_S) -> tuple[str, dict[str, Any]]:
    """The mid ``horizon_s`` after each of ``event_ids`` looked for over the whole horizon.

    The slow path of :func:`fills_for_tca` for fills whose fast window held no book: every book
    from the fill to ``t_after`` counts, and the feed must go on past ``t_after`` (any later book
    of the market up to a day after the range).
    """
    where, params = _range(start, end, instance)
    params["ids"] = list(event_ids)
    book_window = f"event_time >= {{start:{_T}}} AND event_time < {{end:{_T}}} + INTERVAL {horizon_s + 60} SECOND"
    sql = f"""
WITH f AS (
    SELECT event_id, event_time, market, event_time + toIntervalSecond({horizon_s}) AS t_after
    FROM {FILL} FINAL
    WHERE {where} AND event_id IN {{ids:Array(String)}}
)
SELECT f.event_id AS event_id,
       if(b.bt >= f.event_time AND lb.last_bt > f.t_after, b.mid, NULL) AS mid_after
FROM f
ASOF LEFT JOIN (
    SELECT market, event_time AS bt, mid FROM {BOOK}
    WHERE {book_window} AND market IN (SELECT DISTINCT market FROM f) AND {_book_seconds("event_time", "t_after")}
) AS b ON f.market = b.market AND f.t_after >= b.bt
LEFT JOIN (
    SELECT market, max(event_time) AS last_bt FROM {BOOK}
    WHERE event_time >= {{start:{_T}}} AND event_time < {{end:{_T}}} + INTERVAL 1 DAY
      AND market IN (SELECT DISTINCT market FROM f)
    GROUP BY market
) AS lb ON f.market = lb.market
SETTINGS join_use_nulls = 1"""
    return sql, params


def funding_settlements(start: datetime, end: datetime, instance_markets: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Funding settlements on each instance's market, with the instance's position at settlement."""
    where, params = _range(start, end, None)
    params["insts"] = list(instance_markets)
    params["mkts"] = list(instance_markets.values())
    sql = f"""
WITH im AS (
    SELECT p.1 AS instance_id, p.2 AS market FROM (SELECT arrayJoin(arrayZip({{insts:Array(String)}}, {{mkts:Array(String)}})) AS p)
),
x AS (
    SELECT fu.event_time AS event_time, fu.market AS market, fu.funding_rate AS funding_rate,
           fu.mark_price AS mark_price, im.instance_id AS instance_id
    FROM (SELECT event_time, market, funding_rate, mark_price FROM {FUNDING} FINAL
          WHERE {where} AND is_settlement AND market IN (SELECT market FROM im)) AS fu
    INNER JOIN im ON fu.market = im.market
)
SELECT x.event_time AS event_time, x.market AS market, x.instance_id AS instance_id, x.funding_rate AS funding_rate,
       x.mark_price AS mark_price, s.position_base AS position, s.mid AS mid
FROM x
ASOF LEFT JOIN (
    SELECT instance_id, event_time AS st, position_base, mid FROM {STATE}
    WHERE event_time >= {{start:{_T}}} - INTERVAL {LOOKBACK_DAYS} DAY AND event_time < {{end:{_T}}}
      AND instance_id IN (SELECT instance_id FROM im)
) AS s ON x.instance_id = s.instance_id AND x.event_time >= s.st
ORDER BY event_time
SETTINGS join_use_nulls = 1"""
    return sql, params


def daily_loss_hard_stops(start: datetime, end: datetime, instance: str | None) -> tuple[str, dict[str, Any]]:
    """Days on which the guard hard-stopped for the daily loss limit."""
    where, params = _range(start, end, instance)
    sql = f"""
SELECT toDate(event_time) AS day, count() AS n
FROM {GUARD} FINAL
WHERE {where} AND state = 'HARD_STOP' AND has(reasons, 'daily_loss_hard_limit')
GROUP BY day ORDER BY day"""
    return sql, params


def days_with_data(instance: str | None, limit: int = 15) -> tuple[str, dict[str, Any]]:
    """The most recent days that have strategy states (for 'no data' messages)."""
    params: dict[str, Any] = {}
    where = ""
    if instance is not None:
        where = "WHERE instance_id = {instance:String}"
        params["instance"] = instance
    sql = f"SELECT toDate(event_time) AS day, count() AS n FROM {STATE} {where} GROUP BY day ORDER BY day DESC LIMIT {int(limit)}"
    return sql, params


# --- CSV exports: the old minute.csv / fills.csv columns ------------------------------------------

MINUTE_CSV_COLUMNS = (
    "ts", "instance_id", "market", "config_id", "decision_seq", "regime", "regime_source", "mid",
    "spread_min", "spread_max", "spread_multiplier", "net_edge", "min_edge_threshold",
    "target_net_base_pct", "base_pct", "funding_rate_bps", "fill_edge_ewma_bps", "adverse_fill_active",
    "ob_imbalance", "risk_reasons", "order_book_stale", "position_base", "equity_quote",
    "realized_pnl_quote", "unrealized_pnl_quote", "fees_paid_quote", "guard_state", "event_id",
)

FILLS_CSV_COLUMNS = (
    "ts", "event_type", "instance_id", "market", "side", "price", "size", "notional_quote", "fee_quote",
    "fee_asset", "liquidity", "is_maker", "mid_at_fill", "mid_at_order", "pnl_vs_mid_pct", "client_order_id",
    "exchange_order_id", "trade_id", "regime", "is_paper", "event_id",
)

_TS = "formatDateTime(event_time, '%Y-%m-%dT%H:%i:%S.%f+00:00', 'UTC') AS ts"


def export_state(start: datetime, end: datetime, instance: str | None) -> tuple[str, dict[str, Any]]:
    """Strategy states as ``minute.csv`` rows (one per decision), oldest first."""
    where, params = _range(start, end, instance)
    cols = [c for c in MINUTE_CSV_COLUMNS if c not in ("ts", "risk_reasons", "regime", "guard_state")]
    sql = (f"SELECT {_TS}, {', '.join(cols)}, toString(regime) AS regime, arrayStringConcat(risk_reasons, '|') AS risk_reasons, "
           f"toString(guard_state) AS guard_state FROM {STATE} FINAL WHERE {where} ORDER BY event_time, event_id")
    return sql, params


def export_fills(start: datetime, end: datetime, instance: str | None) -> tuple[str, dict[str, Any]]:
    """Fills as ``fills.csv`` rows, with ``pnl_vs_mid_pct`` (edge against the mid at the fill)."""
    where, params = _range(start, end, instance)
    sql = f"""
SELECT {_TS}, 'order_filled' AS event_type, instance_id, market, toString(side) AS side, price, size,
       price * size AS notional_quote, fee_quote, fee_asset, toString(liquidity) AS liquidity,
       toBool(liquidity = 'MAKER') AS is_maker, mid_at_fill, mid_at_order,
       if(side = 'BUY', 1, -1) * (mid_at_fill - price) / mid_at_fill AS pnl_vs_mid_pct,
       client_order_id, exchange_order_id, trade_id, regime, is_paper, event_id
FROM {FILL} FINAL WHERE {where} ORDER BY event_time, event_id"""
    return sql, params
