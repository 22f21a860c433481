"""Regime detection [P1-4, P1-6] and the 30 s regime override [ROAD-10 step 7]."""

from __future__ import annotations

import pytest

from processors.clock import US_PER_MIN, US_PER_S
from processors.strategy.regime_detection import classify_regime
from tests.processors.strategy.strategy_testkit import T0, Feed

HIGH = 0.0080


def _classify(mid: float = 100.0, ema: float | None = 100.0, band: float | None = 0.0, drift: float = 0.0) -> str:
    return classify_regime(
        mid, ema, band, drift, high_vol_band_pct=HIGH, shock_drift_30s_pct=0.01, trend_eps_pct=0.001
    )


@pytest.mark.parametrize(
    ("band", "expected"),
    [
        (0.0, "neutral_low_vol"),
        (HIGH * 0.5 - 1e-6, "neutral_low_vol"),
        (HIGH * 0.5, "neutral_high_vol"),  # P1-6: band >= high_vol_band_pct * 0.5
        (HIGH - 1e-6, "neutral_high_vol"),  # ... and band < high_vol_band_pct
        (HIGH, "high_vol_shock"),
    ],
)
def test_when_price_near_ema_then_band_picks_the_neutral_regime(band: float, expected: str) -> None:
    assert _classify(band=band) == expected


def test_when_moderate_band_but_trending_then_trend_wins_over_neutral_high_vol() -> None:
    assert _classify(mid=100.2, band=HIGH * 0.6) == "up"
    assert _classify(mid=99.8, band=HIGH * 0.6) == "down"


def test_when_30s_drift_reaches_shock_threshold_then_high_vol_shock() -> None:
    assert _classify(drift=0.01) == "high_vol_shock"
    assert _classify(drift=0.0099) == "neutral_low_vol"


def test_when_no_ema_yet_then_neutral() -> None:
    assert _classify(mid=150.0, ema=None, band=None) == "neutral_low_vol"


def _oscillate(feed: Feed, amplitude: float, minutes: int) -> None:
    """Books every 10 s; each minute the mid visits 100 +- amplitude (a range of 2 x amplitude)."""
    for _ in range(minutes):
        for mid in (100.0, 100.0 + amplitude, 100.0 - amplitude, 100.0, 100.0, 100.0):
            feed.book(mid, dt=10.0)


@pytest.mark.parametrize(
    ("amplitude", "expected"),
    [(0.10, "neutral_low_vol"), (0.25, "neutral_high_vol"), (0.50, "high_vol_shock")],
)
def test_when_minute_ranges_vary_then_core_detects_the_band_regime_from_the_buffer(
    amplitude: float, expected: str
) -> None:
    feed = Feed(t0=T0 - 10 * US_PER_S)  # books land on the minute; ema 5 bars, band 3 bars, high band 0.8 %
    _oscillate(feed, amplitude, minutes=8)
    feed.funding(0.0)  # any state-changing input: the next book decides

    last = feed.book(100.0, dt=10.0)

    assert last is not None
    assert last.state["regime_source"] == "price_buffer"
    assert last.detail.band_pct == pytest.approx(2 * amplitude / 100.0)
    assert last.state["regime"] == expected


def test_when_candles_configured_but_none_arrived_then_price_buffer_and_no_crash() -> None:
    feed = Feed(candles_connector="bitget")

    d = feed.book(100.0)

    assert d is not None
    assert d.state["regime_source"] == "price_buffer"


def test_when_candles_configured_but_all_invalid_then_price_buffer() -> None:
    feed = Feed(candles_connector="bitget")
    feed.book(100.0)
    for k in range(8):
        feed.candle(feed.t - (8 - k) * US_PER_MIN, 0.0, 0.0, 0.0, 0.0)  # empty/zero candles

    d = feed.next_decision(mid=100.2)

    assert d.state["regime_source"] == "price_buffer"
    assert feed.core.ignored_inputs >= 8


