"""``execution: live`` through the real worker: the sequencer and execution roles in a child process,
their ccxt Bitget pointed at the loopback fake exchange (``fake_bitget_http``), commands and answers
through the session broker.

One scenario, in order: a foreign order rests on the exchange before the worker starts (the orphan
scan must cancel it, and only it); a PLACE reaches the exchange with its client order id and comes
back as an ACK; a partial fill on the exchange comes back as a fill; the worker is killed after
the exchange executed a PLACE but before the worker read the answer, and after the restart there
is still exactly one exchange order for that client order id (the restarted worker's orphan scan
cancels it: its restored state predates the order) and no fill is counted twice.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from hbot.worker import app_id_for
from hbot.worker_process import start_worker
from streams.catalog import SEQUENCED_TOPIC
from streams.producer import EventProducer
from streams.serde import SingleObjectSerde
from tests.kafka_offsets import commit_at_end, committed_at_least, log_ends
from tests.processors.execution.live.fake_bitget import FAKE_API_KEY, FAKE_PASSPHRASE, FAKE_SECRET, FakeBitget
from tests.processors.execution.live.fake_bitget_http import FakeBitgetHttp
from tests.samples import sample
from tests.topic_records import TopicRecords, until

pytestmark = pytest.mark.broker

MARKET = "bitget:BTC/USDT:USDT"
PLACE_PATH = "/api/v2/mix/order/place-order"
SERDE = SingleObjectSerde()
READ_TOPICS = ("hb.order.v1", "hb.order_update.v1", "hb.fill.v1", "hb.audit.v1")


def _place(instance: str, cid: str, price: float, seq: int) -> dict[str, Any]:
    return sample("order", seed=seq, overrides={
        "event_id": f"{cid}-place", "event_time": time.time_ns() // 1000, "instance_id": instance, "market": MARKET,
        "action": "PLACE", "client_order_id": cid, "side": "BUY", "price": price, "size": 0.01, "post_only": True,
        "reduce_only": False, "decision_id": f"{cid}-decision", "mid_at_decision": price + 5, "reason": "quote"})


def _live_desk(tmp_path: Path, kafka_conf: dict[str, Any], server: FakeBitgetHttp, roles: str, key_role: str,
               key: tuple[str, str, str], unique: str) -> dict[str, str]:
    """Env of a worker running ``roles`` for one live Bitget instance ``lx<unique>`` with only ``key_role``'s key.

    Its consumer group starts at the topics' current ends (not at what earlier tests left)."""
    (tmp_path / "instances.yaml").write_text(json.dumps({"instances": [{
        "id": f"lx{unique}", "exchange": "bitget", "symbol": "BTC/USDT:USDT", "market_type": "perp", "execution": "live",
        "live": {"rate_limit_ms": 1, "poll_interval_s": 0.3}}]}))
    prefix = f"x{unique}{key_role.replace('_', '')}"
    commit_at_end(kafka_conf, app_id_for(tuple(roles.split(",")), prefix))
    r = key_role.upper()
    return {**{k: v for k, v in os.environ.items() if not k.startswith("HBOT_")},
            "HBOT_KAFKA_BOOTSTRAP": kafka_conf["bootstrap.servers"], "HBOT_HOME": str(tmp_path / f"home-{key_role}"),
            "HBOT_INSTANCES_FILE": str(tmp_path / "instances.yaml"), "HBOT_MARKET_SOURCE": "none",
            "HBOT_DEADMAN_AFTER_S": "0", "HBOT_TRACE_EXPORTER": "file", "HBOT_GROUP_PREFIX": prefix,
            f"HBOT_KEY_{r}_API_KEY": key[0], f"HBOT_KEY_{r}_SECRET": key[1], f"HBOT_KEY_{r}_PASSPHRASE": key[2],
            "HBOT_TEST_EXCHANGE_URL": server.url}


TRADE_KEY = (FAKE_API_KEY, FAKE_SECRET, FAKE_PASSPHRASE)
KILL_KEY = ("bg_FAKE_killkey_DO_NOT_USE_5555", "FAKE-kill-secret-DO-NOT-USE-1234", "FAKEkillPassphrase7")
MODULE = "tests.processors.execution.live.exec_worker"
EXECUTION = "market_data,execution"


def _fake_now() -> FakeBitget:
    fake = FakeBitget()
    fake.now_ms = time.time_ns() // 1_000_000  # the worker reads fills back from "now", like on the exchange
    return fake


