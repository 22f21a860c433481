"""Analytics maths: performance statistics, transaction-cost analysis and PnL summaries.

Pure functions over plain numbers and small frozen records: no ClickHouse, no files, no clock.
The queries that feed them live in :mod:`sinks.clickhouse.analytics`; the reports that show them
in :mod:`sinks.reports`.
"""
