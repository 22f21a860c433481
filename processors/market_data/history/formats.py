"""Line formats of recorded market-data files, in a small registry keyed by name.

A format turns one text line into zero or more normalised messages (depth diff, depth snapshot,
trade, top of book) or a :class:`Skip` that says why the line carries nothing usable. Other
recorders' formats are added with :func:`register_format`; the importer only sees the messages.

Registered:

``hftbacktest-binance-usdm``
    ``<local receive time, ns> <raw JSON>`` per line, as written by hftbacktest's Binance USD-M
    collector: combined-stream envelopes ``{"stream": "<sym>@depth@0ms" | "<sym>@trade" |
    "<sym>@bookTicker", "data": {...}}`` and, when the collector fetched one, the REST depth
    snapshot ``{"lastUpdateId": ..., "E": ..., "T": ..., "bids": [...], "asks": [...]}`` (which names
    no symbol). Exchange times are milliseconds; ``T`` (transaction time) is used when present.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

Level: TypeAlias = tuple[float, float]


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """An incremental depth update covering exchange update ids ``first_id..last_id``; ``prev_id`` is the previous update's ``last_id``."""

    symbol: str
    time_us: int
    recv_ns: int
    first_id: int
    last_id: int
    prev_id: int | None
    bids: list[Level]
    asks: list[Level]


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A full depth snapshot as of update id ``last_id`` (``symbol`` may be None when the source omits it)."""

    symbol: str | None
    time_us: int
    recv_ns: int
    last_id: int
    bids: list[Level]
    asks: list[Level]


@dataclass(frozen=True, slots=True)
class TradePrint:
    """A public trade; ``buyer_is_maker`` True means the seller was the aggressor."""

    symbol: str
    time_us: int
    recv_ns: int
    trade_id: int
    price: float
    size: float
    buyer_is_maker: bool
    kind: str


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best bid and ask as of update id ``update_id`` (Binance ``bookTicker``)."""

    symbol: str
    time_us: int
    recv_ns: int
    update_id: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float


@dataclass(frozen=True, slots=True)
class Skip:
    """A line that carries no usable message, and why (counted by the importer)."""

    reason: str
    detail: str = ""


Message: TypeAlias = DepthDiff | DepthSnapshot | TradePrint | TopOfBook | Skip
LineParser: TypeAlias = Callable[[str], list[Message]]

_FORMATS: dict[str, LineParser] = {}


def register_format(name: str, parser: LineParser) -> None:
    """Make ``parser`` available as ``name`` (replacing an earlier one of that name)."""
    _FORMATS[name] = parser


def get_format(name: str) -> LineParser:
    """The parser registered as ``name``; ``KeyError`` names the known formats."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown line format {name!r}; known: {', '.join(sorted(_FORMATS))}") from None


def format_names() -> list[str]:
    """Names of the registered formats."""
    return sorted(_FORMATS)


def _levels(raw: Any) -> list[Level]:
    return [(float(p), float(q)) for p, q in raw]


def _ms(d: dict[str, Any]) -> int:
    return int(d["T"] if d.get("T") is not None else d["E"]) * 1000


def parse_hftbacktest_binance_usdm(line: str) -> list[Message]:
    """One line of an hftbacktest Binance USD-M recording (see the module docstring)."""
    line = line.strip()
    if not line:
        return [Skip("empty_line")]
    head, sep, body = line.partition(" ")
    try:
        recv_ns = int(head)
        msg = json.loads(body) if sep else None
    except ValueError as exc:
        return [Skip("bad_line", f"{type(exc).__name__}: {line[:80]}")]
    if not isinstance(msg, dict):
        return [Skip("bad_line", line[:80])]
    try:
        if "stream" in msg:
            d = msg["data"]
            e = d.get("e")
            if e == "depthUpdate":
                return [DepthDiff(d["s"], _ms(d), recv_ns, int(d["U"]), int(d["u"]),
                                  int(d["pu"]) if d.get("pu") is not None else None, _levels(d["b"]), _levels(d["a"]))]
            if e == "trade":
                return [TradePrint(d["s"], _ms(d), recv_ns, int(d["t"]), float(d["p"]), float(d["q"]), bool(d["m"]),
                                   str(d.get("X", "MARKET")))]
            if e == "bookTicker":
                return [TopOfBook(d["s"], _ms(d), recv_ns, int(d["u"]), float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]))]
            return [Skip("unknown_stream", str(msg.get("stream")))]
        if "lastUpdateId" in msg:
            return [DepthSnapshot(msg.get("symbol"), _ms(msg), recv_ns, int(msg["lastUpdateId"]), _levels(msg["bids"]),
                                  _levels(msg["asks"]))]
    except (KeyError, TypeError, ValueError) as exc:
        return [Skip("bad_message", f"{type(exc).__name__}: {exc}: {body[:80]}")]
    return [Skip("unknown_message", body[:80])]


register_format("hftbacktest-binance-usdm", parse_hftbacktest_binance_usdm)
