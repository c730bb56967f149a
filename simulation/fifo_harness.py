"""Drive the FIFO worker against the emulator: its resources provisioned from the Pulumi program, orders
planned and sent as producers send them, and the exactly-once / per-group order check read from the table.

Used by the FIFO tests (`tests/test_fifo_*.py`) and the worker benchmark (`python -m bench.worker`).
The queue, its DLQ, the table and the invoice bucket are the program's own (`offline/provision/`, as the
demo provisions them), under a fresh stack name each time, so several runs share one emulator. A worker
started with `Resources.worker_env` runs as the stack's instance role (simulation/roles.py), as on AWS.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from offline.provision.provisioner import Provisioned
from offline.provision.provisioner import provision as provision_from_program
from simulation.emulator import DEFAULT_REGION, Emulator
from simulation.roles import ROLE_OF_WORKER, RoleProfiles, without_credentials
from worker import topology

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Resources:
    queue_url: str
    dlq_url: str
    table: str
    bucket: str
    roles: RoleProfiles

    def worker_env(
        self, emulator: Emulator, *, process: str = "fifo-worker", as_role: bool = True, **extra: str
    ) -> dict[str, str]:
        """A FIFO worker's environment: the emulator, and the instance role's profile (no key of its own);
        `as_role=False`: the emulator's root key instead (only where the emulator cannot keep a session)."""
        inherit = {k: v for k, v in os.environ.items() if not k.startswith("ORDERS_")}
        if as_role:
            env = self.roles.child_env(process, ROLE_OF_WORKER, inherit=inherit, endpoint=emulator.env())
        else:
            env = {**without_credentials(inherit), **emulator.env()}
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


def resources_of(provisioned: Provisioned, region: str) -> Resources:
    """A provisioned stack's FIFO resources, and the profiles its processes assume their roles with."""
    exports, launcher = provisioned.exports, provisioned.launcher_credentials
    assert launcher is not None, "the provisioner creates the local launcher with the roles"
    roles = RoleProfiles.write(
        Path(tempfile.mkdtemp(prefix="orders-aws-")),
        launcher.access_key_id,
        launcher.secret_access_key,
        provisioned.role_arns,
        region,
    )
    return Resources(
        queue_url=exports["orderQueueUrl"],
        dlq_url=exports["orderDlqUrl"],
        table=exports["orderTableName"],
        bucket=exports["invoicesBucketName"],
        roles=roles,
    )


def provision(
    visibility: int = 60, *, versioned_bucket: bool = True, fan_out: bool = True, receive_wait_seconds: int = 0
) -> Resources:
    """The program's FIFO order queue (visibility `visibility` s, via `orders:orderQueueVisibilitySeconds`)
    with its FIFO DLQ, the order table and the invoice bucket, in the emulator that AWS_ENDPOINT_URL names.

    - `versioned_bucket`: the program always versions the invoice bucket; True checks it did.
    - `fan_out=False` clears the bucket's notification, so invoices start no S3 -> SNS -> SQS fan-out
      inside the emulator (it runs within each PutObject): the worker benchmark measures the worker
      with the emulator doing the same work per order as when its figures were measured.
    - `receive_wait_seconds` sets the order queue's default long-poll wait (the program's is 20 s). The
      worker always passes its own wait; a test's bare ReceiveMessage then returns at once, as before.
    """
    if not versioned_bucket:
        raise ValueError("the program's invoice bucket is always versioned")
    region = boto3.session.Session().region_name or DEFAULT_REGION
    stack = "t" + uuid.uuid4().hex[:8]
    res = resources_of(
        provision_from_program(region, stack=stack, config={"orders:orderQueueVisibilitySeconds": str(visibility)}),
        region,
    )
    sqs, s3 = boto3.client("sqs", region_name=region), boto3.client("s3", region_name=region)
    attributes = sqs.get_queue_attributes(QueueUrl=res.queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert attributes["VisibilityTimeout"] == str(visibility), attributes
    assert redrive["maxReceiveCount"] == topology.MAX_RECEIVE_COUNT and redrive["deadLetterTargetArn"].endswith(
        res.dlq_url.rsplit("/", 1)[1]
    ), redrive
    assert s3.get_bucket_versioning(Bucket=res.bucket).get("Status") == "Enabled"
    if receive_wait_seconds != int(attributes["ReceiveMessageWaitTimeSeconds"]):
        sqs.set_queue_attributes(
            QueueUrl=res.queue_url, Attributes={"ReceiveMessageWaitTimeSeconds": str(receive_wait_seconds)}
        )
    if not fan_out:
        s3.put_bucket_notification_configuration(Bucket=res.bucket, NotificationConfiguration={})
    return res


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


def scan(table: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        items.extend({k: next(iter(v.values())) for k, v in item.items()} for item in page["Items"])
    return items


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
