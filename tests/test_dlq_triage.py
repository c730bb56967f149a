"""`python -m ops dlq-triage` on the emulator, against queues and a table provisioned from the Pulumi program.

moto keeps a deduplication id only while the first copy is still queued, so a redrive inside the
5-minute window is not dropped here as AWS would drop it; the triage refuses such redrives by default
(tested), and the redrive tests pass --dedup-window-seconds 0 to act on messages just sent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from offline.moto_provision import provision
from ops import dlq_triage
from simulation.emulator import Emulator
from simulation.fifo_harness import Resources, order_body, plan_orders, scan, send
from tests.fifo_harness import queue_counts, start_worker, wait_for
from worker.model import parse_invoice

REGION = "us-east-1"
FAST = ("--wait-seconds", "2")


def stack(emulator: Emulator, name: str) -> Resources:
    exports = provision(REGION, endpoint=emulator.endpoint, stack=name).exports
    return Resources(
        queue_url=exports["orderQueueUrl"],
        dlq_url=exports["orderDlqUrl"],
        table=exports["orderTableName"],
        bucket=exports["invoicesBucketName"],
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = dlq_triage.main([*args, "--json", "--visibility-seconds", "60"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def to_dlq(dlq_url: str, group: str, dedup: str, body: str) -> str:
    return str(
        boto3.client("sqs").send_message(
            QueueUrl=dlq_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
        )["MessageId"]
    )


def visible(url: str) -> int:
    return queue_counts(url)[0]


def test_each_class_classified_then_acted_on_only_by_its_flag(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triage")
    ddb = boto3.client("dynamodb")
    bad_total = json.loads(order_body("bad-1", "c")) | {"Total": "1.00"}
    to_dlq(res.dlq_url, "g-invalid-1", "d-inv-1", "{not json")
    to_dlq(res.dlq_url, "g-invalid-2", "d-inv-2", json.dumps(bad_total))
    s3 = boto3.client("s3")
    for n in (1, 2, 3, 4):
        oid = f"stored-{n}"
        message_id = to_dlq(res.dlq_url, f"g-stored-{n}", f"d-{oid}", order_body(oid, "c"))
        item = {"OrderID": {"S": oid}, "ProcessedAt": {"S": "2026-11-27T08:00:01+00:00"}, "SequenceNumber": {"S": "7"}}
        if n == 3:  # written from this very message, then the worker died before the invoice
            item["MessageId"] = {"S": message_id}
        ddb.put_item(TableName=res.table, Item=item)
        if n < 3:
            s3.put_object(Bucket=res.bucket, Key=f"invoices/{oid}.json", Body=b"{}")
    missing = [("g-missing-1", "missing-1"), ("g-missing-2", "missing-2"), ("g-missing-3", "missing-3")]
    for group, oid in missing:
        to_dlq(res.dlq_url, group, f"d-{oid}", order_body(oid, group))

    # read-only: every class seen, nothing deleted, everything visible again afterwards
    where = ("--queue-url", res.dlq_url, "--table", res.table, "--bucket", res.bucket)
    code, report = run(capsys, *where)
    assert code == 0, report
    assert report["counts"] == {"invalid": 2, "stored": 2, "stored-no-invoice": 2, "not-stored": 3}
    assert report["actions"] == {"kept": 9} and report["not_reached"] == 0
    reasons = {i["group"]: i["reason"] for i in report["items"] if i["kind"] == "invalid"}
    assert reasons["g-invalid-1"].startswith("malformed JSON")
    assert "does not equal the sum of the items" in reasons["g-invalid-2"]
    assert visible(res.dlq_url) == 9

    # --drop-stored drops the stored copies; --redrive refuses what SQS would deduplicate (sent < 5 min ago)
    code, report = run(capsys, *where, "--redrive", "--drop-stored")
    assert code == 0, report
    assert report["source_queue_url"] == res.queue_url  # found through ListDeadLetterSourceQueues
    assert report["actions"] == {"dropped": 2, "kept: inside the dedup window": 3, "kept": 4}
    assert visible(res.dlq_url) == 7 and visible(res.queue_url) == 0

    # outside the window (0 here): the valid, unstored orders go back with their group and dedup ids
    code, report = run(
        capsys, *where, "--redrive", "--drop-stored", "--write-missing-invoices", "--dedup-window-seconds", "0"
    )
    assert code == 0, report
    assert report["counts"] == {"invalid": 2, "stored-no-invoice": 2, "not-stored": 3}
    assert report["actions"] == {
        "redriven": 3,
        "invoice written, dropped": 1,
        "kept: stored from another message": 1,  # stored-4: its body may differ from what was stored
        "kept": 2,
    }
    assert visible(res.dlq_url) == 3
    invoice = parse_invoice(s3.get_object(Bucket=res.bucket, Key="invoices/stored-3.json")["Body"].read())
    assert (invoice.Order.OrderID, invoice.SequenceNumber, invoice.Region) == ("stored-3", "7", REGION)
    assert invoice.ProcessedAt.isoformat() == "2026-11-27T08:00:01+00:00"  # what the table stored
    got = boto3.client("sqs").receive_message(
        QueueUrl=res.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert sorted(
        (m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"], json.loads(m["Body"])["OrderID"])
        for m in got
    ) == [(g, f"d-{oid}", oid) for g, oid in missing]


def test_bad_queue_or_table_is_a_clear_error_and_changes_nothing(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triagebad")
    to_dlq(res.dlq_url, "g", "d-1", order_body("o-1", "g"))
    code, err = run(capsys, "--queue-url", res.dlq_url + "-nope", "--table", res.table)
    assert code == 2 and "nothing was changed" in err
    assert "NonExistentQueue" in err or "QueueDoesNotExist" in err
    code, err = run(capsys, "--queue-url", res.dlq_url, "--table", "no-such-table", "--redrive")
    assert code == 2 and "ResourceNotFoundException" in err and "nothing was changed" in err
    assert queue_counts(res.dlq_url) == (1, 0)


def test_after_killed_workers_triage_and_redrive_store_every_valid_order_once(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triagekill")
    sqs = boto3.client("sqs")
    # Orders whose three receives all went to long polls of workers that died (the emulator counts them):
    # received three times and never seen again by anyone, so the next receive moves them to the DLQ.
    doomed = plan_orders(5, 5, prefix="doomed")
    send(res.queue_url, doomed)
    for _ in range(3):
        got = sqs.receive_message(
            QueueUrl=res.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
        )
        assert len(got.get("Messages", [])) == 5
        time.sleep(1.2)
    sent = plan_orders(300, 30, prefix="kill")
    send(res.queue_url, sent)
    env = res.worker_env(emulator, ORDERS_VISIBILITY_SECONDS="4")
    workers = [start_worker(env, tmp_path / f"w{i}.log", *FAST) for i in range(2)]
    kills = 0
    deadline = time.monotonic() + 60
    while kills < 6 and time.monotonic() < deadline:  # kill -9 one worker every ~2 s, start a replacement
        time.sleep(2)
        victim = kills % 2
        workers[victim].kill()
        workers[victim].wait(10)
        workers[victim] = start_worker(env, tmp_path / f"w{victim}-{kills}.log", *FAST)
        kills += 1
    wait_for(lambda: queue_counts(res.queue_url) == (0, 0), 90, "the order queue to empty")
    for w in workers:
        w.kill()
        w.wait(10)

    where = ("--queue-url", res.dlq_url, "--table", res.table, "--bucket", res.bucket)
    code, report = run(
        capsys, *where, "--redrive", "--drop-stored", "--write-missing-invoices", "--dedup-window-seconds", "0"
    )
    assert code == 0, report
    assert report["counts"].get("invalid", 0) == 0
    assert {i["order_id"] for i in report["items"] if i["kind"] == "not-stored"} >= {s.order_id for s in doomed}
    # a copy whose worker died between PutItem and PutObject gets its invoice written before it is dropped
    assert all(i["action"] == "invoice written, dropped" for i in report["items"] if i["kind"] == "stored-no-invoice")
    assert report["not_reached"] == 0 and queue_counts(res.dlq_url) == (0, 0)

    final = start_worker(res.worker_env(emulator, ORDERS_IDLE_EXIT_SECONDS="3"), tmp_path / "final.log", *FAST)
    assert final.wait(60) == 0
    ids = Counter(item["OrderID"] for item in scan(res.table))
    assert ids == Counter({s.order_id: 1 for s in [*doomed, *sent]})  # every valid order, exactly once
    versions: Counter[str] = Counter()
    for page in boto3.client("s3").get_paginator("list_object_versions").paginate(Bucket=res.bucket):
        versions.update(v["Key"] for v in page.get("Versions", []))
    assert versions == Counter({f"invoices/{oid}.json": 1 for oid in ids})  # one invoice each, never rewritten
