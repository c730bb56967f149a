"""The order table: one DynamoDB item per order, keyed by `OrderID`.

On-demand billing absorbs a Black Friday spike without capacity planning; point-in-time recovery and
encryption are on because this table is the system of record for processed orders. (The runtime's
`OrderWriter` in worker/fifo/order_writer.py is what writes to it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.monitoring import AlarmSpec, metric_widget
from worker import topology


@dataclass(frozen=True, kw_only=True)
class OrderTableArgs:
    ctx: AwsContext
    deletion_protection: bool
    """DynamoDB deletion protection and Pulumi's `protect`: `pulumi destroy` and replacements stop at the table."""


class OrderTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    table_name: str
    table_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OrderTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:data:OrderStore", name, None, opts)  # type token kept: it is part of every URN
        ctx = args.ctx
        self.table_name = ctx.name(topology.ORDER_TABLE, kind="dynamodb")
        self.table_arn = ctx.arn("dynamodb", f"table/{self.table_name}")
        self.table = aws.dynamodb.Table(
            topology.ORDER_TABLE,
            name=self.table_name,
            hash_key=topology.TABLE_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=topology.TABLE_KEY, type="S")],
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            opts=ctx.opts(self, protect=args.deletion_protection),
        )
        self.alarms = [
            AlarmSpec(
                name="order-table-throttles",
                description=f"{self.table_name} throttled requests: on-demand capacity is ramping or a hot key exists.",
                namespace="AWS/DynamoDB",
                metric="ThrottledRequests",
                dimensions={"TableName": self.table_name},
                threshold=0,
                statistic="Sum",
            )
        ]
        self.widgets = [
            metric_widget(
                "Order table",
                ctx.region,
                [
                    ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", self.table_name],
                    ["AWS/DynamoDB", "ThrottledRequests", "TableName", self.table_name],
                    ["AWS/DynamoDB", "SystemErrors", "TableName", self.table_name],
                ],
                stat="Sum",
            )
        ]
        self.register_outputs({"tableName": self.table_name, "tableArn": self.table_arn})
