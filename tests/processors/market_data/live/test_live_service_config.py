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