def _fresh_candles(feed: Feed, count: int, rng: float) -> None:
    """``count`` 1 m candles closing at the current time, each with (high - low) / close = rng."""
    for k in range(count):
        open_time = feed.t - (count - k) * US_PER_MIN
        feed.candle(open_time, 100.0, 100.0 + rng * 50.0, 100.0 - rng * 50.0, 100.0)


def test_when_enough_fresh_candles_then_regime_comes_from_ohlcv() -> None:
    feed = Feed(candles_connector="bitget")
    feed.book(100.0)
    _fresh_candles(feed, 6, rng=0.009)  # band 0.9 % >= 0.8 % -> shock; the flat buffer says calm

    d = feed.next_decision(mid=100.2)

    assert d.state["regime_source"] == "ohlcv"
    assert d.detail.band_pct == pytest.approx(0.009)
    assert d.state["regime"] == "high_vol_shock"


def test_when_candles_are_too_few_then_fall_back_to_price_buffer() -> None:
    feed = Feed(candles_connector="bitget")
    feed.book(100.0)
    _fresh_candles(feed, 4, rng=0.009)  # ema_period is 5

    assert feed.next_decision(mid=100.2).state["regime_source"] == "price_buffer"


def test_when_candles_go_stale_then_fall_back_to_price_buffer() -> None:
    feed = Feed(candles_connector="bitget")
    feed.book(100.0)
    _fresh_candles(feed, 6, rng=0.009)
    assert feed.next_decision(mid=100.2).state["regime_source"] == "ohlcv"

    for _ in range(19):
        feed.book(100.0, dt=10.0)  # 190 s later: older than candles_max_age_s (180 s)
    d = feed.next_decision(mid=100.5, dt=10.0)

    assert d.state["regime_source"] == "price_buffer"


def test_when_candles_not_configured_then_candles_are_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    _fresh_candles(feed, 6, rng=0.009)

    d = feed.next_decision(mid=100.2)

    assert d.state["regime_source"] == "price_buffer"
    assert d.state["regime"] == "neutral_low_vol"


def test_when_override_intent_then_it_holds_before_30s_and_detection_resumes_after() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.intent("set_regime_override", regime="high_vol_shock")
    t_intent = feed.t

    first = feed.book(100.0, dt=1.0)
    assert first is not None  # the intent makes the next book decide
    assert (first.state["regime"], first.state["regime_source"]) == ("high_vol_shock", "override")

    while feed.t < t_intent + 28 * US_PER_S:
        assert feed.book(100.0, dt=1.0) is None  # nothing changed: no decision
    held = feed.book(100.1, dt=1.0)  # 29 s: a 10 bp move forces a decision
    assert held is not None and feed.t - t_intent == 29 * US_PER_S
    assert (held.state["regime"], held.state["regime_source"]) == ("high_vol_shock", "override")

    after = feed.book(100.1, dt=1.0)  # 30 s: the expiry itself forces a decision
    assert after is not None and feed.t - t_intent == 30 * US_PER_S
    assert (after.state["regime"], after.state["regime_source"]) == ("neutral_low_vol", "price_buffer")


def test_when_override_intent_names_unknown_regime_then_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.intent("set_regime_override", regime="sideways")

    assert feed.book(100.0) is None
    assert feed.core.ignored_inputs == 1


def test_when_regime_override_signal_and_ml_disabled_then_ignored() -> None:
    feed = Feed()
    feed.book(100.0)
    feed.signal("regime_override", 4.0)

    d = feed.next_decision(mid=100.2)

    assert d.state["regime_source"] == "price_buffer"


def test_when_regime_override_signal_and_ml_enabled_then_index_maps_and_source_is_ml() -> None:
    feed = Feed(ml_regime_enabled=True)
    feed.book(100.0)
    feed.signal("regime_override", 1.0)

    d = feed.book(100.0)

    assert d is not None
    assert (d.state["regime"], d.state["regime_source"]) == ("neutral_high_vol", "ml")


def test_when_signal_already_expired_then_ignored() -> None:
    feed = Feed(ml_regime_enabled=True)
    feed.book(100.0)
    feed.signal("regime_override", 4.0, expires_at=feed.t - 1)

    assert feed.book(100.0) is None
    assert feed.core.ignored_inputs == 1
