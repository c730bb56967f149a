"""Helpers for the FIFO worker tests: emulated resources, orders, worker processes, checks from the table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from simulation.emulator import Emulator
from worker import topology

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Resources:
    queue_url: str
    dlq_url: str
    table: str
    bucket: str

    def worker_env(self, emulator: Emulator, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERS_")}
        env.update(emulator.env())
        env.update(
            ORDERS_QUEUE_URL=self.queue_url,
            ORDERS_TABLE=self.table,
            ORDERS_BUCKET=self.bucket,
            ORDERS_IMDS_URL="",
            ORDERS_METRICS_INTERVAL="5",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


def provision(visibility: int = 60, *, versioned_bucket: bool = False) -> Resources:
    """A FIFO queue with its FIFO DLQ (redrive after MAX_RECEIVE_COUNT), the order table and the invoice bucket.

    Names follow topology.physical_name with a unique stack, so tests sharing one emulator never collide.
    """
    stack = "t" + uuid.uuid4().hex[:8]
    sqs, ddb, s3 = boto3.client("sqs"), boto3.client("dynamodb"), boto3.client("s3")
    dlq_name = topology.dlq_name("orders", stack, topology.ORDER_QUEUE, fifo=True)
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=topology.physical_name("orders", stack, topology.ORDER_QUEUE, fifo=True),
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": topology.MAX_RECEIVE_COUNT}
            ),
        },
    )["QueueUrl"]
    table = topology.physical_name("orders", stack, topology.ORDER_TABLE)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": topology.TABLE_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": topology.TABLE_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bucket = topology.physical_name("orders", stack, topology.INVOICES_BUCKET)
    s3.create_bucket(Bucket=bucket)
    if versioned_bucket:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return Resources(queue_url, dlq_url, table, bucket)


def order_body(order_id: str, customer: str, n: int = 1) -> str:
    price = Decimal("9.99")
    return json.dumps(
        {
            "OrderID": order_id,
            "CustomerID": customer,
            "Items": [{"SKU": f"SKU-{n % 7}", "Quantity": n % 3 + 1, "UnitPrice": str(price)}],
            "Total": str(price * (n % 3 + 1)),
            "Currency": "USD",
            "CreatedAt": "2026-11-27T08:00:00Z",
        }
    )


@dataclass(frozen=True)
class Sent:
    group: str
    order_id: str
    body: str
    dedup_id: str


def plan_orders(count: int, groups: int, prefix: str = "o") -> list[Sent]:
    """Orders round-robin over `groups` customers (one message group per customer), in send order."""
    out = []
    for i in range(count):
        group = f"cust-{i % groups:03d}"
        oid = f"{prefix}-{i:06d}"
        out.append(Sent(group, oid, order_body(oid, group, i), oid))
    return out


def send(queue_url: str, messages: Iterable[Sent], sqs: Any = None) -> None:
    sqs = sqs or boto3.client("sqs")
    batch: list[Sent] = []
    for m in [*messages, None]:
        if m is not None:
            batch.append(m)
        if batch and (m is None or len(batch) == 10):
            resp = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": s.body,
                        "MessageGroupId": s.group,
                        "MessageDeduplicationId": s.dedup_id,
                    }
                    for i, s in enumerate(batch)
                ],
            )
            assert not resp.get("Failed"), resp["Failed"]
            batch = []


def start_worker(env: dict[str, str], log_path: Path, *args: str) -> subprocess.Popen[bytes]:
    out = log_path.open("ab")
    return subprocess.Popen([sys.executable, "-m", "worker", "run", *args], cwd=ROOT, env=env, stdout=out, stderr=out)


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def summary(path: Path) -> dict[str, Any]:
    stopped = [entry for entry in log_lines(path) if entry.get("message") == "worker stopped"]
    assert stopped, f"no summary in {path}:\n{path.read_text()[-3000:]}"
    return dict(stopped[-1]["summary"])


def scan(table: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        items.extend({k: next(iter(v.values())) for k, v in item.items()} for item in page["Items"])
    return items


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def assert_exactly_once_in_order(table: str, sent: list[Sent]) -> list[dict[str, Any]]:
    """Every sent order stored once; within each group, processing order (ProcessedAt) equals send order,
    and the stored SequenceNumbers grow in that order (checkable from the table alone)."""
    items = scan(table)
    ids = [i[topology.TABLE_KEY] for i in items]
    expected = {s.order_id for s in sent}
    assert len(ids) == len(set(ids)) == len(expected), (len(ids), len(set(ids)), len(expected))
    assert set(ids) == expected
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        by_group[item["MessageGroupId"]].append(item)
    want: dict[str, list[str]] = defaultdict(list)
    for s in sent:
        want[s.group].append(s.order_id)
    for group, group_items in by_group.items():
        group_items.sort(key=lambda i: i["ProcessedAt"])
        got = [i[topology.TABLE_KEY] for i in group_items]
        assert got == want[group], f"group {group} out of order: " + ", ".join(
            f"{i[topology.TABLE_KEY]}@{i['ProcessedAt'][11:]}"
            for i in group_items
            if got.index(i[topology.TABLE_KEY]) != want[group].index(i[topology.TABLE_KEY])
        )
        seqs = [int(i["SequenceNumber"]) for i in group_items]
        assert seqs == sorted(seqs), f"group {group}: SequenceNumbers not increasing in processing order"
    return items


def invoice_count(bucket: str, prefix: str = topology.INVOICE_PREFIX) -> int:
    s3 = boto3.client("s3")
    return sum(
        page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )


def queue_counts(queue_url: str) -> tuple[int, int]:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])
