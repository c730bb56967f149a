"""The fan-out poller (`python -m worker consume`) as its own loop: the shared Powertools batch step,
partial deletes, the DLQ after 3 receives, and a failing ReceiveMessage that is backed off, not fatal.

Queues run on the emulator; the consumer is a real `Consumer` over the emulator's S3 whose `apply`
records what it saw (no database), so these tests are about the loop. Where an error must be
injected the SQS client is a botocore Stubber.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from simulation.emulator import Emulator
from worker import topology
from worker.backoff import RECEIVE, Backoff
from worker.consumers.batch import lambda_record, queue_arn
from worker.consumers.cli import poll
from worker.consumers.processing import Consumer
from worker.model import Invoice, Order, OrderItem

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
TEST_EVENT = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})


def invoice(order_id: str) -> Invoice:
    at = datetime(2026, 11, 27, 8, 15, tzinfo=UTC)
    item = OrderItem(SKU="SKU-00001", Quantity=1, UnitPrice=Decimal("1.00"))
    order = Order(OrderID=order_id, CustomerID="C-1", Items=[item], Total=item.amount, Currency="USD", CreatedAt=at)
    return Invoice(Order=order, ProcessedAt=at, SequenceNumber="1", Region=REGION)


def s3_event(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
                }
            ]
        }
    )


class Recorder:
    """A consumer whose `apply` fails for keys containing 'bad' and records every order it applied."""

    def __init__(self, s3: Any) -> None:
        self.applied: list[str] = []
        self.consumer = Consumer("shipping", self.apply, s3, REGION)

    def apply(self, invoice: Invoice, key: str) -> str:
        if "bad" in key:
            raise RuntimeError(f"refused {key}")
        self.applied.append(invoice.Order.OrderID)
        return "ready"


@pytest.fixture()
def queues(emulator: Emulator) -> tuple[Any, str, str]:
    """A fresh queue whose DLQ takes a message after `topology.MAX_RECEIVE_COUNT` receives."""
    sqs = boto3.client("sqs", region_name=REGION)
    run = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"poller-{run}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(topology.MAX_RECEIVE_COUNT)}
    queue = sqs.create_queue(
        QueueName=f"poller-{run}", Attributes={"VisibilityTimeout": "30", "RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    return sqs, queue, dlq


@pytest.fixture()
def recorder(emulator: Emulator) -> tuple[Recorder, str]:
    """The recording consumer and a bucket holding the invoices of orders P-1..P-3 plus 'bad' ones."""
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"poller-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for name in ("P-1", "P-2", "P-3", "bad-1"):
        s3.put_object(Bucket=bucket, Key=f"invoices/{name}.json", Body=invoice(name).to_json())
    return Recorder(s3), bucket


def failures(caplog: pytest.LogCaptureFixture) -> Counter[str]:
    found = (re.search(r"message (\S+) failed", r.getMessage()) for r in caplog.records)
    return Counter(m.group(1) for m in found if m)


def test_a_failing_record_stays_on_the_queue_and_the_good_ones_are_deleted(
    queues: tuple[Any, str, str], recorder: tuple[Recorder, str], caplog: pytest.LogCaptureFixture
) -> None:
    sqs, queue, _ = queues
    rec, bucket = recorder
    for name in ("P-1", "bad-1", "P-2"):
        sqs.send_message(QueueUrl=queue, MessageBody=s3_event(bucket, f"invoices/{name}.json"))
    with caplog.at_level(logging.WARNING, logger="worker.consumers.poller"):
        stats = poll(rec.consumer, queue, wait_seconds=0, retry_delay=0, max_messages=3, idle_exit=0, sqs=sqs)
    assert (stats.received, stats.succeeded, stats.failed, stats.outcomes) == (3, 2, 1, {"ready": 2})
    assert sorted(rec.applied) == ["P-1", "P-2"]
    [bad_id] = failures(caplog)
    assert "receive 1 of 3" in caplog.text and "unexpected RuntimeError: refused invoices/bad-1.json" in caplog.text
    # Only the failed message is left, visible again at once (retry_delay=0) and on its second receive.
    again = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    assert [(m["MessageId"], m["Attributes"]["ApproximateReceiveCount"]) for m in again["Messages"]] == [(bad_id, "2")]


def test_a_malformed_message_reaches_the_dlq_after_three_receives(
    queues: tuple[Any, str, str], recorder: tuple[Recorder, str], caplog: pytest.LogCaptureFixture
) -> None:
    sqs, queue, dlq = queues
    rec, bucket = recorder
    malformed = sqs.send_message(QueueUrl=queue, MessageBody="{not json")["MessageId"]
    sqs.send_message(QueueUrl=queue, MessageBody=s3_event(bucket, "invoices/P-3.json"))
    sqs.send_message(QueueUrl=queue, MessageBody=TEST_EVENT)  # S3's test event: a success with no outcome
    with caplog.at_level(logging.WARNING, logger="worker.consumers.poller"):
        stats = poll(rec.consumer, queue, wait_seconds=0, retry_delay=0, idle_exit=0.5, sqs=sqs)
    assert (stats.succeeded, stats.failed, stats.outcomes) == (2, 3, {"ready": 1})
    assert rec.applied == ["P-3"]
    assert failures(caplog) == {malformed: topology.MAX_RECEIVE_COUNT}
    assert "not an S3 event: message body is not JSON" in caplog.text
    for n in range(1, topology.MAX_RECEIVE_COUNT + 1):
        assert f"receive {n} of 3" in caplog.text
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(malformed, "{not json")]
    assert sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []) == []


def stubbed_sqs() -> tuple[Any, Stubber]:
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return sqs, Stubber(sqs)


def message(mid: str, body: str) -> dict[str, Any]:
    return {
        "MessageId": mid,
        "ReceiptHandle": f"rh-{mid}",
        "MD5OfBody": "0" * 32,
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764547200000"},
        "MessageAttributes": {"trace": {"StringValue": "t-1", "DataType": "String"}},
    }


def test_a_receive_error_is_backed_off_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    sqs, stub = stubbed_sqs()
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-test-shipping"
    consumer = Consumer("shipping", lambda invoice, key: "ready", s3=None, region=REGION)
    receive = {
        "QueueUrl": url,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 0,
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    stub.add_client_error("receive_message", "ServiceUnavailable", "try later", 503, expected_params=receive)
    stub.add_client_error("receive_message", "RequestThrottled", "slow down", 403, expected_params=receive)
    stub.add_response("receive_message", {"Messages": [message("ok", TEST_EVENT), message("poison", "[1]")]}, receive)
    # Exactly the successful message is deleted; the poison one is left for the queue's visibility timeout.
    deleted = {"QueueUrl": url, "Entries": [{"Id": "0", "ReceiptHandle": "rh-ok"}]}
    stub.add_response("delete_message_batch", {"Successful": [{"Id": "0"}], "Failed": []}, deleted)
    stub.add_client_error("receive_message", "InternalError", "oops", 500, expected_params=receive)
    stub.add_response("receive_message", {}, receive)
    draws: list[float] = []

    def draw() -> float:
        draws.append(0.001)
        return 0.001

    backoff = Backoff(RECEIVE, draw=draw)
    with stub, caplog.at_level(logging.WARNING, logger="worker.consumers.poller"):
        stats = poll(consumer, url, wait_seconds=0, idle_exit=0, sqs=sqs, backoff=backoff)
        stub.assert_no_pending_responses()
    assert (stats.received, stats.succeeded, stats.failed) == (2, 1, 1)
    retries = [r.getMessage() for r in caplog.records if "receive failed" in r.getMessage()]
    # Two failures in a row, then a success resets the count: the third failure starts small again.
    assert [re.search(r"\((\d+) in a row\), retrying in ([\d.]+) s", m).groups() for m in retries] == [  # type: ignore[union-attr]
        ("1", f"{RECEIVE.ceiling(1) * 0.001:.2f}"),
        ("2", f"{RECEIVE.ceiling(2) * 0.001:.2f}"),
        ("1", f"{RECEIVE.ceiling(1) * 0.001:.2f}"),
    ]
    assert "ServiceUnavailable" in retries[0] and "RequestThrottled" in retries[1]
    assert len(draws) == 3 and backoff.attempts == 0


def test_a_denied_delete_is_logged_and_the_poller_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """A delete the role may not make (or that fails) leaves the processed messages to come back after the
    visibility timeout, where the idempotent consumer recognises them: logged, never a crash."""
    sqs, stub = stubbed_sqs()
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-test-shipping"
    consumer = Consumer("shipping", lambda invoice, key: "ready", s3=None, region=REGION)
    stub.add_response("receive_message", {"Messages": [message("ok", TEST_EVENT)]})
    denial = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: sqs:DeleteMessage"
    stub.add_client_error("delete_message_batch", "AccessDenied", denial, 403)
    stub.add_response("receive_message", {})
    with stub, caplog.at_level(logging.ERROR, logger="worker.consumers.poller"):
        stats = poll(consumer, url, wait_seconds=0, idle_exit=0, sqs=sqs)
        stub.assert_no_pending_responses()
    assert (stats.received, stats.succeeded, stats.failed) == (1, 0, 0)
    assert any("delete of 1 processed messages failed" in r.getMessage() for r in caplog.records)


def test_messages_become_lambda_sqs_records() -> None:
    arn = queue_arn("https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dev-shipping", "eu-west-1")
    assert arn == "arn:aws:sqs:eu-west-1:123456789012:orders-dev-shipping"
    m = message("m-1", "{}")
    m["Attributes"]["ApproximateReceiveCount"] = 2  # type: ignore[index]
    m["MessageAttributes"]["blob"] = {"BinaryValue": b"\x00\x01", "DataType": "Binary"}
    record = lambda_record(m, arn, "eu-west-1")
    assert record["messageId"] == "m-1" and record["receiptHandle"] == "rh-m-1" and record["body"] == "{}"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["messageAttributes"]["trace"]["stringValue"] == "t-1"
    assert record["messageAttributes"]["blob"] == {
        "stringValue": None,
        "binaryValue": "AAE=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", arn, "eu-west-1")


def test_the_consumer_image_copies_every_worker_module_the_consumers_import() -> None:
    """worker/consumers/Dockerfile copies single files of worker/: each module the commands import must be one."""
    code = (
        "import sys, worker.__main__, worker.consumers.cli, worker.consumers.cli_seed, worker.consumers.cli_report, "
        "worker.consumers.lambda_handlers\n"
        "for name, module in list(sys.modules.items()):\n"
        "    if name.split('.')[0] in {'worker', 'pydantic_settings'}: print(module.__file__)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    copied = []
    for line in (ROOT / "worker/consumers/Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "requirements" not in line:
            copied += line.split()[1:-1]
    assert "pydantic_settings" not in loaded.stdout, "the consumers do not need the FIFO worker's settings"
    files = sorted(Path(f).relative_to(ROOT).as_posix() for f in loaded.stdout.split())
    assert "worker/backoff.py" in files and "worker/consumers/batch.py" in files
    for file in files:
        assert any(file == c or file.startswith(c + "/") for c in copied), f"{file} is not in the image"
