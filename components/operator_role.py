"""The DLQ operator's role: what `python -m ops dlq-triage` needs on the order DLQ, and nothing more.

docs/operations.md tells whoever answers a DLQ alarm to assume this role (`dlqOperatorRoleArn`) and run the
triage. It trusts the account (`arn:<partition>:iam::<account>:root`): a person or pipeline of the account
may assume it when its own IAM policy allows `sts:AssumeRole` on it, which is how an administrator hands the
runbook to on-call without handing out more.

What the triage does, and so what the role allows: read, hide again and delete messages of the order DLQ
(and find its source queue); send a redrive to the order queue; read the order table to tell stored from
not stored; read invoices and write a missing one under the invoice prefix; write the archive of invalid
messages under `dlq-archive/` of the same private bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.aws_context import AwsContext
from components.iam import policy_document, role_with_policy, statement

ARCHIVE_PREFIX = "dlq-archive/"
"""Where `ops dlq-triage --archive-invalid s3://<invoices bucket>/dlq-archive/...` may write."""


@dataclass
class DlqOperatorArgs:
    ctx: AwsContext
    queue_arn: pulumi.Input[str]
    """The FIFO order queue (the redrive's target)."""
    dlq_arn: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    invoices_bucket_arn: pulumi.Input[str]
    invoice_prefix: str


def operator_policy(
    *, queue_arn: str, dlq_arn: str, table_arn: str, invoices_bucket_arn: str, invoice_prefix: str
) -> str:
    return policy_document(
        [
            statement(
                "TriageTheOrderDlq",
                [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                    "sqs:ListDeadLetterSourceQueues",
                ],
                [dlq_arn],
            ),
            statement("RedriveToTheOrderQueue", ["sqs:SendMessage", "sqs:GetQueueAttributes"], [queue_arn]),
            statement(
                "ReadTheOrderTable",
                ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
                [table_arn],
            ),
            statement("FindTheBucket", ["s3:ListBucket"], [invoices_bucket_arn]),
            statement(
                "ReadAndRestoreInvoices", ["s3:GetObject", "s3:PutObject"], [f"{invoices_bucket_arn}/{invoice_prefix}*"]
            ),
            statement("ArchiveInvalidMessages", ["s3:PutObject"], [f"{invoices_bucket_arn}/{ARCHIVE_PREFIX}*"]),
        ]
    )


class DlqOperator(pulumi.ComponentResource):
    """The role `docs/operations.md` tells an operator to assume for `python -m ops dlq-triage`."""

    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DlqOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:operations:DlqOperator", name, None, opts)
        ctx = args.ctx
        trust = ctx.arn("iam", "root", regional=False).apply(
            lambda root: policy_document(
                [
                    {
                        "Sid": "PrincipalsOfThisAccountWhosePolicyAllows",
                        "Effect": "Allow",
                        "Principal": {"AWS": root},
                        "Action": "sts:AssumeRole",
                    }
                ]
            )
        )
        policy = pulumi.Output.all(args.queue_arn, args.dlq_arn, args.table_arn, args.invoices_bucket_arn).apply(
            lambda v: operator_policy(
                queue_arn=v[0],
                dlq_arn=v[1],
                table_arn=v[2],
                invoices_bucket_arn=v[3],
                invoice_prefix=args.invoice_prefix,
            )
        )
        made = role_with_policy(
            name,
            ctx,
            self,
            role_name=ctx.name(name, kind="iam-role"),
            trust=trust,
            policy=policy,
            description="On-call: python -m ops dlq-triage on the order DLQ (docs/operations.md)",
        )
        self.role_arn = made.role.arn
        self.register_outputs({"roleArn": self.role_arn})
