"""Every synthetic record matches the Avro contract of its topic."""

from __future__ import annotations

from collections import Counter

import fastavro
import fastavro.validation

import schemas
from processors.market_data.synthetic import REGIMES, SyntheticMarketConfig, span_us
from processors.market_data.topics import MARKET_TOPICS, SCHEMA_OF_TOPIC
from streams.catalog import CATALOG
from streams.catalog import MARKET_TOPICS as CATALOG_MARKET_TOPICS
from tests.processors.market_data.synthetic_frames import run


def test_when_topics_named_then_they_match_the_catalog() -> None:
    assert MARKET_TOPICS == CATALOG_MARKET_TOPICS
    assert all(CATALOG[t].schema == SCHEMA_OF_TOPIC[t] for t in MARKET_TOPICS)


def test_when_records_get_a_produce_time_then_every_one_validates_against_its_schema() -> None:
    # Arrange: a start off the hour and 9 h, so settlements, candles and all topics appear
    cfg = SyntheticMarketConfig(seed=4, start_us=1_704_067_200_000_000 + span_us(hours=7, minutes=50), book_interval_ms=1000)
    parsed = {t: fastavro.parse_schema(schemas.load_schema_json(SCHEMA_OF_TOPIC[t])) for t in MARKET_TOPICS}
    # Act
    events = run(cfg, span_us(minutes=20))
    # Assert
    counts = Counter(t for t, _ in events)
    assert set(counts) == set(MARKET_TOPICS)
    for topic, record in events:
        assert "produce_time" not in record  # the producer stamps it
        stamped = {**record, "produce_time": record["event_time"]}
        assert fastavro.validation.validate(stamped, parsed[topic], raise_errors=True)


def test_when_records_are_emitted_then_they_are_labelled_synthetic_with_the_market_key() -> None:
    cfg = SyntheticMarketConfig(market="synthetic:ETH/USDT:USDT")
    events = run(cfg, span_us(minutes=5))
    assert {r["source"] for _, r in events} == {"synthetic"}
    assert {r["market"] for _, r in events} == {"synthetic:ETH/USDT:USDT"}
    assert {r["sim_regime"] for t, r in events if t == "hb.market.book.v1"} <= set(REGIMES)
    assert len({r["event_id"] for _, r in events}) == len(events)
