"""``HBOT_MARKET_SOURCE=synthetic``: the market_data worker publishes the market of each synthetic instance."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hbot.worker_process import start_worker
from tests.topic_records import TopicRecords, until

pytestmark = pytest.mark.broker


def test_when_two_instances_trade_synthetic_markets_then_each_market_is_published_on_a_path_of_its_own(
        kafka_conf: dict[str, Any], tmp_path: Path) -> None:
    unique = f"{os.getpid()}{time.time_ns() % 10**6}"
    markets = [f"synthetic:S{unique}A/USDT:USDT", f"synthetic:S{unique}B/USDT:USDT"]
    (tmp_path / "instances.yaml").write_text(json.dumps({"instances": [
        {"id": f"s{unique}{i}", "exchange": "synthetic", "symbol": m.split(":", 1)[1]} for i, m in enumerate(markets)]}))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HBOT_")},
           "HBOT_KAFKA_BOOTSTRAP": kafka_conf["bootstrap.servers"], "HBOT_HOME": str(tmp_path / "home"),
           "HBOT_INSTANCES_FILE": str(tmp_path / "instances.yaml"), "HBOT_MARKET_SOURCE": "synthetic",
           "HBOT_MARKET_SPEED": "200", "HBOT_TRACE_EXPORTER": "none", "HBOT_GROUP_PREFIX": f"s{unique}"}
    records = TopicRecords(kafka_conf, ("hb.market.book.v1",))
    worker = start_worker("synthetic", "market_data", env, tmp_path / "logs")
    try:
        def books() -> dict[str, list[dict[str, Any]]]:
            return {m: [b for b in records.all("hb.market.book.v1") if b["market"] == m] for m in markets}
        until(kafka_conf, lambda: all(len(v) >= 5 for v in books().values()), "books of both markets", worker)
    finally:
        worker.stop()

    by_market = books()
    assert [b["mid"] for b in by_market[markets[0]][:5]] != [b["mid"] for b in by_market[markets[1]][:5]], \
        "each market has its own seed, so its own path"
