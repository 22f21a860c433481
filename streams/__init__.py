"""Kafka plumbing: topic catalog, Avro serde, broker management, Faust app, tracing."""
