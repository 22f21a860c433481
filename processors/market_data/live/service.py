"""The ``market_data`` role's live source (``HBOT_MARKET_SOURCE=live``): one live feed per traded market.

Every distinct market of the instances file (``exchange`` + ``symbol`` of each instance) gets one
:func:`run_live_feed` (ccxt.pro books and trades, polled funding and closed 1m candles) as a task of
a Faust service on the worker's event loop. Valid records go to the ``hb.market.*`` topics and
rejected ones to ``hb.dlq.v1``, through one librdkafka :class:`EventProducer` of the role (sends
are non-blocking; librdkafka batches them in its own thread). On shutdown the feeds are asked to
stop, close their websockets, and the producer is flushed.

Configuration is checked when the worker starts (:func:`live_feed_configs`): an exchange that
ccxt.pro does not stream (``synthetic`` included) stops the worker with one line naming
``instances[<id>].exchange`` and the fix. A symbol the exchange does not list is only known once
its markets are loaded: the feed then fails fast, the worker logs one line naming
``instances[<id>].symbol`` and stops (non-zero exit), rather than run without data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

import faust
from mode import Service
from pydantic import ValidationError

from hbot.runtime import Runtime
from hbot.settings import ConfigError, describe_validation_error
from hbot.worker import exit_hard_unless_stopped
from processors.market_data.live.config import LiveFeedConfig
from processors.market_data.live.feed import PROCESSOR as LIVE_PROCESSOR, run_live_feed
from streams.catalog import DLQ_TOPIC, MARKET_TOPICS
from streams.metrics import desk_metrics
from streams.producer import EventProducer, ProduceError

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 15.0
"""How long shutdown waits for the feeds to close their connections before cancelling them."""


def live_feed_configs(setups: Iterable[Any], from_file: bool = True) -> list[tuple[str, LiveFeedConfig]]:
    """``(instance id, feed config)`` per distinct market of ``setups``; :class:`ConfigError` names a bad field.

    ``from_file`` False means no instances file is set (the desk then trades the synthetic demo
    instance), which the error says, since that is the usual cause.
    """
    out: dict[str, tuple[str, LiveFeedConfig]] = {}
    for s in setups:
        inst = s.instance
        where = f"instances[{inst.id}]"
        if inst.market in out:
            continue  # several instances on one market share its feed
        if inst.exchange == "synthetic":
            hint = "" if from_file else " (HBOT_INSTANCES_FILE is not set, so the desk trades the synthetic demo instance)"
            raise ConfigError(f"{where}.exchange is 'synthetic', which has no live feed{hint}; with HBOT_MARKET_SOURCE=live "
                              "give every instance a ccxt.pro exchange id (e.g. bitget), or set HBOT_MARKET_SOURCE=synthetic")
        try:
            cfg = LiveFeedConfig(exchange=inst.exchange, symbol=inst.symbol)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, prefix=f"{where}.", source="the instances file")
                              + " (HBOT_MARKET_SOURCE=live streams it through ccxt.pro)") from None
        out[inst.market] = (inst.id, _with_feed_settings(cfg, inst.feed, f"{where}.feed"))
    if not out:
        raise ConfigError("HBOT_MARKET_SOURCE=live but the instances file lists no instance; add one (exchange, symbol) "
                          "or set HBOT_MARKET_SOURCE=none")
    return list(out.values())


def _with_feed_settings(cfg: LiveFeedConfig, feed: dict[str, Any], where: str) -> LiveFeedConfig:
    """``cfg`` with an instance's ``feed`` settings; the market itself comes from the instance, never the feed."""
    fixed = sorted({"exchange", "symbol"} & set(feed))
    if fixed:
        raise ConfigError(f"{where} sets {fixed}: a feed streams its instance's own exchange and symbol; remove them from feed")
    try:
        return LiveFeedConfig.model_validate({**cfg.model_dump(), **feed})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix=f"{where}.", source="the instances file")) from None


def counted_dead_letters(producer: EventProducer) -> Callable[[dict[str, Any]], None]:
    """The feeds' dead-letter callback: each ``hb.dlq.v1`` record is sent and counted in
    ``hbot_dlq_records_total{source_topic, processor="market_data.live"}`` (HbotDlqGrowing)."""
    def send(record: dict[str, Any]) -> None:
        producer.send(DLQ_TOPIC, record)
        desk_metrics().dlq(str(record["source_topic"]), str(record["processor"]))
    return send


def register_live(app: faust.App, rt: Runtime) -> None:
    """Start one live feed per traded market with the worker; stop them cleanly with it."""
    import ccxt

    feeds = live_feed_configs(rt.instances, from_file=rt.settings.instances_file is not None)
    producer = EventProducer(rt.kafka_conf, rt.serde)
    dead_letters = counted_dead_letters(producer)
    desk_metrics().declare_dlq(MARKET_TOPICS, LIVE_PROCESSOR)
    healthy = {cfg.market: True for _, cfg in feeds}

    class LiveFeeds(Service):
        """The feeds as tasks on the worker's loop (ccxt.pro is asyncio)."""

        def __post_init__(self) -> None:
            self._halt = asyncio.Event()
            self._tasks: list[asyncio.Future[None]] = []

        async def on_start(self) -> None:
            self._tasks = [asyncio.ensure_future(self._run(iid, cfg)) for iid, cfg in feeds]

        async def _run(self, instance_id: str, cfg: LiveFeedConfig) -> None:
            log.info("live feed %s: streaming book (%d levels) and trades through ccxt.pro", cfg.market, cfg.book_depth)
            try:
                stats = await run_live_feed(cfg, producer, dead_letters, self._halt)
            except ccxt.BadSymbol as exc:
                healthy[cfg.market] = False
                await self._fail(f"instances[{instance_id}].symbol {cfg.symbol!r} is not a market of {cfg.exchange} ({exc}); "
                                 f"use a ccxt unified symbol {cfg.exchange} lists, e.g. BTC/USDT:USDT")
                return
            except Exception as exc:  # noqa: BLE001 - a feed that cannot run must stop the worker loudly, not silently
                healthy[cfg.market] = False
                await self._fail(f"live feed {cfg.market} (instances[{instance_id}]) stopped: {type(exc).__name__}: {exc}")
                return
            log.info("live feed %s stopped: published %s, dead letters %s, duplicates %d, reconnects %d", cfg.market,
                     dict(stats.published), dict(stats.dead_letters), stats.duplicates, stats.reconnects)

        async def _fail(self, message: str) -> None:
            log.error("%s", message)
            exit_hard_unless_stopped(message)
            await self.crash(ConfigError(message))

        async def on_stop(self) -> None:
            self._halt.set()
            if self._tasks:
                _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
                for task in pending:
                    task.cancel()
            try:
                await asyncio.get_running_loop().run_in_executor(None, producer.flush, 10.0)
            except ProduceError as exc:
                log.error("live feeds: records not delivered at shutdown: %s", exc)

    app.service(LiveFeeds)
    app.hbot_readiness.append(("live_feed", lambda: all(healthy.values())))  # type: ignore[attr-defined]
