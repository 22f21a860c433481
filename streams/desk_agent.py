"""Faust glue that runs desk processors (strategy, risk, paper execution, kill switch) per instance.

Each role is one agent over its market's **sequenced log** (``hb.sequenced.v1``): the sequencer
(market_data role) forwards every decision input of a market into one partition in arrival order,
so live processing, a restart and a replay all see the same interleaving (ARCHITECTURE.md,
"Determinism when a processor reads several topics": we chose the sequencer, see README).

Exactness across crashes:

* State lives in a Faust table (``<role>-state``, changelog-backed) keyed by instance: the
  processor's snapshot plus, per source partition, the last source offset applied.
* The stream is consumed without automatic acks. Events are acked only after a checkpoint (every
  ``checkpoint_every`` inputs, and when the input goes idle) has queued the table write; Faust
  flushes the producer before it commits offsets, so a committed offset is always covered by a
  durable snapshot. After a crash the worker restores the snapshot and re-reads at most the
  un-checkpointed tail; inputs at or below the stored source offsets are skipped, so every input
  is applied exactly once to the state and the re-emitted outputs carry the same deterministic
  ids (consumers drop them as duplicates).
* An input that cannot be decoded, or that makes a processor raise, goes to ``hb.dlq.v1`` with
  the reason; the agent continues.

Processors at the exchange boundary (live execution, the live kill switch) set ``blocking = True``:
their calls (``on_event``, ``poll``, ``snapshot``) run on one thread of their own, never on the
event loop, and one at a time, so a slow exchange delays that role but not the worker's heartbeats.
A processor with a ``poll()`` method is also called every ``poll_every_s`` (fills and cancels that
happen on the exchange without a command); what it returns is published like any output. A
processor with ``on_idle()`` is called once each time the role's input has been quiet for
``idle_after_s`` of wall time (the paper venue completes pending cancels when the feed stops).

Metrics (``streams/role_metrics.py``) are recorded here, from the consumed records and the records
the processors return for publishing: the cores stay free of metrics, I/O and wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

import faust

from processors.clock import to_micros
from processors.desk import DeskProcessor
from processors.instance import InstanceSetup
from streams import role_metrics
from streams.catalog import DLQ_TOPIC, SEQUENCED_TOPIC, topic
from streams.dlq import dead_letter
from streams.serde import DecodeError, Serde

log = logging.getLogger(__name__)

IDLE_CHECKPOINT_S = 0.5
"""An idle input is checkpointed (and its offsets become committable) after this long."""

Builder = Callable[[InstanceSetup, Mapping[str, Any] | None], DeskProcessor]


@dataclass
class _Slot:
    setup: InstanceSetup
    proc: DeskProcessor
    hw: dict[str, int]
    partition: int | None = None
    dirty: bool = False
    applied: int = 0
    """Inputs applied since this worker took the instance (the progress view shows it)."""
    event_time_us: int = 0
    """Event time of the latest input applied to this instance."""


@dataclass
class DeskRole:
    """A registered role: its processors by instance (for views, tests and the kill-switch report)."""

    name: str
    slots: dict[str, _Slot] = field(default_factory=dict)
    inputs: int = 0
    outputs: int = 0
    dead_letters: int = 0
    event_time_us: int = 0
    """Event time of the latest input handled (how far the role has got in its market's log)."""
    on_outputs: list[Callable[[InstanceSetup, list[tuple[str, dict[str, Any]]]], None]] = field(default_factory=list)
    call: Callable[..., Awaitable[Any]] | None = None
    """``await call(proc, fn, *args)``: ``fn(*args)`` where the role runs ``proc``'s calls (its own thread when blocking)."""

    def processor(self, instance_id: str) -> DeskProcessor | None:
        """The live processor of ``instance_id`` on this worker, if it owns it."""
        slot = self.slots.get(instance_id)
        return slot.proc if slot else None


def state_table_name(role: str) -> str:
    """Name of the Faust table holding ``role``'s checkpoints; its changelog topic is
    ``<app id>-<table>-changelog`` (see ``deploy/helm/hbot/generate_topics.py``)."""
    return f"{role}-state"


def register_desk_role(app: faust.App, serde: Serde, instances: tuple[InstanceSetup, ...], role: str, build: Builder,
                       checkpoint_every: int = 500, direct_topics: tuple[str, ...] | None = None,
                       poll_every_s: float | None = None, idle_after_s: float | None = None) -> DeskRole:
    """Add the agent of ``role``: one processor per instance, fed from the sequenced log.

    ``direct_topics`` makes the role read those topics itself instead of the sequenced log (the
    kill switch does, so it keeps working when the sequencer does not). ``poll_every_s`` adds a
    timer calling the ``poll()`` of the processors that have one; ``idle_after_s`` one calling
    their ``on_idle()`` once per quiet spell of the input.
    """
    by_market: dict[str, list[InstanceSetup]] = {}
    for s in instances:
        by_market.setdefault(s.market, []).append(s)
    state = DeskRole(role)
    getattr(app, "hbot_desk_roles", {})[role] = state
    source_names = direct_topics or (SEQUENCED_TOPIC,)
    partitions = topic(source_names[0]).partitions
    # bytes types make the changelog raw both ways: the default (json) re-encodes what send_changelog
    # is given, and recovery after a crash then could not read its own checkpoints back.
    table = app.Table(state_table_name(role), default=None, partitions=partitions, key_type=bytes, value_type=bytes)
    source = app.topic(*source_names, value_serializer="raw", key_serializer="raw")
    outs: dict[str, Any] = {}
    held: list[Any] = []
    ctx: dict[str, Any] = {}
    role_metrics.declare_role(role, instances, source_names)
    role_metrics.watch_consumer_lag(app)

    blocking_calls: list[ThreadPoolExecutor] = []
    # With a poll timer, an input and a poll each publish what they caused before the other starts:
    # an order's ACK never goes out after the fill a poll found for it.
    turn: Any = asyncio.Lock() if poll_every_s is not None else contextlib.nullcontext()

    async def call(proc: DeskProcessor, fn: Callable[..., Any], *args: Any) -> Any:
        if not getattr(proc, "blocking", False):
            return fn(*args)
        if not blocking_calls:
            blocking_calls.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hbot-{role}-exchange"))
        return await asyncio.get_running_loop().run_in_executor(blocking_calls[0], lambda: fn(*args))

    state.call = call

    def out_topic(name: str) -> Any:
        if name not in outs:
            outs[name] = app.topic(name, value_serializer="raw", key_serializer="raw")
        return outs[name]

    def slot_for(setup: InstanceSetup) -> _Slot:
        slot = state.slots.get(setup.id)
        if slot is None:
            raw = table.get(setup.id.encode())
            saved = json.loads(raw) if raw else None
            proc = build(setup, saved["proc"] if saved else None)
            slot = _Slot(setup, proc, dict(saved["hw"]) if saved else {})
            state.slots[setup.id] = slot
            role_metrics.record_processor(setup, proc)
            if saved:
                log.info("%s: %s restored from its checkpoint", role, setup.id)
        return slot

    async def checkpoint() -> None:
        for slot in state.slots.values():
            if slot.dirty and slot.partition is not None:
                snap = await call(slot.proc, slot.proc.snapshot)
                value = json.dumps({"proc": snap, "hw": slot.hw}, separators=(",", ":")).encode()
                key = slot.setup.id.encode()
                table.data[key] = value
                table.send_changelog(slot.partition, key, value)
                slot.dirty = False
        events, held[:] = list(held), []
        stream = ctx.get("stream")
        for ev in events:
            await stream.ack(ev)

    async def send_dlq(msg: Any, value: bytes | None, reason: str, kind: str) -> None:
        state.dead_letters += 1
        rec = dead_letter(msg.topic, msg.partition, msg.offset, msg.key, value, reason, kind, role,
                          list(msg.headers or []), now_us=time.time_ns() // 1000)
        await out_topic(DLQ_TOPIC).send(key=msg.topic.encode(), value=serde.encode("dlq", rec, DLQ_TOPIC))
        role_metrics.record_dead_letter(msg.topic, role)
        log.warning("%s: dead letter from %s[%d]@%d (%s): %s", role, msg.topic, msg.partition, msg.offset, kind, reason)

    async def publish(setup: InstanceSetup, outputs: list[tuple[str, dict[str, Any]]], cause_topic: str) -> None:
        now = time.time_ns() // 1000
        for i, (name, rec) in enumerate(outputs):
            # Each record's own send time: a guard record, its kill intent and the gate's cancel are not one instant.
            rec = {**rec, "produce_time": now if i == 0 else time.time_ns() // 1000}
            spec = topic(name)
            key = setup.id if spec.key == "instance" else setup.market
            await out_topic(name).send(key=key.encode(), value=serde.encode(spec.schema, rec, name))
        state.outputs += len(outputs)
        role_metrics.record_published(setup, outputs, cause_topic, now / 1e6)
        for hook in state.on_outputs:
            hook(setup, outputs)

    async def handle(msg: Any, value: bytes) -> None:
        if direct_topics:
            src_topic, src_part, src_off, payload = msg.topic, msg.partition, msg.offset, value
            record = serde.decode(payload, topic(src_topic).schema, src_topic)
            market, instance_id = record.get("market"), record.get("instance_id")
        else:
            env = serde.decode(value, "sequenced", SEQUENCED_TOPIC)
            src_topic, src_part, src_off, payload = env["source_topic"], env["source_partition"], env["source_offset"], env["payload"]
            market, instance_id, record = env["market"], env["instance_id"], None
            state.event_time_us = max(state.event_time_us, to_micros(env["event_time"]))
        key = f"{src_topic}:{src_part}"
        origin = (msg.topic, msg.partition, msg.offset)
        for setup in by_market.get(market or "", ()):
            if instance_id and instance_id != setup.id:
                continue
            slot = slot_for(setup)
            if src_topic not in slot.proc.inputs or src_off <= slot.hw.get(key, -1):
                continue
            if record is None:
                record = serde.decode(payload, topic(src_topic).schema, src_topic)
            async with turn:
                outputs = await call(slot.proc, slot.proc.on_event, src_topic, record, origin)
                slot.hw[key] = src_off
                slot.applied += 1
                if record.get("event_time") is not None:
                    slot.event_time_us = max(slot.event_time_us, to_micros(record["event_time"]))
                slot.partition = msg.partition
                slot.dirty = True
                if outputs:
                    await publish(setup, outputs, src_topic)

    @app.agent(source, name=f"hbot.{role}")
    async def run(stream: Any) -> None:
        stream = stream.noack()
        ctx["stream"] = stream
        async for event in stream.events():
            msg = event.message
            state.inputs += 1
            quiet["since"], quiet["handled"] = time.monotonic(), False
            role_metrics.record_input(msg.topic)
            try:
                await handle(msg, event.value)
            except DecodeError as exc:
                await send_dlq(msg, event.value, exc.reason, exc.kind)
            except Exception as exc:  # a processor bug must not stop the desk: park the input with the reason
                log.exception("%s: input %s[%d]@%d failed", role, msg.topic, msg.partition, msg.offset)
                await send_dlq(msg, event.value, f"{type(exc).__name__}: {exc}", "invalid")
            held.append(event)
            if len(held) >= checkpoint_every:
                await checkpoint()

    @app.timer(IDLE_CHECKPOINT_S, name=f"hbot.{role}.checkpoint")
    async def idle_checkpoint() -> None:
        if held:
            await checkpoint()

    if poll_every_s is not None:
        @app.timer(poll_every_s, name=f"hbot.{role}.poll")
        async def poll() -> None:
            for slot in list(state.slots.values()):
                if not hasattr(slot.proc, "poll"):
                    continue
                async with turn:
                    try:
                        outputs = await call(slot.proc, slot.proc.poll)
                    except Exception:  # noqa: BLE001 - a failed poll is tried again at the next tick
                        log.exception("%s: poll of %s failed", role, slot.setup.id)
                        continue
                    slot.dirty = True
                    if outputs:
                        await publish(slot.setup, outputs, "poll")

    quiet: dict[str, Any] = {"since": time.monotonic(), "handled": True}
    if idle_after_s is not None:
        @app.timer(idle_after_s / 2, name=f"hbot.{role}.idle")
        async def idle() -> None:
            if quiet["handled"] or time.monotonic() - quiet["since"] < idle_after_s:
                return
            quiet["handled"] = True
            for slot in list(state.slots.values()):
                if hasattr(slot.proc, "on_idle"):
                    async with turn:
                        outputs = await call(slot.proc, slot.proc.on_idle)
                        if outputs:
                            slot.dirty = True
                            await publish(slot.setup, outputs, "idle")

    @app.on_partitions_revoked.connect
    async def forget(app_: Any, revoked: Any, **kwargs: Any) -> None:  # noqa: ARG001 - Faust signal signature
        # Another worker may own these markets now: drop cached processors; the table is the truth.
        state.slots.clear()
        held.clear()

    return state
