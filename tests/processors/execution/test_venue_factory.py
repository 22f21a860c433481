"""make_venue: the instance YAML's ``execution`` picks the paper exchange or the live ccxt venue."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from hbot.settings import ConfigError, InstanceConfig
from tests.processors.execution.live.fake_bitget import FakeBitget, make_exchange
from tests.processors.execution.live.live_scripts import Sleeps, live_config, trade_key
from processors.execution.factory import make_venue
from processors.execution.keys import ExchangeKey
from processors.execution.live import CcxtVenue
from processors.execution.paper import PaperExchange
from processors.execution.venue import ExecutionVenue


def _instance(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"id": "bot1", "exchange": "bitget", "symbol": "BTC/USDT:USDT", "market_type": "perp", "execution": "live"}
    base.update(kw)
    return InstanceConfig.model_validate(base)


def _key(role: str, passphrase: str | None = "fake-pass-0003") -> ExchangeKey:
    return ExchangeKey(role=role, api_key=SecretStr("fake-api-key-0001"), secret=SecretStr("fake-secret-0002"),
                       passphrase=None if passphrase is None else SecretStr(passphrase), source="test")


@pytest.mark.parametrize(("market_type", "symbol", "is_perp"), [("perp", "BTC/USDT:USDT", True), ("spot", "BTC/USDT", False)])
def test_when_instance_is_paper_then_a_paper_exchange_is_made_without_any_key(market_type: str, symbol: str, is_perp: bool) -> None:
    # Act
    venue = make_venue(_instance(execution="paper", exchange="synthetic", symbol=symbol, market_type=market_type))

    # Assert
    assert isinstance(venue, PaperExchange) and isinstance(venue, ExecutionVenue)
    assert venue.config.is_perp is is_perp and venue.market == f"synthetic:{symbol}" and venue.instance_id == "bot1"


def test_when_instance_is_live_then_a_ccxt_venue_over_the_given_exchange_is_made() -> None:
    # Arrange
    fake = FakeBitget()
    exchange = make_exchange(fake)

    # Act
    venue = make_venue(_instance(), trade_key(fake), live=live_config(), exchange=exchange, sleep=Sleeps())

    # Assert
    assert isinstance(venue, CcxtVenue) and isinstance(venue, ExecutionVenue)
    assert venue.exchange is exchange and venue.market == "bitget:BTC/USDT:USDT" and venue.is_paper is False


def test_when_no_exchange_is_given_then_a_rate_limited_ccxt_exchange_is_built_with_the_key_and_nothing_is_sent() -> None:
    # Act
    venue = make_venue(_instance(), _key("trade"))

    # Assert
    assert isinstance(venue, CcxtVenue)
    ex = venue.exchange
    assert ex.id == "bitget" and ex.enableRateLimit is True
    assert (ex.apiKey, ex.secret, ex.password) == ("fake-api-key-0001", "fake-secret-0002", "fake-pass-0003")
    assert ex.options["uta"] is False and ex.options["defaultType"] == "swap"
    assert ex.markets is None  # no request yet


@pytest.mark.parametrize(
    ("instance", "key", "needle"),
    [
        (_instance(), None, "no trade key"),
        (_instance(), _key("data"), "read-only data key cannot trade"),
        (_instance(exchange="synthetic"), _key("trade"), "not 'synthetic'"),
        (_instance(), _key("trade", passphrase=None), "needs the passphrase of the trade key"),
        (_instance(exchange="nosuchexchange"), _key("trade"), "not a ccxt exchange id"),
    ],
    ids=["no-key", "data-key", "synthetic", "no-passphrase", "unknown-exchange"],
)
def test_when_live_is_misconfigured_then_a_config_error_names_the_fix(instance: InstanceConfig, key: ExchangeKey | None, needle: str) -> None:
    # Act
    with pytest.raises(ConfigError) as exc:
        make_venue(instance, key)

    # Assert
    assert needle in str(exc.value)
    assert "fake-secret-0002" not in str(exc.value)


def test_when_live_config_names_another_market_then_it_is_refused() -> None:
    # Act
    with pytest.raises(ConfigError) as exc:
        make_venue(_instance(), _key("trade"), live=live_config(symbol="LTC/USDT:USDT"))

    # Assert
    assert "make them match" in str(exc.value)