def test_when_an_instance_executes_live_then_orphans_go_orders_and_fills_flow_and_a_kill_before_the_ack_makes_no_second_order(
        kafka_conf: dict[str, Any], tmp_path: Path) -> None:
    unique = f"{os.getpid()}{time.time_ns() % 10**6}"
    instance = f"lx{unique}"
    fake = _fake_now()
    foreign = fake.add_order("someone-elses-order", "sell", 99_000.0, 0.02)
    with FakeBitgetHttp(fake) as server:
        env = _live_desk(tmp_path, kafka_conf, server, EXECUTION, "trade", TRADE_KEY, unique)
        roles, module = EXECUTION, MODULE
        records = TopicRecords(kafka_conf, READ_TOPICS)
        producer = EventProducer(kafka_conf, SERDE)
        worker = start_worker("exec-1", roles, env, tmp_path / "logs", module=module)
        try:
            # 1. The first command: the orphan scan runs before it, then the order reaches the exchange.
            producer.send("hb.order.v1", _place(instance, "c1", 95_000.0, 1))
            producer.flush()
            acks = until(kafka_conf, lambda: [u for u in records.mine("hb.order_update.v1", instance)
                                               if u["client_order_id"] == "c1" and u["status"] == "ACK"], "c1 acknowledged", worker)
            assert foreign.state == "canceled"
            mine = [o for o in fake.orders.values() if o.client_oid == "c1"]
            assert len(mine) == 1 and mine[0].is_open and mine[0].price == 95_000.0 and mine[0].force == "post_only"
            assert acks[0]["exchange_order_id"] == mine[0].order_id
            scans = [a for a in records.mine("hb.audit.v1", instance) if a["action"] == "orphan_scan"]
            assert len(scans) == 1 and scans[0]["details"]["cancelled"] == "1" and scans[0]["details"]["kept"] == "0"
            assert "someone-elses-order" in scans[0]["details"]["orders"]

            # 2. A partial fill on the exchange comes back through the poll.
            trade = fake.fill("c1", 0.004)
            fills = until(kafka_conf, lambda: records.mine("hb.fill.v1", instance), "the fill of c1", worker)
            assert [(f["client_order_id"], f["trade_id"], f["size"], f["side"]) for f in fills] == [("c1", trade.trade_id, 0.004, "BUY")]
            until(kafka_conf, lambda: [u for u in records.mine("hb.order_update.v1", instance)
                                        if u["client_order_id"] == "c1" and u["status"] == "PARTIALLY_FILLED"], "c1 partially filled", worker)

            # 3. Killed after the exchange placed c2, before the worker saw the answer. First the worker
            # commits what it has applied (c1), so the restart re-reads c2's command only.
            ends = log_ends(kafka_conf, SEQUENCED_TOPIC)
            until(kafka_conf, lambda: committed_at_least(kafka_conf, app_id_for(tuple(roles.split(",")), f"x{unique}trade"), ends),
                  "the worker to commit c1", worker)
            release = server.hold(PLACE_PATH, "c2")
            producer.send("hb.order.v1", _place(instance, "c2", 94_000.0, 2))
            producer.flush()
            until(kafka_conf, server.executed_held.is_set, "the exchange to execute c2's place", worker)
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait(30)
            release.set()
            worker = start_worker("exec-2", roles, env, tmp_path / "logs", module=module)
            c2 = until(kafka_conf, lambda: [u for u in records.mine("hb.order_update.v1", instance) if u["client_order_id"] == "c2"],
                        "an answer for c2 after the restart", worker)
        finally:
            worker.stop()

        sent_c2 = [r for r in fake.requests_to(PLACE_PATH, "POST") if (r.body or {}).get("clientOid") == "c2"]
        on_exchange = [o for o in fake.orders.values() if o.client_oid == "c2"]
        assert len(sent_c2) == 2, "the restarted worker sends c2 again (it never saw the answer)"
        assert len(on_exchange) == 1, "but the exchange holds one order for c2, never two"
        # The restarted worker's state predates c2, so its orphan scan cancels c2 before re-reading the
        # command; the re-sent PLACE is refused as a duplicate and resolved from the exchange: CANCELLED.
        scans = [a for a in records.mine("hb.audit.v1", instance) if a["action"] == "orphan_scan"]
        assert len(scans) == 2 and scans[1]["details"]["cancelled"] == "1" and '"c2"' in scans[1]["details"]["orders"]
        assert on_exchange[0].state == "canceled" and [u["status"] for u in c2] == ["CANCELLED"], c2
        fills = records.mine("hb.fill.v1", instance)
        assert len({f["event_id"] for f in fills}) == 1 and {f["trade_id"] for f in fills} == {trade.trade_id}
        assert fake.net_position() == pytest.approx(0.004)


