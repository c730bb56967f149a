"""The customer-managed KMS key that encrypts the SNS topics.

An SNS topic encrypted with the AWS-managed `alias/aws/sns` key silently drops events from S3 and
CloudWatch, because an AWS-managed key policy cannot grant those service principals. This key grants
exactly the services that publish to our topics, scoped to this account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext


def key_policy(partition: str, account_id: str, publishers: Sequence[str], source_arns: Sequence[str] = ()) -> str:
    """Key policy: the account administers the key; each publishing service may encrypt for SNS.

    The services act for this account only (`aws:SourceAccount`); with `source_arns`, also only for
    resources matching one of those ARN patterns (`aws:SourceArn`, e.g. this account's alarms in one region).
    """
    condition: dict[str, dict[str, str | list[str]]] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arns:
        condition["ArnLike"] = {"aws:SourceArn": list(source_arns)}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "ServicesPublishToEncryptedTopics",
                    "Effect": "Allow",
                    "Principal": {"Service": sorted(publishers)},
                    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "Resource": "*",
                    "Condition": condition,
                },
            ],
        }
    )


@dataclass(frozen=True, kw_only=True)
class MessagingKeyArgs:
    ctx: AwsContext
    publishers: Sequence[str] = ("s3.amazonaws.com", "cloudwatch.amazonaws.com")
    source_arns: Sequence[pulumi.Input[str]] = ()
    """ARN patterns the publishers must act for (`aws:SourceArn`); empty: any resource of this account."""
    purpose: str = "SNS topics published to by S3 and CloudWatch"
    """The key's description, after `<project>-<stack>: `."""


class MessagingKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: MessagingKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:messaging:MessagingKey", name, None, opts)
        ctx, publishers = args.ctx, args.publishers
        self.key = aws.kms.Key(
            name,
            description=f"{ctx.project}-{ctx.stack}: {args.purpose}",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=pulumi.Output.all(ctx.partition, ctx.account_id, *args.source_arns).apply(
                lambda values: key_policy(values[0], values[1], publishers, values[2:])
            ),
            opts=ctx.opts(self),
        )
        aws.kms.Alias(
            name, name=f"alias/{ctx.name(name, kind='kms-alias')}", target_key_id=self.key.key_id, opts=ctx.opts(self)
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
