"""Statistics of the synthetic market per regime over a long run (the acceptance checks of issue 3).

One 5-day run at a 1 s book interval with a third of the default trade rate (the per-regime market is
otherwise the default one) feeds most checks; two 1-day runs check that the imbalance knob works.
"""

from __future__ import annotations

import numpy as np
import pytest

from processors.market_data.synthetic import REGIMES, SyntheticMarketConfig, span_us
from tests.processors.market_data.synthetic_frames import Frames, fast_regimes, frames, prevailing_snapshot

pytestmark = pytest.mark.slow

LOW, HIGH, UP, DOWN, SHOCK = (REGIMES.index(n) for n in ("neutral_low_vol", "neutral_high_vol", "up", "down", "high_vol_shock"))
HORIZON_S = 5
MARKOUT_S = 10


@pytest.fixture(scope="module")
def long_run() -> tuple[SyntheticMarketConfig, Frames]:
    cfg = SyntheticMarketConfig(seed=2024, book_interval_ms=1000, regimes=fast_regimes(0.3))
    return cfg, frames(cfg, span_us(days=5))


def _steps(cfg: SyntheticMarketConfig, seconds: float) -> int:
    return round(seconds / cfg.dt_s)


def _same_regime(f: Frames, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Regime at k and a mask of snapshots k whose regime is unchanged at k + lag."""
    return f.regime[:-lag], f.regime[:-lag] == f.regime[lag:]


def _imbalance_corr(cfg: SyntheticMarketConfig, f: Frames) -> dict[int, tuple[float, float]]:
    """Per regime: (corr(imbalance_k, log mid return k -> k+5 s), hours of data)."""
    h = _steps(cfg, HORIZON_S)
    fwd = np.log(f.mid[h:] / f.mid[:-h])
    reg, same = _same_regime(f, h)
    out = {}
    for r in range(len(REGIMES)):
        sel = same & (reg == r)
        if sel.sum() > 100:
            out[r] = (float(np.corrcoef(f.imbalance[:-h][sel], fwd[sel])[0, 1]), sel.sum() * cfg.dt_s / 3600)
    return out


def test_when_regimes_differ_then_realized_vol_is_ordered_shock_high_low(long_run: tuple[SyntheticMarketConfig, Frames]) -> None:
    # Arrange
    cfg, f = long_run
    ret = np.diff(np.log(f.mid))
    reg, same = _same_regime(f, 1)
    # Act
    daily_vol = {r: float(ret[same & (reg == r)].std() * np.sqrt(86_400 / cfg.dt_s)) for r in (LOW, HIGH, SHOCK)}
    # Assert
    assert daily_vol[SHOCK] > daily_vol[HIGH] > daily_vol[LOW]
    assert daily_vol[LOW] == pytest.approx(cfg.regimes.neutral_low_vol.daily_vol, rel=0.1)


def test_when_trending_then_up_drifts_up_and_down_drifts_down(long_run: tuple[SyntheticMarketConfig, Frames]) -> None:
    # Arrange
    cfg, f = long_run
    ret = np.diff(np.log(f.mid))
    reg, same = _same_regime(f, 1)
    # Act: total log return accumulated while in each trend regime, and its noise level
    total = {r: float(ret[same & (reg == r)].sum()) for r in (UP, DOWN)}
    noise = {r: float(ret[same & (reg == r)].std() * np.sqrt((same & (reg == r)).sum())) for r in (UP, DOWN)}
    # Assert: the right sign, and well outside the noise (not a coin flip)
    assert total[UP] > 2 * noise[UP]
    assert total[DOWN] < -2 * noise[DOWN]


def test_when_imbalance_is_configured_then_it_predicts_the_next_seconds_at_that_correlation(
    long_run: tuple[SyntheticMarketConfig, Frames],
) -> None:
    cfg, f = long_run
    corr = _imbalance_corr(cfg, f)
    for r, (c, hours) in corr.items():
        tolerance = 0.04 if hours >= 8 else 0.08
        assert c == pytest.approx(cfg.imbalance_return_corr, abs=tolerance), (REGIMES[r], hours)
    assert sum(hours for _, hours in corr.values()) > 100


@pytest.mark.parametrize("target", [0.0, 0.4])
def test_when_imbalance_knob_is_turned_then_the_correlation_follows(target: float) -> None:
    # Arrange: trades are irrelevant here, keep very few
    cfg = SyntheticMarketConfig(seed=77, book_interval_ms=1000, imbalance_return_corr=target, regimes=fast_regimes(0.01))
    # Act
    f = frames(cfg, span_us(days=1))
    corr = _imbalance_corr(cfg, f)
    # Assert: in every regime with enough data
    checked = [(REGIMES[r], c) for r, (c, hours) in corr.items() if hours >= 3]
    assert checked
    for name, c in checked:
        assert c == pytest.approx(target, abs=0.05), name


def test_when_passive_quotes_get_filled_then_adverse_selection_is_worse_in_trends_than_in_quiet(
    long_run: tuple[SyntheticMarketConfig, Frames],
) -> None:
    # Arrange: a passive order resting at each touch is filled by every trade at its price
    cfg, f = long_run
    k = prevailing_snapshot(f)
    n = _steps(cfg, MARKOUT_S)
    ok = (k >= 0) & (k + n < f.mid.size)
    k, buy = k[ok], f.trade_buy[ok]
    filled_price = np.where(buy, f.best_ask[k], f.best_bid[k])
    assert (filled_price == f.trade_price[ok]).all()
    # Act: mid move over the next 10 s against the passive side (a BUY aggressor filled our ask)
    move_bps = (f.mid[k + n] - f.mid[k]) / f.mid[k] * 1e4
    adverse = np.where(buy, move_bps, -move_bps)
    by_regime = {r: float(adverse[f.regime[k] == r].mean()) for r in (LOW, UP, DOWN, SHOCK)}
    # Assert
    assert by_regime[LOW] > 0
    assert by_regime[UP] > 2 * by_regime[LOW]
    assert by_regime[DOWN] > 2 * by_regime[LOW]
    assert by_regime[SHOCK] > by_regime[UP]


def test_when_informed_flow_is_labelled_then_its_share_follows_the_regime(long_run: tuple[SyntheticMarketConfig, Frames]) -> None:
    cfg, f = long_run
    regime_at_trade = f.regime[np.maximum(prevailing_snapshot(f), 0)]
    for r, params in enumerate(cfg.regimes.ordered()):
        share = float(f.trade_informed[regime_at_trade == r].mean())
        assert share == pytest.approx(params.informed_fraction, abs=0.03), REGIMES[r]


def test_when_volatility_rises_then_spread_widens_and_depth_thins(long_run: tuple[SyntheticMarketConfig, Frames]) -> None:
    _, f = long_run
    spread = {r: float(f.spread_bps[f.regime == r].mean()) for r in (LOW, HIGH, SHOCK)}
    depth = {r: float(f.depth5[f.regime == r].mean()) for r in (LOW, HIGH, SHOCK)}
    assert spread[SHOCK] > spread[HIGH] > spread[LOW]
    assert depth[SHOCK] < depth[HIGH] < depth[LOW]
    assert 1.0 < spread[LOW] < 3.0 and spread[SHOCK] < 10.0  # a few bps, as on a BTC perp


def test_when_trades_arrive_then_they_cluster_beyond_poisson(long_run: tuple[SyntheticMarketConfig, Frames]) -> None:
    # Arrange: trade counts per second inside quiet stretches (a constant-rate Poisson flow has var/mean = 1)
    cfg, f = long_run
    k = prevailing_snapshot(f)
    quiet = f.trade_time[(k >= 0) & (f.regime[np.maximum(k, 0)] == LOW)]
    seconds = (quiet - f.book_time[0]) // 1_000_000
    # Act
    counts = np.bincount(seconds - seconds.min())
    counts = counts[: counts.size - counts.size % 60]  # whole minutes only
    fano = float(counts.var() / counts.mean())
    # Assert
    assert fano > 1.5


def test_when_trending_up_then_longs_pay_more_funding_than_when_trending_down(long_run: tuple[SyntheticMarketConfig, Frames]) -> None:
    _, f = long_run
    regime = f.regime[np.searchsorted(f.book_time, f.funding_time, side="right") - 1]
    assert f.funding_rate[regime == UP].mean() > f.funding_rate[regime == DOWN].mean()
