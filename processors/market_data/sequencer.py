"""The sequencer's pure part: turning one decision input into its ``hb.sequenced.v1`` envelope.

Every record a market's decision stages read (market data, quotes, orders, order updates, fills,
signals, intents, guard transitions) is forwarded, unchanged, into the market's partition of the
sequenced log, in the order the sequencer read it. Records that name an instance but no market
(an intent for all of an instance's markets) are fanned out to each of that instance's markets.
"""

from __future__ import annotations

from typing import Any, Mapping

from processors.clock import to_micros
from processors.ids import make_id


def envelopes(source_topic: str, partition: int, offset: int, payload: bytes, record: Mapping[str, Any],
              markets_of_instance: Mapping[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """The sequenced records for one input (usually one; several for an instance-wide intent; none if unroutable)."""
    instance_id = record.get("instance_id")
    market = record.get("market")
    markets = (market,) if market else markets_of_instance.get(str(instance_id), ())
    base = {
        "event_time": to_micros(record["event_time"]),
        "produce_time": None,
        "instance_id": instance_id,
        "source_topic": source_topic,
        "source_partition": partition,
        "source_offset": offset,
        "source_event_id": str(record["event_id"]),
        "payload": payload,
    }
    return [{**base, "event_id": make_id("seq", m, source_topic, partition, offset), "market": m} for m in markets]
