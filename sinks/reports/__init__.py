"""Reports on disk: JSON and self-contained HTML (plots) under ``HOME/reports``."""

from sinks.reports.writer import write_reports

__all__ = ["write_reports"]
