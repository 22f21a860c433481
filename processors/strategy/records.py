"""The two records a decision emits, as plain dicts matching ``schemas/quote.avsc`` and
``schemas/strategy_state.avsc`` (``produce_time`` is left to the producer, which stamps it)."""

from __future__ import annotations

from typing import Any

from processors.ids import make_id


def quote_record(
    *,
    instance_id: str,
    market: str,
    config_id: str,
    decision_seq: int,
    event_time_us: int,
    regime: str,
    mid: float,
    quotes: list[dict[str, Any]],
    derisk_only: bool,
    input_event_ids: list[str],
    input_offsets: list[dict[str, Any]],
) -> dict[str, Any]:
    """A ``hb.quote.v1`` record; its id depends only on (instance, market, decision_seq)."""
    return {
        "event_id": make_id("quote", instance_id, market, decision_seq),
        "event_time": event_time_us,
        "instance_id": instance_id,
        "market": market,
        "config_id": config_id,
        "decision_seq": decision_seq,
        "regime": regime,
        "mid": mid,
        "quotes": quotes,
        "derisk_only": derisk_only,
        "input_event_ids": input_event_ids,
        "input_offsets": input_offsets,
    }


def state_record(
    *,
    instance_id: str,
    market: str,
    config_id: str,
    decision_seq: int,
    event_time_us: int,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """A ``hb.strategy_state.v1`` record from the decision's state ``fields``."""
    rec: dict[str, Any] = {
        "event_id": make_id("sstate", instance_id, market, decision_seq),
        "event_time": event_time_us,
        "instance_id": instance_id,
        "market": market,
        "config_id": config_id,
        "decision_seq": decision_seq,
    }
    rec.update(fields)
    return rec
