"""Topic administration on a real broker: idempotent ensure, exact counts, describe."""

from __future__ import annotations

from typing import Any

import pytest

from streams.admin import describe_topic, ensure_topics, topic_counts
from streams.catalog import CATALOG
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.samples import sample

pytestmark = pytest.mark.broker


def test_when_topics_are_ensured_twice_then_the_second_time_creates_nothing(kafka_conf: dict[str, Any]) -> None:
    ensure_topics(kafka_conf)
    again = ensure_topics(kafka_conf)
    assert again.created == () and set(again.existing) == set(CATALOG)


def test_when_records_are_produced_then_list_counts_them_exactly(kafka_conf: dict[str, Any], unique: str) -> None:
    before = {c.name: c.messages for c in topic_counts(kafka_conf)}
    producer = EventProducer(kafka_conf, SingleObjectSerde())
    for i in range(137):  # batched by the producer: Tansu's high watermark alone would undercount
        producer.send("hb.reconciliation.v1", sample("reconciliation", seed=i, overrides={"market": f"c:{unique}"}))
    producer.flush()
    after = {c.name: c.messages for c in topic_counts(kafka_conf)}
    assert after["hb.reconciliation.v1"] - before["hb.reconciliation.v1"] == 137


def test_when_a_topic_is_described_then_catalog_and_broker_views_agree(kafka_conf: dict[str, Any]) -> None:
    info = describe_topic(kafka_conf, "hb.fill.v1")
    assert info["exists"] and info["schema"] == "fill"
    assert info["partitions_broker"] == info["partitions_catalog"] == CATALOG["hb.fill.v1"].partitions
