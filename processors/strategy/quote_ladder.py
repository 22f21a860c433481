"""Turning side distances into tick-rounded prices and lot-rounded sizes that never cross the book.

Prices: a BUY at distance ``d`` is ``mid * (1 - d)`` rounded *down* to the tick, and never at or
above the best ask (at most ``best_ask - tick``); a SELL is ``mid * (1 + d)`` rounded *up*, never at
or below the best bid, nor at or below our own best bid. Levels of one side are strictly
monotonic (a level that rounds onto the previous one is pushed one tick further out). Prices that
would be non-positive are dropped.

Sizes: ``notional / price`` rounded down to the lot; raised to the smallest lot multiple reaching
``min_order_quote`` when below it; a size that cannot fit ``[min_order_quote, max_order_quote]`` is
0 (the level is dropped).
"""

from __future__ import annotations

import math

_EPS = 1e-9


def floor_to(value: float, step: float, decimals: int) -> float:
    """``value`` rounded down to a multiple of ``step``."""
    return round(math.floor(value / step + _EPS) * step, decimals)


def ceil_to(value: float, step: float, decimals: int) -> float:
    """``value`` rounded up to a multiple of ``step``."""
    return round(math.ceil(value / step - _EPS) * step, decimals)


def buy_prices(
    mid: float, distances: list[float], best_ask: float, tick: float, decimals: int
) -> list[float]:
    """BUY level prices (best first) for the given distances from mid."""
    cap = floor_to(best_ask - tick, tick, decimals)
    out: list[float] = []
    prev = math.inf
    for d in distances:
        p = floor_to(mid * (1.0 - d), tick, decimals)
        if p > cap:
            p = cap
        if p >= prev:
            p = round(prev - tick, decimals)
        if p <= 0.0:
            break
        out.append(p)
        prev = p
    return out


def sell_prices(
    mid: float, distances: list[float], best_bid: float, own_best_bid: float, tick: float, decimals: int
) -> list[float]:
    """SELL level prices (best first); above the best bid and above our own best bid."""
    floor_price = ceil_to(max(best_bid, own_best_bid) + tick, tick, decimals)
    out: list[float] = []
    prev = -math.inf
    for d in distances:
        p = ceil_to(mid * (1.0 + d), tick, decimals)
        if p < floor_price:
            p = floor_price
        if p <= prev:
            p = round(prev + tick, decimals)
        out.append(p)
        prev = p
    return out


def level_size(
    notional: float, price: float, lot: float, lot_decimals: int, min_quote: float, max_quote: float
) -> float:
    """Lot-rounded size for ``notional`` at ``price`` within the order limits, or 0 when impossible."""
    size = floor_to(notional / price, lot, lot_decimals)
    if size * price < min_quote:
        size = ceil_to(min_quote / price, lot, lot_decimals)
    if size * price > max_quote:
        size = floor_to(max_quote / price, lot, lot_decimals)
        if size * price < min_quote:
            return 0.0
    return size if size > 0.0 else 0.0
