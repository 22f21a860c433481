"""Versioned migrations: tables created from the catalog, new Avro fields added as columns.

Applied migrations are recorded in ``hb_schema_migrations`` (table, version, statement, checksum).
A column whose type no longer matches its Avro field is a breaking change: migration stops and
says which column and what to do, instead of writing wrong data.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from sinks.clickhouse.ddl import META_COLUMNS, columns_for_schema, create_table_sql
from streams.catalog import CATALOG, SINK_TOPICS, TopicSpec

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "hb_schema_migrations"


class MigrationError(Exception):
    """A table cannot be brought in line with its Avro schema without a manual step."""


@dataclass(frozen=True)
class Applied:
    """One statement a migration applied."""

    table: str
    version: int
    statement: str


def _norm(t: str) -> str:
    return t.replace(" ", "").replace("'UTC'", "UTC").replace("DEFAULTnow64(3)", "")


def _record(client: Any, table: str, version: int, stmt: str) -> Applied:
    client.insert(MIGRATIONS_TABLE, [(table, version, stmt, hashlib.sha256(stmt.encode()).hexdigest()[:16])],
                  column_names=["table_name", "version", "statement", "checksum"])
    return Applied(table, version, stmt)


def migrate(client: Any, specs: Iterable[TopicSpec] = tuple(CATALOG[t] for t in SINK_TOPICS)) -> list[Applied]:
    """Create missing tables and add missing columns; idempotent. Returns what was applied."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (table_name String, version UInt32, statement String, "
        "checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY (table_name, version)"
    )
    versions = dict(client.query(f"SELECT table_name, max(version) FROM {MIGRATIONS_TABLE} GROUP BY table_name").result_rows)
    applied: list[Applied] = []
    for spec in specs:
        version = int(versions.get(spec.table, 0))
        existing = {r[0]: r[1] for r in client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
            parameters={"t": spec.table}).result_rows}
        if not existing:
            stmt = create_table_sql(spec)
            client.command(stmt)
            version += 1
            applied.append(_record(client, spec.table, version, stmt))
            continue
        wanted = [(c.name, c.ch_type) for c in columns_for_schema(spec.schema)] + list(META_COLUMNS)
        for name, ch_type in wanted:
            if name not in existing:
                stmt = f"ALTER TABLE {spec.table} ADD COLUMN IF NOT EXISTS `{name}` {ch_type}"
                client.command(stmt)
                version += 1
                applied.append(_record(client, spec.table, version, stmt))
            elif _norm(existing[name]) != _norm(ch_type.split(" DEFAULT ")[0]):
                raise MigrationError(
                    f"{spec.table}.{name} is {existing[name]} but schema {spec.schema} now needs {ch_type}; "
                    "this is not a backward-compatible change: add a new field (or a new topic version) instead"
                )
    for a in applied:
        log.info("migration %s v%d: %s", a.table, a.version, a.statement.splitlines()[0])
    return applied
