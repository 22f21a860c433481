"""The Faust app factory: broker, Avro codecs, DLQ-routing topics and health views.

Agents consume hbot topics through :func:`avro_topic`: values arrive decoded and validated; a
record that cannot be decoded (corrupt bytes, another schema, an incompatible writer) is sent to
``hb.dlq.v1`` with its source topic, partition, offset and reason, and the agent keeps going.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import Message

from streams.catalog import CATALOG, DLQ_TOPIC, topic
from streams.dlq import dead_letter
from streams.faust_transport import SCHEME
from streams.metrics import desk_metrics
from streams.serde import DecodeError, Serde

log = logging.getLogger(__name__)

# Tansu (the embedded broker) completes a group join after half the session timeout; 6 s keeps a
# join at ~3 s and a crashed member's partitions free again within ~6 s (measured).
SESSION_TIMEOUT_S = 6.0
HEARTBEAT_INTERVAL_S = 1.0


class AvroCodec(codecs.Codec):
    """Faust codec for one hbot schema (``hbot-<schema>``) over the configured serde."""

    def __init__(self, serde: Serde, schema: str, **kwargs: Any) -> None:
        self._serde = serde
        self._schema = schema
        super().__init__(serde=serde, schema=schema, **kwargs)

    def _loads(self, s: bytes) -> Any:
        return self._serde.decode(s, self._schema)

    def _dumps(self, s: Any) -> bytes:
        return self._serde.encode(self._schema, s)

    def clone(self, *children: codecs.CodecT) -> codecs.CodecT:  # pragma: no cover - faust API
        return type(self)(self._serde, self._schema)


def register_codecs(serde: Serde) -> None:
    """Register ``hbot-<schema>`` codecs for every schema in the catalog."""
    for spec in CATALOG.values():
        codecs.register(f"hbot-{spec.schema}", AvroCodec(serde, spec.schema))


class DlqTopic(faust.Topic):
    """A topic whose undecodable records go to ``hb.dlq.v1`` instead of crashing the agent."""

    processor: str = "worker"
    serde: Serde | None = None

    async def on_value_decode_error(self, exc: Exception, message: Message) -> None:
        cause = exc.__cause__ if isinstance(exc.__cause__, DecodeError) else None
        kind = cause.kind if cause else str(exc).split(":", 1)[0].strip() or "undecodable"
        if kind not in ("undecodable", "unknown_schema", "wrong_schema", "invalid"):
            kind = "undecodable"
        reason = cause.reason if cause else str(exc)
        rec = dead_letter(message.topic, message.partition, message.offset, message.key, message.value,
                          reason, kind, self.processor, list(message.headers or []), now_us=time.time_ns() // 1000)
        assert self.serde is not None, "avro_topic() sets the serde"
        # Awaited: the dead letter is durable before this offset can be committed past.
        await self.app.producer.send_and_wait(DLQ_TOPIC, message.topic.encode(), self.serde.encode("dlq", rec, DLQ_TOPIC),
                                              partition=None, timestamp=None, headers=None)
        desk_metrics().dlq(message.topic, self.processor)
        log.warning("dead letter from %s[%d]@%d (%s): %s", message.topic, message.partition, message.offset, kind, reason)

    async def on_key_decode_error(self, exc: Exception, message: Message) -> None:
        await self.on_value_decode_error(exc, message)


def avro_topic(app: faust.App, name: str, processor: str, serde: Serde) -> faust.TopicT:
    """A catalog topic whose values decode with its Avro schema, routing bad records to the DLQ."""
    spec = topic(name)
    # Faust clones topics when agents subscribe, so the DLQ context lives on a subclass, not the instance.
    cls = type(f"DlqTopic_{spec.schema}", (DlqTopic,), {"processor": processor, "serde": serde})
    desk_metrics().declare_dlq([name], processor)
    return cls(app, topics=[name], value_serializer=f"hbot-{spec.schema}", key_serializer="raw",
               partitions=spec.partitions)


def create_app(app_id: str, bootstrap: str, serde: Serde, web_port: int = 6066, web_enabled: bool = True,
               kafka_credentials: Any = None, **overrides: Any) -> faust.App:
    """A Faust app on ``bootstrap`` with hbot's codecs and the session settings the brokers need."""
    register_codecs(serde)
    app = faust.App(
        app_id,
        broker=f"{SCHEME}://{bootstrap}",
        broker_credentials=kafka_credentials,
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=6,
        topic_replication_factor=1,
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=HEARTBEAT_INTERVAL_S,
        broker_rebalance_timeout=SESSION_TIMEOUT_S,
        consumer_auto_offset_reset="earliest",
        # Desk agents ack only at checkpoints; at shutdown their un-checkpointed tail is simply read
        # again after the restart, so waiting for it to drain would only delay the stop.
        stream_wait_empty=False,
        web_enabled=web_enabled,
        web_port=web_port,
        web_bind="0.0.0.0",
        **overrides,
    )
    return app
