"""ClickHouse sink: one table per topic, DDL generated from the Avro schema, batched idempotent inserts."""
