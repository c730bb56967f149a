"""What the run left in the stores (DynamoDB, S3, the DLQs, PostgreSQL), read back with admin credentials after every process stopped."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import psycopg

from simulation.demo.plan import Plan
from simulation.demo.probe import BOTO
from simulation.stack import EmulatedStack
from worker.model import Order, StoredOrder, order_table


def scan_table(table: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", config=BOTO)
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += page["Items"]
    return items


def drain_dlq(url: str) -> list[dict[str, Any]]:
    """Every message in a DLQ with its receive count (reading it counts one more receive).

    Each batch is deleted once read: a FIFO DLQ holds back the rest of a message group while one of its
    messages is in flight, so reading without deleting would miss a customer's second poison order.
    The run is over and its stack is thrown away next, so nothing is lost that the report does not keep.
    """
    sqs = boto3.client("sqs", config=BOTO)
    got: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not batch:
            return got
        got += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )


def invoice_versions(bucket: str, prefix: str) -> Counter[str]:
    s3 = boto3.client("s3", config=BOTO)
    versions: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            versions[v["Key"]] += 1
    return versions


@dataclass
class Sent:
    """What the producer was asked to send, as the checks compare it with what the stores hold."""

    orders: dict[str, Order]
    fifo_valid: set[str]
    s3_valid: set[str]
    fifo_bad: set[str]
    """Bodies of the malformed FIFO messages."""
    s3_bad: set[str]
    """OrderIDs of the malformed bulk-import objects."""
    index: dict[str, int]
    """OrderID -> position in the spike."""

    @staticmethod
    def of(plan: Plan) -> Sent:
        return Sent(
            orders=plan.spike.orders,
            fifo_valid=plan.valid_ids(plan.queued),
            s3_valid=plan.valid_ids(plan.s3),
            fifo_bad={m.body for m in plan.malformed(plan.queued)},
            s3_bad={m.order_id for m in plan.malformed(plan.s3)},
            index={m.order_id: m.index for m in plan.spike.messages},
        )

    @property
    def all_valid(self) -> set[str]:
        return self.fifo_valid | self.s3_valid


@dataclass
class Readback:
    """Everything the checks need, read once from the stores after the run."""

    items: list[StoredOrder]
    """The DynamoDB order table, read through the runtime's own item translation."""
    invoice_prefix: str
    invoice_versions: Counter[str]
    """S3 key -> how many versions of it were written."""
    shipments: dict[str, str]
    """OrderID -> shipment status."""
    lines: list[tuple[Any, ...]]
    """(order_id, sku, quantity, allocated) shipment lines."""
    on_hand: dict[str, int]
    shipped_at: dict[str, float]
    facts: dict[str, tuple[int, Decimal]]
    """OrderID -> (sales fact rows, their total amount)."""
    dlq: list[dict[str, Any]]
    """The FIFO DLQ's messages (drained)."""
    fanout_dead: dict[str, int]
    """Fan-out queue name -> messages in its DLQ (drained)."""
    fifo_waiting: int = 0
    """Messages still in the FIFO queue (a run stopped before it drained: they wait for a worker)."""

    @property
    def stored(self) -> Counter[str]:
        return Counter(i.order_id for i in self.items)


def read_back(stack: EmulatedStack) -> Readback:
    exports = stack.exports
    items = [order_table.from_item(i) for i in scan_table(exports["orderTableName"])]
    versions = invoice_versions(exports["invoicesBucketName"], exports["invoicePrefix"])
    with psycopg.connect(stack.shipping_dsn) as pg:
        rows = pg.execute("SELECT order_id, status, extract(epoch FROM created_at) FROM shipments").fetchall()
        lines = pg.execute("SELECT order_id, sku, quantity, allocated FROM shipment_lines").fetchall()
        on_hand: dict[str, int] = dict(pg.execute("SELECT sku, on_hand FROM inventory").fetchall())
    shipments = {order_id: status for order_id, status, _ in rows}
    shipped_at: dict[str, float] = {order_id: created for order_id, _, created in rows}
    facts = sales_facts(stack.warehouse_dsn)
    dlq = drain_dlq(exports["orderDlqUrl"])
    fanout_dead = {name: len(drain_dlq(url)) for name, url in exports["fanoutDlqUrls"].items()}
    waiting = queue_depth(exports["orderQueueUrl"])
    return Readback(
        items,
        exports["invoicePrefix"],
        versions,
        shipments,
        lines,
        on_hand,
        shipped_at,
        facts,
        dlq,
        fanout_dead,
        waiting,
    )


def queue_depth(url: str) -> int:
    """Visible + in-flight messages of a queue (after every process stopped, in flight = about to return)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = boto3.client("sqs", config=BOTO).get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


def sales_facts(dsn: str) -> dict[str, tuple[int, Decimal]]:
    with psycopg.connect(dsn) as wh:
        try:
            facts = wh.execute("SELECT order_id, count(*), sum(amount) FROM sales_fact GROUP BY order_id").fetchall()
        except psycopg.errors.UndefinedTable:  # the analytics consumer migrates on its first message: none arrived
            facts = []
    return {r[0]: (r[1], Decimal(r[2])) for r in facts}


def worker_summaries(stack: EmulatedStack) -> dict[str, int]:
    """Sum of the FIFO workers' own exit counters (their "worker stopped" log line)."""
    total: Counter[str] = Counter()
    for path in sorted(stack.log_dir.glob("worker-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"worker stopped"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    total.update(json.loads(line)["summary"]["counters"])
    return dict(total)
