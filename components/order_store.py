"""The order store: one DynamoDB item per order, keyed by `OrderID`.

On-demand billing absorbs a Black Friday spike without capacity planning; point-in-time recovery and
encryption are on because this table is the system of record for processed orders.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from worker import topology


class OrderStore(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    table_name: str
    table_arn: pulumi.Output[str]

    def __init__(
        self, name: str, ctx: AwsContext, *, deletion_protection: bool, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("orders:data:OrderStore", name, None, opts)
        self.table_name = ctx.name(topology.ORDER_TABLE)
        self.table_arn = ctx.arn("dynamodb", f"table/{self.table_name}")
        self.table = aws.dynamodb.Table(
            topology.ORDER_TABLE,
            name=self.table_name,
            hash_key=topology.TABLE_KEY,
            attributes=[{"name": topology.TABLE_KEY, "type": "S"}],
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            deletion_protection_enabled=deletion_protection,
            opts=ctx.opts(self),
        )
        self.register_outputs({"tableName": self.table_name, "tableArn": self.table_arn})
