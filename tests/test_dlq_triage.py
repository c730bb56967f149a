"""`python -m ops dlq-triage` on the emulator, against queues and a table provisioned from the Pulumi program.

The emulator (MiniStack) behaves as SQS does where it matters here: a FIFO send whose deduplication id was
seen in the last 5 minutes is accepted and dropped, even after the first copy was deleted, and a message
received maxReceiveCount (3) times moves to the DLQ with its MessageId, group and deduplication id. It does
not implement ListDeadLetterSourceQueues, so the redrives pass --source-queue-url (as on AWS, where it is
optional).
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from offline.provision.provisioner import provision
from ops import dlq_triage
from simulation.emulator import Emulator, exported_env
from simulation.fifo_harness import Resources, Sent, order_body, plan_orders, resources_of, scan, send
from tests.fifo_harness import queue_counts, start_worker, wait_for
from worker.model import parse_invoice
from worker.topology import MAX_RECEIVE_COUNT

REGION = "us-east-1"
OPERATOR_ROLE = "dlq-operator"
"""The role docs/operations.md tells on-call to assume for the triage (its logical name in the program)."""
FAST = ("--wait-seconds", "2")


def stack(emulator: Emulator, name: str) -> Resources:
    return resources_of(provision(REGION, endpoint=emulator.endpoint, stack=name), REGION)


def run(capsys: pytest.CaptureFixture[str], res: Resources, *args: str) -> tuple[int, Any]:
    """The CLI as docs/operations.md has on-call run it: with the profile that assumes the DLQ operator role."""
    profile = res.roles.profile("dlq-operator", OPERATOR_ROLE)
    files = {
        "AWS_CONFIG_FILE": str(res.roles.config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(res.roles.credentials_file),
    }
    with exported_env(files):
        code = dlq_triage.main([*args, "--json", "--visibility-seconds", "60", "--profile", profile])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def to_dlq(dlq_url: str, group: str, dedup: str, body: str, **extra: Any) -> str:
    return str(
        boto3.client("sqs").send_message(
            QueueUrl=dlq_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup, **extra
        )["MessageId"]
    )


def dead_letter(queue_url: str, messages: list[Sent]) -> None:
    """Send `messages` and let every one be received MAX_RECEIVE_COUNT times and never deleted (the
    receives of long polls whose worker died): the next receive on the queue moves them to its DLQ.
    At most 10, so that one receive can take every group's messages while none of its groups is in flight."""
    assert len(messages) <= 10
    send(queue_url, messages)
    sqs = boto3.client("sqs")
    for _ in range(MAX_RECEIVE_COUNT):
        got: list[dict[str, Any]] = []
        while len(got) < len(messages):
            batch = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
            ).get("Messages", [])
            assert batch, f"received {len(got)} of {len(messages)}"
            got += batch
        time.sleep(1.2)
    assert sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages") is None


def visible(url: str) -> int:
    return queue_counts(url)[0]


def receive_all(url: str) -> list[dict[str, Any]]:
    sqs, got = boto3.client("sqs"), []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=1,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", []):
        got += batch
    return got


