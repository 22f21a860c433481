"""Reconnect backoff and the live feed's configuration."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from processors.market_data.live import LiveFeedConfig
from processors.market_data.live.backoff import Backoff


def test_when_failures_repeat_then_delays_double_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    b = Backoff(0.5, 4.0, random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings))
    assert len(set(delays)) == len(delays)  # jittered, not lock-step
    assert b.attempts == 8


def test_when_the_rng_is_seeded_then_delays_are_reproducible_and_reset_starts_over() -> None:
    a, b = Backoff(0.1, 10.0, random.Random(42)), Backoff(0.1, 10.0, random.Random(42))
    assert [a.next_delay() for _ in range(5)] == [b.next_delay() for _ in range(5)]
    a.reset()
    assert a.attempts == 0 and 0.05 <= a.next_delay() <= 0.1


def test_when_an_outage_is_long_then_the_delay_stays_capped() -> None:
    b = Backoff(0.5, 30.0, random.Random(3))
    assert all(d <= 30.0 for d in (b.next_delay() for _ in range(2000)))


def test_when_backoff_bounds_are_inverted_then_it_refuses() -> None:
    with pytest.raises(ValueError, match="min_s <= max_s"):
        Backoff(2.0, 1.0, random.Random())


def test_when_defaults_are_used_then_it_is_a_bitget_perp_with_the_30_s_staleness_of_the_spec() -> None:
    cfg = LiveFeedConfig()
    assert (cfg.exchange, cfg.symbol, cfg.market) == ("bitget", "BTC/USDT:USDT", "bitget:BTC/USDT:USDT")
    assert cfg.stale_after_s == 30.0 and cfg.book_depth == 15
    assert cfg.config_id == LiveFeedConfig().config_id != LiveFeedConfig(book_depth=5).config_id
    with pytest.raises(ValidationError):
        cfg.book_depth = 5  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(("kwargs", "field", "hint"), [
    ({"exchange": "bitgett"}, "exchange", "not a ccxt.pro exchange id"),
    ({"book_depth": 0}, "book_depth", "greater than or equal to 1"),
    ({"backoff_min_s": 5.0, "backoff_max_s": 1.0}, "", "must not exceed backoff_max_s"),
    ({"stale_after_s": 0}, "stale_after_s", "greater than 0"),
    ({"depth": 5}, "depth", "Extra inputs are not permitted"),
])
def test_when_config_is_wrong_then_the_error_names_the_field_and_the_fix(kwargs: dict, field: str, hint: str) -> None:
    with pytest.raises(ValidationError) as err:
        LiveFeedConfig(**kwargs)
    text = str(err.value)
    assert field in text and hint in text
