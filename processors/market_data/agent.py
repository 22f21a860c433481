"""The market_data role: the per-market sequencer, and the synthetic market publisher.

The sequencer is a Faust agent over every decision input topic; it forwards each record into its
market's partition of ``hb.sequenced.v1`` (see ``processors/market_data/sequencer.py``), after
checking it decodes with its topic's schema (bad records go to the DLQ). It is stateless: a
restart may forward a tail twice, and the desk processors drop the repeats by source offset.

The sequencer sees every market-data record, so it keeps the feed age of each market an instance
trades (``hbot_feed_age_seconds{market}``: wall time since the newest market record of that market
arrived here; the arrival, not the exchange time, because the synthetic and replayed sources stamp
simulated times), and counts its records in and out and its dead letters.

With ``HBOT_MARKET_SOURCE=synthetic`` (the default) the role also publishes the seeded synthetic
market at ``HBOT_MARKET_SPEED`` x real time, from a thread with its own librdkafka producer. With
``HBOT_MARKET_SOURCE=live`` it streams every instance's market through ccxt.pro instead
(:mod:`processors.market_data.live.service`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable

import faust
from mode import Service

from hbot.runtime import Runtime
from processors.market_data.pacing import Pacer
from processors.market_data.sequencer import envelopes
from streams import role_metrics
from streams.catalog import DLQ_TOPIC, MARKET_TOPICS, SEQUENCED_SOURCES, SEQUENCED_TOPIC, topic
from streams.dlq import dead_letter
from streams.metrics import desk_metrics
from streams.producer import EventProducer
from streams.serde import DecodeError

log = logging.getLogger(__name__)


def publish_market(producer: EventProducer, events: Iterable[tuple[str, dict[str, Any]]], speed: float,
                   stop: threading.Event | None = None, on_event: Callable[[int], None] | None = None,
                   clock: Callable[[], float] = time.monotonic) -> int:
    """Publish ``(topic, record)`` events in order, paced by event time; returns how many were sent."""
    pacer = Pacer(speed)
    stop = stop or threading.Event()
    n = 0
    for name, rec in events:
        wait = pacer.delay_s(int(rec["event_time"]), clock())
        if wait > 0 and stop.wait(wait):
            break
        if stop.is_set():
            break
        producer.send(name, rec)
        n += 1
        if on_event is not None:
            on_event(n)
    producer.flush()
    return n


def _register_sequencer(app: faust.App, rt: Runtime) -> None:
    serde = rt.serde
    markets_of: dict[str, tuple[str, ...]] = {}
    for s in rt.instances:
        markets_of[s.id] = markets_of.get(s.id, ()) + (s.market,)
    source = app.topic(*SEQUENCED_SOURCES, value_serializer="raw", key_serializer="raw")
    out = app.topic(SEQUENCED_TOPIC, value_serializer="raw", key_serializer="raw")
    dlq = app.topic(DLQ_TOPIC, value_serializer="raw", key_serializer="raw")
    m = desk_metrics()
    m.declare_topics(SEQUENCED_SOURCES, "in")
    m.declare_topics((SEQUENCED_TOPIC,), "out")
    m.declare_dlq(SEQUENCED_SOURCES, "sequencer")
    role_metrics.watch_consumer_lag(app)
    market_topics = frozenset(MARKET_TOPICS)
    traded = frozenset(s.market for s in rt.instances)  # a market nobody trades has no feed to watch

    @app.agent(source, name="hbot.sequencer")
    async def sequence(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            metrics = desk_metrics()
            metrics.event_in(msg.topic)
            try:
                record = serde.decode(event.value, topic(msg.topic).schema, msg.topic)
            except DecodeError as exc:
                rec = dead_letter(msg.topic, msg.partition, msg.offset, msg.key, event.value, exc.reason, exc.kind,
                                  "sequencer", list(msg.headers or []), now_us=time.time_ns() // 1000)
                await dlq.send(key=msg.topic.encode(), value=serde.encode("dlq", rec, DLQ_TOPIC))
                metrics.dlq(msg.topic, "sequencer")
                log.warning("sequencer: dead letter from %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc.reason)
                continue
            if msg.topic in market_topics and record.get("market") in traded:
                metrics.feed_received(str(record["market"]))
            now = time.time_ns() // 1000
            for env in envelopes(msg.topic, msg.partition, msg.offset, event.value, record, markets_of):
                env["produce_time"] = now
                await out.send(key=env["market"].encode(), value=serde.encode("sequenced", env, SEQUENCED_TOPIC))
                metrics.event_out(SEQUENCED_TOPIC)


def _register_synthetic(app: faust.App, rt: Runtime) -> None:
    from processors.market_data.synthetic import SyntheticMarket, SyntheticMarketConfig

    s = rt.settings
    # The market of every instance on the synthetic exchange (the default one when none is), each
    # with its own seed (market_seed + its rank), so two synthetic instances do not trade one path.
    keys = sorted({i.market for i in rt.instances if i.instance.exchange == "synthetic"})
    markets = [SyntheticMarket(SyntheticMarketConfig(seed=s.market_seed + n, market=m)) for n, m in enumerate(keys)] \
        or [SyntheticMarket(SyntheticMarketConfig(seed=s.market_seed))]

    def endless(market: SyntheticMarket) -> Iterable[tuple[str, dict[str, Any]]]:
        while True:  # a day at a time: the generator keeps its own state across calls
            yield from market.iter_span(86_400_000_000)

    class SyntheticPublisher(Service):
        _stop = threading.Event()

        async def on_start(self) -> None:
            for m in markets:
                threading.Thread(target=self._run, args=(m,), name="synthetic-market", daemon=True).start()

        def _run(self, market: SyntheticMarket) -> None:
            log.info("publishing the synthetic market %s (seed %d) at x%s", market.config.market, market.config.seed,
                     s.market_speed or "max")
            producer = EventProducer(rt.kafka_conf, rt.serde)
            publish_market(producer, endless(market), s.market_speed, self._stop)

        async def on_stop(self) -> None:
            self._stop.set()

    app.service(SyntheticPublisher)


def register(app: faust.App, rt: Runtime) -> None:
    """The sequencer, plus the market source: the synthetic publisher, or the live feeds of the instances' markets."""
    _register_sequencer(app, rt)
    if rt.settings.market_source == "synthetic":
        _register_synthetic(app, rt)
    elif rt.settings.market_source == "live":
        from processors.market_data.live.service import register_live

        register_live(app, rt)
