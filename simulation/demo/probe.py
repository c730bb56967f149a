"""Progress read from the stores and queues themselves, a sample a second."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import ClientError

from simulation.stack import EmulatedStack

BOTO = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=20, read_timeout=60)


@dataclass
class Sample:
    t: float
    produced: int
    processed: int
    shipped: int
    analysed: int
    dead: int
    depth: dict[str, int]


class Probe:
    """Reads progress from the stores and queues themselves, cheaply enough to run every second."""

    def __init__(self, stack: EmulatedStack) -> None:
        self.stack = stack
        self.sqs = boto3.client("sqs", config=BOTO)
        self.ddb = boto3.client("dynamodb", config=BOTO)
        self.queues = {
            "orders": stack.exports["orderQueueUrl"],
            **stack.exports["fanoutQueueUrls"],
            "orders DLQ": stack.exports["orderDlqUrl"],
            **{f"{n} DLQ": u for n, u in stack.exports["fanoutDlqUrls"].items()},
        }
        self._items = 0
        self.pg = psycopg.connect(stack.shipping_dsn, autocommit=True)
        self.wh = psycopg.connect(stack.warehouse_dsn, autocommit=True)

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def item_count(self) -> int:
        """The table's item count; if DescribeTable fails under load after botocore's retries, the last count
        stands for this sample (a progress figure: the checks read the table itself)."""
        try:
            table = self.ddb.describe_table(TableName=self.stack.exports["orderTableName"])["Table"]
            self._items = int(table["ItemCount"])
        except ClientError:
            pass
        return self._items

    def count(self, conn: psycopg.Connection[Any], sql: str) -> int:
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.errors.UndefinedTable:  # the consumer has not migrated yet
            return 0
        return int(row[0]) if row else 0

    def sample(self, t: float, produced: Callable[[], int]) -> Sample:
        depth = {name: self.depth(url) for name, url in self.queues.items()}
        processed = self.item_count()
        return Sample(
            t=t,
            produced=produced(),  # read last: the other probes take a while under load
            processed=processed,
            shipped=self.count(self.pg, "SELECT count(*) FROM shipments"),
            analysed=self.count(self.wh, "SELECT count(DISTINCT order_id) FROM sales_fact"),
            dead=sum(v for k, v in depth.items() if k.endswith("DLQ")),
            depth=depth,
        )

    def close(self) -> None:
        self.pg.close()
        self.wh.close()