def test_each_class_classified_then_acted_on_only_by_its_flag(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triage")
    ddb, s3, sqs = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs")
    bad_total = json.loads(order_body("bad-1", "c")) | {"Total": "1.00"}
    tagged = {"source": {"DataType": "String", "StringValue": "bulk"}, "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}  # fmt: skip
    invalid = {
        to_dlq(res.dlq_url, "g-invalid-1", "d-inv-1", "{not json", MessageAttributes=tagged): "{not json",
        to_dlq(res.dlq_url, "g-invalid-2", "d-inv-2", json.dumps(bad_total)): json.dumps(bad_total),
    }
    for n in (1, 2, 3, 4):
        oid = f"stored-{n}"
        message_id = to_dlq(res.dlq_url, f"g-stored-{n}", f"d-{oid}", order_body(oid, "c"))
        item = {"OrderID": {"S": oid}, "ProcessedAt": {"S": "2026-11-27T08:00:01+00:00"}, "SequenceNumber": {"S": "7"}}
        if n == 3:  # written from this very message, then the worker died before the invoice
            item["MessageId"] = {"S": message_id}
        ddb.put_item(TableName=res.table, Item=item)
        if n < 3:
            s3.put_object(Bucket=res.bucket, Key=f"invoices/{oid}.json", Body=b"{}")
    # valid orders sent a moment ago whose three receives went to workers that died: in the DLQ now, and
    # their deduplication ids are inside the source queue's 5-minute window
    missing = [Sent(f"g-missing-{n}", f"missing-{n}", order_body(f"missing-{n}", f"g-missing-{n}"), f"d-missing-{n}") for n in (1, 2, 3)]  # fmt: skip
    dead_letter(res.queue_url, missing)
    # SQS (and this emulator) accept a resend with the original id inside the window, then drop it
    assert sqs.send_message(QueueUrl=res.queue_url, MessageBody=missing[0].body, MessageGroupId=missing[0].group,
                            MessageDeduplicationId=missing[0].dedup_id)["MessageId"]  # fmt: skip
    assert queue_counts(res.queue_url) == (0, 0)

    # read-only: every class seen, nothing deleted, everything visible again afterwards
    where = ("--queue-url", res.dlq_url, "--table", res.table, "--bucket", res.bucket)
    code, report = run(capsys, res, *where)
    assert code == 0, report
    assert report["counts"] == {"invalid": 2, "stored": 2, "stored-no-invoice": 2, "not-stored": 3}
    assert report["actions"] == {"kept": 9} and report["not_reached"] == 0
    reasons = {i["group"]: i["reason"] for i in report["items"] if i["kind"] == "invalid"}
    assert reasons["g-invalid-1"].startswith("malformed JSON")
    assert "does not equal the sum of the items" in reasons["g-invalid-2"]
    dlq_ids = {i["order_id"]: i["message_id"] for i in report["items"] if i["kind"] == "not-stored"}
    assert visible(res.dlq_url) == 9

    # this endpoint lacks ListDeadLetterSourceQueues: --redrive without --source-queue-url is refused up front
    code, err = run(capsys, res, *where, "--redrive")
    assert code == 2 and "--source-queue-url" in err and "nothing was changed" in err
    assert visible(res.dlq_url) == 9

    # --drop-stored drops the stored copies, and only them
    code, report = run(capsys, res, *where, "--drop-stored")
    assert code == 0, report
    assert report["actions"] == {"dropped": 2, "kept": 7}
    assert visible(res.dlq_url) == 7

    # --redrive at once (no waiting out the window): each valid, unstored order goes back with its group and a
    # deduplication id of the redrive's own; --write-missing-invoices writes the one invoice it can vouch for
    target = ("--source-queue-url", res.queue_url)
    code, report = run(capsys, res, *where, *target, "--redrive", "--write-missing-invoices")
    assert code == 0, report
    assert report["counts"] == {"invalid": 2, "stored-no-invoice": 2, "not-stored": 3}
    assert report["actions"] == {
        "redriven": 3,
        "invoice written, kept": 1,
        "kept: stored from another message": 1,  # stored-4: its body may differ from what was stored
        "kept": 2,
    }
    assert visible(res.dlq_url) == 4
    invoice = parse_invoice(s3.get_object(Bucket=res.bucket, Key="invoices/stored-3.json")["Body"].read())
    assert (invoice.Order.OrderID, invoice.SequenceNumber, invoice.Region) == ("stored-3", "7", REGION)
    assert invoice.ProcessedAt.isoformat() == "2026-11-27T08:00:01+00:00"  # what the table stored
    got = receive_all(res.queue_url)
    assert sorted(
        (m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"], json.loads(m["Body"])["OrderID"])
        for m in got
    ) == [(s.group, dlq_triage.redrive_dedup_id(s.order_id, dlq_ids[s.order_id]), s.order_id) for s in missing]
    assert not {m["Attributes"]["MessageDeduplicationId"] for m in got} & {s.dedup_id for s in missing}

    # --archive-invalid: each invalid message written (durably) before it leaves the DLQ; the stored-3 copy,
    # whose invoice now exists, is a plain stored one
    archive = tmp_path / "archive"
    code, report = run(
        capsys, res, *where, "--drop-stored", "--write-missing-invoices", "--archive-invalid", str(archive)
    )
    assert code == 0, report
    assert report["actions"] == {"archived": 2, "dropped": 1, "kept: stored from another message": 1}
    assert report["archive"] == str(archive)
    assert visible(res.dlq_url) == 1  # stored-4 only: its invoice is for someone to decide
    files = sorted(archive.glob("*.json"))
    assert [f.name for f in files] == sorted(f"{mid}.json" for mid in invalid)
    docs = {d["message_id"]: d for d in (json.loads(f.read_text()) for f in files)}
    assert {mid: d["body"] for mid, d in docs.items()} == invalid
    first = docs[next(iter(invalid))]
    assert first["reason"].startswith("malformed JSON") and first["queue_url"] == res.dlq_url
    assert first["attributes"]["MessageGroupId"] == "g-invalid-1"
    assert first["attributes"]["MessageDeduplicationId"] == "d-inv-1"
    assert first["message_attributes"]["source"]["StringValue"] == "bulk"
    assert base64.b64decode(first["message_attributes"]["raw"]["BinaryValue"]["base64"]) == b"\x00\xff"
    assert not list(archive.glob(".*"))  # no temporary or probe file left behind


class FailingDelete:
    """An SQS client whose DeleteMessage fails (the network between the redrive's send and its delete)."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def delete_message(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "DeleteMessage")


def test_a_rerun_after_a_failed_delete_does_not_send_twice_and_s3_archives(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triagererun")
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    message_id = to_dlq(res.dlq_url, "g-1", "d-o-1", order_body("o-1", "g-1"))
    bad_id = to_dlq(res.dlq_url, "g-2", "d-bad", "[]")
    kw: dict[str, Any] = {"source_queue_url": res.queue_url, "redrive": True, "visibility_seconds": 60}

    first = dlq_triage.triage(res.dlq_url, res.table, sqs=FailingDelete(sqs), **kw)
    assert [(i.kind, i.action) for i in first.items if i.order_id == "o-1"] == [("not-stored", "kept: delete failed")]
    assert queue_counts(res.queue_url) == (1, 0) and queue_counts(res.dlq_url) == (2, 0)  # sent, and still here

    s3.create_bucket(Bucket="triage-archive")
    second = dlq_triage.triage(res.dlq_url, res.table, archive_invalid="s3://triage-archive/dlq", **kw)
    assert dict(second.actions) == {"redriven": 1, "archived": 1}
    assert queue_counts(res.dlq_url) == (0, 0)
    # the second send carried the same id (OrderID + DLQ message id): SQS dropped it, one copy went back
    got = receive_all(res.queue_url)
    assert [m["Attributes"]["MessageDeduplicationId"] for m in got] == [dlq_triage.redrive_dedup_id("o-1", message_id)]
    item = next(i for i in second.items if i.kind == "invalid")
    assert item.archived_to == f"s3://triage-archive/dlq/{bad_id}.json" and second.archive == "s3://triage-archive/dlq/"
    doc = json.loads(s3.get_object(Bucket="triage-archive", Key=f"dlq/{bad_id}.json")["Body"].read())
    assert (doc["body"], doc["reason"], doc["attributes"]["MessageGroupId"]) == ("[]", item.reason, "g-2")


def test_bad_queue_table_or_archive_is_a_clear_error_and_changes_nothing(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triagebad")
    to_dlq(res.dlq_url, "g", "d-1", order_body("o-1", "g"))
    to_dlq(res.dlq_url, "h", "d-2", "{not json")
    # As the operator role, a queue or table outside its policy is refused before it is looked up (IAM first,
    # as AWS does); as an administrator the same mistake is "does not exist". Either way nothing changes.
    code, err = run(capsys, res, "--queue-url", res.dlq_url + "-nope", "--table", res.table)
    assert code == 2 and "nothing was changed" in err
    assert "AccessDenied" in err and "sqs:GetQueueAttributes" in err
    with pytest.raises(dlq_triage.TriageError, match=r"NonExistentQueue|QueueDoesNotExist"):
        dlq_triage.triage(res.dlq_url + "-nope", res.table)
    code, err = run(capsys, res, "--queue-url", res.dlq_url, "--table", "no-such-table", "--redrive")
    assert code == 2 and "AccessDenied" in err and "dynamodb:DescribeTable" in err and "nothing was changed" in err
    with pytest.raises(dlq_triage.TriageError, match="ResourceNotFoundException"):
        dlq_triage.triage(res.dlq_url, "no-such-table", redrive=True)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    code, err = run(capsys, res, "--queue-url", res.dlq_url, "--table", res.table, "--archive-invalid", str(not_a_dir))
    assert code == 2 and "--archive-invalid" in err and "nothing was changed" in err
    code, err = run(
        capsys, res, "--queue-url", res.dlq_url, "--table", res.table, "--archive-invalid", "s3://no-such-bkt/x"
    )
    assert code == 2 and "nothing was changed" in err
    assert queue_counts(res.dlq_url) == (2, 0)


def invalid_body(n: int, group: str) -> str:
    """An order whose Total does not add up: never valid, whatever the retries."""
    return json.dumps(json.loads(order_body(f"invalid-{n}", group, n)) | {"Total": "0.01"})


def test_after_killed_workers_triage_at_once_archives_the_invalid_and_stores_every_valid_order_once(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = stack(emulator, "triagekill")
    # The morning after: groups whose head in the DLQ is an invalid message, valid orders behind it. The
    # receives went to long polls of workers that died (counted by SQS, never seen by anyone).
    heads = {"cust-000": "ivv", "cust-001": "viv", "cust-002": "iiv"}
    doomed: list[Sent] = []
    for group, shape in heads.items():
        for k, kind in enumerate(shape):
            n = len(doomed)
            body = invalid_body(n, group) if kind == "i" else order_body(f"doomed-{n:03d}", group, n)
            doomed.append(Sent(group, "" if kind == "i" else f"doomed-{n:03d}", body, f"doomed-{group}-{k}"))
    dead_letter(res.queue_url, doomed)
    # Then 400 orders over 40 customers, one in 50 invalid (in those same groups), through two workers of
    # which one is SIGKILLed every ~2 s and replaced; killed long polls and invalid orders reach the DLQ.
    sent = plan_orders(400, 40, prefix="kill")
    sent = [Sent(s.group, "", invalid_body(1000 + i, s.group), s.dedup_id) if i % 50 == 7 else s for i, s in enumerate(sent)]  # fmt: skip
    send(res.queue_url, sent)
    env = res.worker_env(emulator, ORDERS_VISIBILITY_SECONDS="4")
    workers = [start_worker(env, tmp_path / f"w{i}.log", *FAST) for i in range(2)]
    kills = 0
    deadline = time.monotonic() + 60
    while kills < 6 and time.monotonic() < deadline:
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
    everything = [*doomed, *sent]
    valid = {s.order_id for s in everything if s.order_id}
    invalid = sorted(s.body for s in everything if not s.order_id)

    # at once, as the docs prescribe plus --archive-invalid: no 5-minute wait
    archive = tmp_path / "archive"
    where = ("--queue-url", res.dlq_url, "--table", res.table, "--bucket", res.bucket)
    flags = ("--source-queue-url", res.queue_url, "--drop-stored", "--write-missing-invoices", "--redrive")
    code, report = run(capsys, res, *where, *flags, "--archive-invalid", str(archive))
    assert code == 0, report
    assert report["counts"]["invalid"] == len(invalid)
    redriven = {i["order_id"] for i in report["items"] if i["action"] == "redriven"}
    assert redriven >= {s.order_id for s in doomed if s.order_id}  # the ones behind invalid heads, too
    assert set(report["actions"]) <= {"archived", "redriven", "dropped", "invoice written, dropped"}, report["actions"]
    assert report["not_reached"] == 0 and queue_counts(res.dlq_url) == (0, 0)
    code, again = run(capsys, res, *where, *flags, "--archive-invalid", str(archive))
    assert code == 0 and again["held_before"] == 0 and again["items"] == []

    final = start_worker(res.worker_env(emulator, ORDERS_IDLE_EXIT_SECONDS="3"), tmp_path / "final.log", *FAST)
    assert final.wait(60) == 0
    ids = Counter(item["OrderID"] for item in scan(res.table))
    assert ids == Counter({oid: 1 for oid in valid})  # every valid order, exactly once
    assert queue_counts(res.queue_url) == (0, 0) and queue_counts(res.dlq_url) == (0, 0)
    assert sorted(json.loads(f.read_text())["body"] for f in archive.glob("*.json")) == invalid  # exactly those
    versions: Counter[str] = Counter()
    for page in boto3.client("s3").get_paginator("list_object_versions").paginate(Bucket=res.bucket):
        versions.update(v["Key"] for v in page.get("Versions", []))
    assert versions == Counter({f"invoices/{oid}.json": 1 for oid in ids})  # one invoice each, never rewritten
