"""A seeded, deterministic synthetic BTC-USDT-perpetual-like market (pure core: no I/O, no wall clock).

Usage::

    market = SyntheticMarket(SyntheticMarketConfig(seed=7))
    for topic, record in market.iter_span(span_us(days=1)):
        ...  # topic in hb.market.{book,trade,candle,funding}.v1, record = Avro dict minus produce_time

The model, and why each mechanism is there (a market maker, a regime detector and the ML models
must all face a real problem, not a random walk):

* **Regimes** (:mod:`.regimes`). A continuous-time Markov chain over ``neutral_low_vol``,
  ``neutral_high_vol``, ``up``, ``down`` and ``high_vol_shock`` with configurable mean durations and
  exit probabilities. Each regime sets volatility, drift, jump intensity, trade activity and the
  share of informed flow. Why: real markets alternate calm, busy, trending and crashing phases, and
  the strategy's regime logic needs something to detect. The true label is published in the book's
  ``sim_regime`` so detectors can be scored (strategies must never read it).
* **Efficient price** (:mod:`.latent`). Log price with regime drift, diffusion and compound-Poisson
  jumps on the book grid. Why: trends make inventory risky, jumps make stale quotes expensive.
* **Imbalance with predictive power** (:mod:`.latent`, :mod:`.calibration`, :mod:`.book`). A latent
  short-term drift (an AR(1) with a few seconds' memory) moves the price and is partly revealed by
  the top-5 book imbalance. Its scale is solved in closed form so that the correlation between the
  imbalance and the next ``imbalance_horizon_s`` return equals ``imbalance_return_corr`` inside
  every regime (0 turns the signal off). Why: order-book imbalance is the classic short-horizon
  signal (ROAD-3); with a known true strength, a signal or model can be checked against it.
* **L2 book** (:mod:`.book`). At least 10 levels a side; spread widens and depth thins with
  volatility and right after jumps (never before one). Why: quoting cost and fill odds must
  depend on conditions, as they do for a maker.
* **Trades** (:mod:`.trades`). Hawkes (self-exciting) arrivals simulated exactly by the cluster
  method, heavy-tailed sizes (lognormal body, Pareto tail), all at the touch. Why: bursts of
  same-side prints and rare big prints are what a paper matcher and a risk limit must survive.
* **Informed flow** (:mod:`.trades`). A regime-dependent share of trade clusters knows the sign of
  the next ``informed_horizon_s`` price move and trades that way; each trade says so in its
  ``informed`` label. Why: without it passive fills are free money; with it they are adversely
  selected, more in trends and shocks than in quiet markets, so edge has to be earned.
* **Funding** (:mod:`.funding`). A mean-reverting perp funding rate whose target follows the trend,
  observed every minute and settled every 8 h at 00/08/16 UTC. Why: the perp cost model (P1-1)
  needs a rate that moves and settlements at exact timestamps.
* **1m candles** (:mod:`.candles`). Built from the generated trades, emitted when the minute closes.
  Why: the candle-based regime EMA/ATR path (P1-4) must see the same market as the book path.

Determinism: ``numpy.random.Generator(PCG64)`` streams spawned from ``config.seed``, one per
mechanism; time advances in fixed internal blocks, so the records do not depend on how the caller
chunks the run or how fast it replays. Event ids come from :func:`processors.ids.make_id` over the
market, the config id (which includes the seed) and the per-topic sequence.
"""

from processors.market_data.synthetic.config import REGIMES, RegimeParams, RegimeTable, SyntheticMarketConfig
from processors.market_data.synthetic.market import SIM_DAY_US, SyntheticMarket, span_us

__all__ = [
    "REGIMES",
    "SIM_DAY_US",
    "RegimeParams",
    "RegimeTable",
    "SyntheticMarket",
    "SyntheticMarketConfig",
    "span_us",
]
