"""``live_feed_configs``: one feed per traded market, each instance's ``feed`` settings applied and checked."""

from __future__ import annotations

from typing import Any

import pytest

from hbot.settings import ConfigError, InstanceConfig
from processors.instance import instance_setup
from processors.market_data.live.config import LiveFeedConfig
from processors.market_data.live.service import live_feed_configs


def _setup(iid: str, symbol: str = "BTC/USDT:USDT", feed: dict[str, Any] | None = None):  # noqa: ANN202 - InstanceSetup
    return instance_setup(InstanceConfig(id=iid, exchange="bitget", symbol=symbol, feed=feed or {}))


def test_when_an_instance_sets_feed_settings_then_its_feed_uses_them_and_others_keep_the_defaults() -> None:
    feeds = dict(live_feed_configs([_setup("btc", feed={"book_depth": 50, "funding_poll_s": 5, "trades": False}),
                                    _setup("eth", "ETH/USDT:USDT")]))

    assert (feeds["btc"].book_depth, feeds["btc"].funding_poll_s, feeds["btc"].trades) == (50, 5.0, False)
    assert feeds["btc"].symbol == "BTC/USDT:USDT" and feeds["btc"].exchange == "bitget"
    assert feeds["eth"] == LiveFeedConfig(exchange="bitget", symbol="ETH/USDT:USDT")


def test_when_two_instances_trade_one_market_then_they_share_the_first_ones_feed() -> None:
    feeds = live_feed_configs([_setup("a", feed={"book_depth": 5}), _setup("b", feed={"book_depth": 50})])

    assert [(iid, cfg.book_depth) for iid, cfg in feeds] == [("a", 5)]


@pytest.mark.parametrize(("feed", "named"), [
    ({"book_depth": 0}, "instances[btc].feed.book_depth=0"),
    ({"book_dept": 15}, "instances[btc].feed.book_dept"),
    ({"backoff_min_s": 60}, "instances[btc].feed"),
    ({"symbol": "ETH/USDT:USDT"}, "instances[btc].feed sets ['symbol']"),
])
def test_when_a_feed_setting_is_bad_then_the_error_names_its_path_in_the_instances_file(feed: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        live_feed_configs([_setup("btc", feed=feed)])

    assert named in str(err.value) and "\n" not in str(err.value)


class _Sent:
    """Collects what would go to Kafka (the EventProducer's ``send`` signature)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def send(self, topic: str, record: dict[str, Any]) -> None:
        self.records.append((topic, record))


def test_when_a_feed_rejects_a_record_then_it_goes_to_the_dlq_and_is_counted_for_the_alert() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from processors.market_data.live.feed import PROCESSOR
    from processors.market_data.live.service import counted_dead_letters
    from streams.dlq import dead_letter
    from streams.metrics import DeskMetrics, use_metrics

    reader = InMemoryMetricReader()
    previous = use_metrics(DeskMetrics(MeterProvider(metric_readers=[reader])))
    try:
        sent = _Sent()
        send = counted_dead_letters(sent)  # type: ignore[arg-type]
        rec = dead_letter("hb.market.book.v1", -1, -1, b"bitget:BTC/USDT:USDT", b"{}", "crossed book", "invalid", PROCESSOR, now_us=1)
        send(rec)
        send(rec)
        data = reader.get_metrics_data()
    finally:
        use_metrics(previous)

    points = [(dict(p.attributes), p.value) for rm in data.resource_metrics for sm in rm.scope_metrics
              for m in sm.metrics if m.name == "hbot.dlq.records" for p in m.data.data_points]
    assert sent.records == [("hb.dlq.v1", rec), ("hb.dlq.v1", rec)]
    assert points == [({"source_topic": "hb.market.book.v1", "processor": PROCESSOR}, 2)]
