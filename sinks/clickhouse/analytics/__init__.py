"""Analytics over the sink's tables: TCA, daily and multi-day reports, CSV exports.

Functions take a reader (:mod:`sinks.clickhouse.reader`) or a clickhouse-connect client and return
typed results; the maths is in :mod:`processors.analytics`.
"""

from sinks.clickhouse.analytics.reports import DayReport, RangeReport, build_day_report, build_range_report
from sinks.clickhouse.analytics.tca import NoData, TcaReport, tca_headline, tca_report

__all__ = ["DayReport", "RangeReport", "TcaReport", "NoData", "build_day_report", "build_range_report",
           "tca_headline", "tca_report"]
