"""Live market data through ccxt.pro: order book and trade streams, polled funding and 1m candles.

Exchange structures become the same ``hb.market.*`` records as the synthetic market's
(:mod:`processors.market_data.live.records`), each one goes through
:class:`processors.market_data.validation.FeedValidator`, and a good record is handed to an injected
``publish(topic, record)`` while a bad one becomes an ``hb.dlq.v1`` record handed to an injected
``dead_letter(record)``. Entry point: :func:`processors.market_data.live.feed.run_live_feed`.
"""

from processors.market_data.live.config import LiveFeedConfig
from processors.market_data.live.feed import FeedStats, LiveFeed, run_live_feed

__all__ = ["FeedStats", "LiveFeed", "LiveFeedConfig", "run_live_feed"]