def test_when_a_live_instance_is_killed_then_the_kill_switch_cancels_on_the_exchange_with_its_own_key_only(
        kafka_conf: dict[str, Any], tmp_path: Path) -> None:
    unique = f"{os.getpid()}{time.time_ns() % 10**6}"
    instance = f"lx{unique}"
    fake = _fake_now()
    fake.add_key(*KILL_KEY)
    with FakeBitgetHttp(fake) as server:
        # Two processes, as in Kubernetes: execution holds only the trade key, the kill switch only its own.
        trade_env = _live_desk(tmp_path, kafka_conf, server, EXECUTION, "trade", TRADE_KEY, unique)
        kill_env = _live_desk(tmp_path, kafka_conf, server, "kill_switch", "kill_switch", KILL_KEY, unique)
        records = TopicRecords(kafka_conf, READ_TOPICS)
        producer = EventProducer(kafka_conf, SERDE)
        execution = start_worker("execution", EXECUTION, trade_env, tmp_path / "logs", module=MODULE)
        kill = start_worker("kill", "kill_switch", kill_env, tmp_path / "logs", module=MODULE)
        try:
            for i, cid in enumerate(("k1", "k2")):
                producer.send("hb.order.v1", _place(instance, cid, 95_000.0 - i * 10, 10 + i))
            producer.flush()
            until(kafka_conf, lambda: {u["client_order_id"] for u in records.mine("hb.order_update.v1", instance)
                                        if u["status"] == "ACK"} == {"k1", "k2"}, "k1 and k2 acknowledged", execution)
            kill.check()
            intent = sample("execution_intent", overrides={
                "event_id": f"{instance}-kill", "event_time": time.time_ns() // 1000, "instance_id": instance, "market": MARKET,
                "producer": "risk", "action": "kill_switch", "target_base_pct": None, "regime": None,
                "reason": "guard HARD_STOP: daily loss", "metadata": {}})
            producer.send("hb.execution_intent.v1", intent)
            producer.flush()
            audits = until(kafka_conf, lambda: [a for a in records.mine("hb.audit.v1", instance)
                                                 if a["action"] == "kill_switch_completed"], "the kill to complete", kill)
            trail = [a["action"] for a in records.mine("hb.audit.v1", instance)]
        finally:
            kill.stop()
            execution.stop()

        assert not fake.open_orders()
        cancels = fake.requests_to("/api/v2/mix/order/batch-cancel-orders", "POST")
        assert [r.headers["ACCESS-KEY"] for r in cancels] == [KILL_KEY[0]], "one cancel-all, signed with the kill-switch key"
        assert {r.headers["ACCESS-KEY"] for r in fake.requests if r.path.endswith("place-order")} == {TRADE_KEY[0]}
        assert trail.count("cancel_all") == 1 and trail.count("exchange_cancel_all") == 1 and len(audits) == 1
        exchange_audit = next(a for a in records.mine("hb.audit.v1", instance) if a["action"] == "exchange_cancel_all")
        assert exchange_audit["details"]["ok"] == "true" and set(exchange_audit["details"]["orders"].split(",")) == {"k1", "k2"}
        assert audits[0]["details"]["cancelled"] == "2"
        assert [c["action"] for c in records.mine("hb.order.v1", instance)] == ["PLACE", "PLACE"], \
            "a live kill sends no command through the trade path"
        for log, other in ((execution.log, KILL_KEY), (kill.log, TRADE_KEY)):
            text = log.read_text(errors="replace")
            assert not [v for v in other if v in text]
        # Rule 7: no key value in anything the run wrote (logs, traces, reports, state) or published.
        written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "instances.yaml"]
        assert any(p.suffix == ".jsonl" for p in written), "the workers' traces are among the files scanned"
        blobs = [p.read_bytes() for p in written] + [json.dumps(records.by_topic, default=str).encode()]
        leaked = {v for v in TRADE_KEY + KILL_KEY for b in blobs if v.encode() in b}
        assert not leaked
