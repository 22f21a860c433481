"""Market data: the ``hb.market.*`` records (book, trade, candle, funding) from three sources.

``synthetic/`` is the seeded, deterministic synthetic market (the embedded default). Historical
(ccxt REST, recorded files) and live (ccxt.pro) sources publish the very same records, so nothing
downstream knows which one runs.
"""
