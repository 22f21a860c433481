"""Sinks: the ClickHouse sink, its DDL and migrations, and the analytics queries over it."""
