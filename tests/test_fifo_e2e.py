"""The FIFO worker end to end: real `python -m worker run` processes against the emulator over HTTP.

The SQS behaviours these tests rely on (group order and hold-back, the 5-minute deduplication window,
growing sequence numbers, the FIFO DLQ after 3 receives) are checked on their own in tests/conformance/.
Two faults are injected into the emulator itself: an outage (connections refused, every message kept)
and a freeze (connections accepted and never answered, as a hung endpoint).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from simulation.emulator import Emulator
from simulation.fifo_harness import (
    Resources,
    Sent,
    assert_exactly_once_in_order,
    order_body,
    plan_orders,
    provision,
    scan,
    send,
)
from simulation.imds_standin import running_imds
from tests.fifo_harness import log_lines, queue_counts, start_worker, stop_worker, summary, wait_for


@pytest.fixture(scope="module")
def emulator_restartable() -> bool:
    return True  # the outage test stops and restarts the endpoint


FAST = ("--wait-seconds", "2")
"""Short long polls so a drain does not wait out a 20 s poll (the AWS CLI test keeps the default)."""


def received(log: Path) -> list[tuple[str, int]]:
    """(message id, ApproximateReceiveCount) for each message a worker received, from its debug log."""
    return [
        (m["message_id"], m["receive_count"])
        for entry in log_lines(log)
        if entry.get("message") == "received"
        for m in entry["messages"]
    ]


def invoice_versions(bucket: str) -> Counter[str]:
    s3 = boto3.client("s3")
    counts: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        counts.update(v["Key"] for v in page.get("Versions", []))
    return counts


def assert_one_invoice_each(res: Resources, sent: list[Sent]) -> None:
    versions = invoice_versions(res.bucket)
    assert versions == Counter({f"invoices/{s.order_id}.json": 1 for s in {s.order_id: s for s in sent}.values()})


def test_awscli_100_orders_processed_in_group_order(emulator: Emulator, tmp_path: Path) -> None:
    res = provision(versioned_bucket=True)
    sent = plan_orders(100, 7, prefix="cli")
    aws = str(Path(sys.executable).parent / "aws")
    for start in range(0, 100, 10):
        entries = [
            {"Id": str(i), "MessageBody": s.body, "MessageGroupId": s.group, "MessageDeduplicationId": s.dedup_id}
            for i, s in enumerate(sent[start : start + 10])
        ]
        (tmp_path / "entries.json").write_text(json.dumps(entries))
        subprocess.run(
            [
                aws,
                "--endpoint-url",
                emulator.endpoint,
                "sqs",
                "send-message-batch",
                "--queue-url",
                res.queue_url,
                "--entries",
                f"file://{tmp_path / 'entries.json'}",
            ],
            env={**os.environ, **emulator.env()},
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip  (a producer's credentials: the worker's role may not send to its own queue)
    log = tmp_path / "worker.log"
    worker = start_worker(res.worker_env(emulator), log)  # default 20 s long polling
    wait_for(lambda: len(scan(res.table)) == 100, 60, "100 orders in the table")
    assert stop_worker(worker) == 0
    assert_exactly_once_in_order(res.table, sent)
    assert_one_invoice_each(res, sent)
    counters = summary(log)["counters"]
    assert counters["processed"] == counters["deleted"] == 100 and counters["duplicates"] == 0


def test_poison_reaches_the_dlq_after_three_receives_while_other_groups_flow(
    emulator: Emulator, tmp_path: Path
) -> None:
    res = provision()
    poison = {
        "malformed": "{not json",
        "missing-field": json.dumps({"OrderID": "p-2", "CustomerID": "c"}),
        "zero-quantity": order_body("p-3", "c").replace('"Quantity": 2', '"Quantity": 0'),
        "bad-total": json.loads(order_body("p-4", "c", 1)) | {"Total": "1.00"},
    }
    bodies = {k: v if isinstance(v, str) else json.dumps(v) for k, v in poison.items()}
    sent: list[Sent] = []
    valid: list[Sent] = []
    for n, (kind, body) in enumerate(bodies.items()):
        group = f"poisoned-{n}"
        before, after = (Sent(group, f"{group}-{s}", order_body(f"{group}-{s}", group), f"{group}-{s}") for s in "ab")
        sent += [before, Sent(group, kind, body, f"poison-{kind}"), after]
        valid += [before, after]
    flowing = plan_orders(100, 10, prefix="ok")
    send(res.queue_url, sent + flowing)
    log = tmp_path / "worker.log"
    worker = start_worker(res.worker_env(emulator, ORDERS_IDLE_EXIT_SECONDS="3"), log, *FAST)
    assert worker.wait(90) == 0
    # every valid order, in its group's order, including the ones queued behind poison
    assert_exactly_once_in_order(res.table, valid + flowing)
    rejected = [entry for entry in log_lines(log) if entry.get("message", "").startswith("invalid order")]
    per_message = Counter(entry["message_id"] for entry in rejected)
    assert len(per_message) == 4 and set(per_message.values()) == {3}, per_message
    assert sorted(entry["receive_count"] for entry in rejected) == [1] * 4 + [2] * 4 + [3] * 4
    assert {entry["reason"].split(":")[0] for entry in rejected} >= {"malformed JSON", "Items.0.Quantity"}
    dlq = boto3.client("sqs").receive_message(QueueUrl=res.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)[
        "Messages"
    ]
    assert sorted(m["Body"] for m in dlq) == sorted(bodies.values())
    assert queue_counts(res.queue_url) == (0, 0)


def test_duplicate_sends_make_one_order(emulator: Emulator, tmp_path: Path) -> None:
    res = provision(versioned_bucket=True)
    order = Sent("cust-dup", "dup-1", order_body("dup-1", "cust-dup"), "dedup-1")
    send(res.queue_url, [order, order])  # same dedup id within the window: SQS keeps one
    log = tmp_path / "worker.log"
    worker = start_worker(res.worker_env(emulator), log, *FAST)
    wait_for(lambda: len(scan(res.table)) == 1 and queue_counts(res.queue_url) == (0, 0), 30, "the order")
    # a resend with the same dedup id within 5 minutes: SQS accepts it and delivers nothing, even though the
    # first copy was deleted
    send(res.queue_url, [order])
    # a client retry with a fresh dedup id: SQS cannot tell, the worker must
    send(res.queue_url, [Sent(order.group, order.order_id, order.body, "dedup-2")])
    wait_for(lambda: queue_counts(res.queue_url) == (0, 0), 30, "the resends to be acknowledged")
    time.sleep(0.5)  # let the batched delete land before the stop
    assert stop_worker(worker) == 0
    items = scan(res.table)
    assert len(items) == 1 and items[0]["OrderID"] == "dup-1"
    assert_one_invoice_each(res, [order])
    counters = summary(log)["counters"]
    assert counters["received"] == 2 and counters["processed"] == 1 and counters["duplicates"] == 1


@pytest.mark.parametrize("how", ["sigterm", "spot-notice"])
def test_drain_releases_in_flight_and_the_next_worker_finishes(emulator: Emulator, tmp_path: Path, how: str) -> None:
    res = provision(visibility=120)  # anything not released would stay hidden far longer than this test
    sent = plan_orders(600, 60, prefix=how)
    send(res.queue_url, sent)
    log = tmp_path / "first.log"
    with running_imds() as imds:
        env = res.worker_env(
            emulator,
            ORDERS_DRAIN_SECONDS="20",
            ORDERS_IMDS_URL=imds.url,
            ORDERS_IMDS_POLL_SECONDS="0.5",
            POWERTOOLS_LOG_LEVEL="DEBUG",  # every received message, with its receive count
        )
        first = start_worker(env, log, *FAST)
        wait_for(lambda: len(scan(res.table)) >= 100, 60, "the first worker to get going")
        began = time.monotonic()
        if how == "sigterm":
            first.send_signal(signal.SIGTERM)
        else:
            imds.interrupt()
        assert first.wait(30) == 0
        took = time.monotonic() - began
        calls = [(method, path) for method, path, _ in imds.log]
    done = summary(log)
    assert done["reason"] == ("signal SIGTERM" if how == "sigterm" else "spot-interruption")
    assert done["within_deadline"] and took < 20 + 1, took
    assert done["counters"]["released"] > 0 and done["left_held"] == 0
    assert calls[0] == ("PUT", "/latest/api/token")
    stored = len(scan(res.table))
    assert stored < 600, "the drain should have left work for the next worker"
    second_log = tmp_path / "second.log"
    second_env = res.worker_env(emulator, ORDERS_IDLE_EXIT_SECONDS="3", POWERTOOLS_LOG_LEVEL="DEBUG")
    second = start_worker(second_env, second_log, *FAST)
    assert second.wait(60) == 0
    # The drain releases only once its own receivers have stopped, so nothing it hands back comes back to
    # it: each message costs the first worker at most one of the three receives before the DLQ.
    again = {message_id: n for message_id, n in Counter(m for m, _ in received(log)).items() if n > 1}
    assert not again, f"the first worker received these again after releasing them: {again}"
    assert max(count for _, count in received(second_log)) <= 2
    assert queue_counts(res.dlq_url) == (0, 0)
    assert_exactly_once_in_order(res.table, sent)
    assert summary(second_log)["counters"]["processed"] == 600 - stored


def test_emulator_outage_of_10s_loses_and_duplicates_nothing(emulator: Emulator, tmp_path: Path) -> None:
    res = provision(visibility=30, versioned_bucket=True)
    sent = plan_orders(800, 80, prefix="outage")
    send(res.queue_url, sent)
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    # Known emulator difference: MiniStack keeps queues, messages and tables across a restart but not its STS
    # sessions, so assumed-role credentials die with the process (on AWS an outage of SQS leaves them valid
    # until they expire). The workers use the emulator's root key here; what is tested is SQS's outage.
    workers = [start_worker(res.worker_env(emulator, as_role=False), log, *FAST) for log in logs]
    wait_for(lambda: len(scan(res.table)) >= 150, 60, "work under way")
    emulator.stop()
    time.sleep(10)
    emulator.start()
    wait_for(lambda: len(scan(res.table)) == 800 and queue_counts(res.queue_url) == (0, 0), 120, "all orders")
    time.sleep(0.5)
    assert [stop_worker(w) for w in workers] == [0, 0]
    assert_exactly_once_in_order(res.table, sent)
    assert_one_invoice_each(res, sent)
    totals = [summary(log)["counters"] for log in logs]
    assert sum(t["receive_errors"] + t["retries"] + t["delete_errors"] for t in totals) > 0, "the outage went unnoticed"
    # a write whose response was cut off is retried and recognised (counted as a duplicate, not re-written)
    assert sum(t["processed"] for t in totals) <= 800 <= sum(t["processed"] + t["duplicates"] for t in totals)


def test_frozen_emulator_for_15s_loses_and_duplicates_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """Requests in flight when the endpoint hangs time out on the client and are retried, and may still be
    applied once it wakes: those retries must be recognised by the conditional writes, not stored twice."""
    res = provision(visibility=30, versioned_bucket=True)
    sent = plan_orders(1500, 50, prefix="frozen")
    send(res.queue_url, sent)
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    workers = [start_worker(res.worker_env(emulator), log, *FAST) for log in logs]
    wait_for(lambda: len(scan(res.table)) >= 100, 60, "work under way")
    stored_before = len(scan(res.table))
    probe = boto3.client("sqs", config=Config(read_timeout=1, connect_timeout=1, retries={"total_max_attempts": 1}))
    emulator.freeze()
    try:
        with pytest.raises(ReadTimeoutError):  # the endpoint really hangs: accepted, never answered
            probe.get_queue_attributes(QueueUrl=res.queue_url, AttributeNames=["All"])
        time.sleep(15)
    finally:
        emulator.thaw()
    assert stored_before < 1500, "the freeze came after the work was done: it tested nothing"
    wait_for(lambda: len(scan(res.table)) == 1500 and queue_counts(res.queue_url) == (0, 0), 120, "all orders")
    time.sleep(0.5)
    assert [stop_worker(w) for w in workers] == [0, 0]
    assert_exactly_once_in_order(res.table, sent)
    assert_one_invoice_each(res, sent)


@pytest.mark.heavy
def test_2000_orders_3_workers_one_sigkilled_and_restarted(emulator: Emulator, tmp_path: Path) -> None:
    res = provision(visibility=10, versioned_bucket=True)  # a killed worker's messages return after 10 s
    sent = plan_orders(2000, 100, prefix="kill")
    producer = threading.Thread(target=send, args=(res.queue_url, sent, boto3.client("sqs")))
    producer.start()  # produced while the workers run, as in production
    env = res.worker_env(emulator)
    workers = [start_worker(env, tmp_path / f"w{i}.log", *FAST) for i in range(3)]
    wait_for(lambda: len(scan(res.table)) >= 600, 120, "work under way")
    workers[0].kill()
    assert workers[0].wait(10) == -signal.SIGKILL
    workers[0] = start_worker(env, tmp_path / "w0-restarted.log", *FAST)
    producer.join(120)
    wait_for(lambda: len(scan(res.table)) == 2000 and queue_counts(res.queue_url) == (0, 0), 180, "all 2,000 orders")
    time.sleep(0.5)
    assert [stop_worker(w) for w in workers] == [0, 0, 0]
    assert_exactly_once_in_order(res.table, sent)
    assert_one_invoice_each(res, sent)
    assert queue_counts(res.dlq_url) == (0, 0)
