"""PriceBuffer: 10 s sampling, bars, EMA convergence, ATR band, 30 s adverse drift, persistence."""

from __future__ import annotations

import json

import pytest

from processors.clock import US_PER_S
from processors.strategy.price_buffer import PriceBuffer

S = US_PER_S
T = 1_718_000_040 * S  # a minute boundary


def _bars(buffer: PriceBuffer, bars: list[list[float]], start: int = T) -> int:
    """Add one sample every 10 s, ``bars`` giving the six samples of each minute; returns next time."""
    t = start
    for samples in bars:
        for mid in samples:
            buffer.add_sample(t, mid)
            t += 10 * S
    return t


def test_when_observing_every_second_then_one_sample_per_10s_and_bars_per_minute() -> None:
    buffer = PriceBuffer(sample_interval_s=10, bar_interval_s=60, max_bars=10)

    for i in range(185):
        buffer.observe(T + i * S, 100.0 + i * 0.01)

    assert buffer.completed_bars == 3  # minutes 0, 1, 2 complete; minute 3 running
    assert buffer.last_mid == pytest.approx(100.0 + 184 * 0.01)
    # the third completed bar closed on the sample taken at 2 min 50 s
    assert buffer.snapshot()["closes"][-1] == pytest.approx(100.0 + 170 * 0.01)


def test_when_price_constant_then_ema_equals_it_and_none_before_period() -> None:
    buffer = PriceBuffer(max_bars=20)
    _bars(buffer, [[250.0] * 6] * 4)  # 3 completed bars

    assert buffer.ema(5) is None
    _bars(buffer, [[250.0] * 6] * 4, start=T + 240 * S)
    assert buffer.ema(5) == pytest.approx(250.0)


def test_when_closes_rise_then_ema_follows_the_recursion_seeded_with_the_first_close() -> None:
    buffer = PriceBuffer(max_bars=20)
    _bars(buffer, [[1.0] * 6, [2.0] * 6, [3.0] * 6, [9.0]])  # closes 1, 2, 3 completed

    # alpha = 2/3: 1 -> 2/3*2 + 1/3*1 = 5/3 -> 2/3*3 + 1/3*5/3 = 23/9
    assert buffer.ema(2) == pytest.approx(23.0 / 9.0)


def test_when_bars_have_known_ranges_then_band_is_atr_over_last_close() -> None:
    buffer = PriceBuffer(max_bars=20)
    # every bar: high 101, low 99, close 100 -> true range 2 each
    _bars(buffer, [[100.0, 101.0, 99.0, 100.0, 100.0, 100.0]] * 4 + [[100.0]])

    assert buffer.band_pct(3) == pytest.approx(2.0 / 100.0)
    assert buffer.band_pct(4) is None  # needs period + 1 completed bars


def test_when_a_gap_opens_then_true_range_includes_it() -> None:
    buffer = PriceBuffer(max_bars=20)
    _bars(buffer, [[100.0] * 6, [100.0] * 6, [104.0] * 6, [104.0]])  # bar 3 gaps up by 4 with no range

    # TRs of the last 2 bars: 0 (100 -> 100) and 4 (gap); ATR(2) = 2, over last close 104
    assert buffer.band_pct(2) == pytest.approx(2.0 / 104.0)


def test_when_buffer_empty_or_short_then_adverse_drift_is_zero() -> None:
    buffer = PriceBuffer()
    assert buffer.adverse_drift_30s(T) == 0.0

    buffer.observe(T, 100.0)
    buffer.observe(T + 20 * S, 110.0)
    assert buffer.adverse_drift_30s(T + 20 * S) == 0.0  # no sample 30 s old yet


def test_when_price_moves_monotonically_then_drift_is_move_since_30s_ago() -> None:
    buffer = PriceBuffer()
    for i, mid in enumerate([100.0, 101.0, 102.0, 103.0]):
        buffer.observe(T + i * 10 * S, mid)

    assert buffer.adverse_drift_30s(T + 30 * S) == pytest.approx(3.0 / 100.0)
    buffer.observe(T + 35 * S, 97.0)  # drift is absolute: a fall counts too
    assert buffer.adverse_drift_30s(T + 35 * S) == pytest.approx(3.0 / 100.0)


def test_when_snapshot_restored_then_indicators_and_sampling_continue_identically() -> None:
    a = PriceBuffer(max_bars=20)
    for i in range(400):
        a.observe(T + i * 3 * S, 100.0 + (i % 17) * 0.1)
    b = PriceBuffer(max_bars=20)
    b.restore(json.loads(json.dumps(a.snapshot())))

    for i in range(400, 500):
        a.observe(T + i * 3 * S, 99.0 + (i % 11) * 0.2)
        b.observe(T + i * 3 * S, 99.0 + (i % 11) * 0.2)

    assert a.snapshot() == b.snapshot()
    assert a.ema(5) == b.ema(5) and a.band_pct(3) == b.band_pct(3)
