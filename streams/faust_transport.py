"""Faust's aiokafka transport with a short fetch wait (URL scheme ``hbot+kafka://``... registered as ``hbotkafka``).

Faust hard-codes ``fetch_max_wait_ms=1500`` for its consumer. A broker that answers a fetch only
when that wait expires (the embedded Tansu does, when the partition has no new data at request
time) then adds up to 1.5 s to every hop of the desk's loop: measured tick-to-order p50 890 ms.
The desk needs each hop in milliseconds, so the consumer asks for a short wait instead; on a
loopback or in-cluster network the extra fetch requests are cheap.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 5
"""Longest a fetch may wait for data; bounds the latency one hop adds."""


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the fetcher starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """aiokafka transport whose consumers fetch with a short wait."""

    Consumer = _Consumer


SCHEME = "hbotkafka"
TRANSPORTS[SCHEME] = f"{__name__}:Transport"
