"""Order events fan-out: invoices bucket -> SNS topic -> one SQS queue (with DLQ) per consumer.

S3 cannot notify a FIFO queue or topic, so this half of the system is standard SNS/SQS; the FIFO
worker is what writes the invoices that start it. Every access policy names its one allowed source
(bucket ARN + account for the topic, topic ARN for each queue), built from derived ARNs so the
policies are known values during preview.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.iam import service_resource_policy
from components.private_bucket import private_bucket
from components.queue import QueueArgs, QueueWithDlq
from worker import topology


def topic_policy(topic_arn: str, bucket_arn: str, account_id: str) -> str:
    """Only this bucket, in this account, may publish to the order-events topic."""
    return service_resource_policy(
        "InvoicesBucketPublishes",
        "s3.amazonaws.com",
        "sns:Publish",
        topic_arn,
        source_arn=bucket_arn,
        account_id=account_id,
    )


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    """Only the order-events topic may send to a fan-out queue."""
    return service_resource_policy(
        "OrderEventsTopicSends", "sns.amazonaws.com", "sqs:SendMessage", queue_arn, source_arn=topic_arn
    )


@dataclass(frozen=True, kw_only=True)
class FanoutArgs:
    ctx: AwsContext
    visibility_timeout_seconds: int
    retention_seconds: int
    kms_key_arn: pulumi.Input[str]
    queue_names: Sequence[str] = field(default_factory=lambda: topology.FANOUT_QUEUES)
    """One queue per fan-out consumer (worker/topology.py's registry), by the consumer's name."""
    force_destroy_bucket: bool = True
    """Let `pulumi destroy` empty the invoices bucket; off (and `protect_bucket` on) where invoices must survive."""
    protect_bucket: bool = False
    alarm_age_seconds: int = 300
    alarm_depth: int = 5000


class OrderEventsFanout(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    topic: aws.sns.Topic
    topic_arn: pulumi.Output[str]
    queues: dict[str, QueueWithDlq]
    _subscriptions: list[pulumi.Resource]
    """Every queue's topic subscription: the bucket notification waits for all of them."""

    def __init__(self, name: str, args: FanoutArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:messaging:OrderEventsFanout", name, None, opts)
        ctx = self._ctx = args.ctx
        # Bucket names are global: account and region make the deterministic name unique.
        self.bucket_name = ctx.account_id.apply(
            lambda account: ctx.name(topology.INVOICES_BUCKET, account, ctx.region, kind="s3")
        )
        self.bucket_arn = pulumi.Output.all(ctx.partition, self.bucket_name).apply(
            lambda pb: f"arn:{pb[0]}:s3:::{pb[1]}"
        )
        topic_name = ctx.name(topology.ORDER_EVENTS_TOPIC, kind="sns")
        self.topic_arn = ctx.arn("sns", topic_name)

        self.bucket = private_bucket(
            topology.INVOICES_BUCKET,
            bucket_name=self.bucket_name,
            bucket_arn=self.bucket_arn,
            ctx=ctx,
            parent=self,
            force_destroy=args.force_destroy_bucket,
            versioned=True,
            protect=args.protect_bucket,
        ).bucket
        policy = self._topic(topic_name, args.kms_key_arn)
        self._subscriptions = []
        self.queues = {queue_name: self._queue(queue_name, args) for queue_name in args.queue_names}
        self._notify_topic(depends_on=[policy, *self._subscriptions])

        self.queue_refs = {n: q.ref for n, q in self.queues.items()}
        self.alarms = [alarm for q in self.queues.values() for alarm in q.alarms]
        self.widgets = [widget for q in self.queues.values() for widget in q.widgets]
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "topicArn": self.topic_arn,
                "queues": {n: q.url for n, q in self.queues.items()},
            }
        )

    def _topic(self, topic_name: str, kms_key_arn: pulumi.Input[str]) -> aws.sns.TopicPolicy:
        """The order-events topic and its policy (only the invoices bucket publishes); returns the policy."""
        ctx = self._ctx
        self.topic = aws.sns.Topic(
            topology.ORDER_EVENTS_TOPIC, name=topic_name, kms_master_key_id=kms_key_arn, opts=ctx.opts(self)
        )
        return aws.sns.TopicPolicy(
            topology.ORDER_EVENTS_TOPIC,
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic_arn, self.bucket_arn, ctx.account_id).apply(lambda t: topic_policy(*t)),
            opts=ctx.opts(self),
        )

    def _queue(self, queue_name: str, args: FanoutArgs) -> QueueWithDlq:
        """One consumer's queue (with DLQ), its policy (only the topic sends) and its subscription to the topic."""
        ctx = self._ctx
        queue = QueueWithDlq(
            queue_name,
            QueueArgs(
                ctx=ctx,
                visibility_timeout_seconds=args.visibility_timeout_seconds,
                retention_seconds=args.retention_seconds,
                alarm_age_seconds=args.alarm_age_seconds,
                alarm_depth=args.alarm_depth,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        access = aws.sqs.QueuePolicy(
            queue_name,
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, self.topic_arn).apply(lambda qt: queue_policy(*qt)),
            opts=ctx.opts(self),
        )
        self._subscriptions.append(
            aws.sns.TopicSubscription(
                queue_name,
                topic=self.topic.arn,
                protocol="sqs",
                endpoint=queue.queue.arn,
                raw_message_delivery=True,
                opts=ctx.opts(self, depends_on=[access]),
            )
        )
        return queue

    def _notify_topic(self, depends_on: list[pulumi.Resource]) -> None:
        """New invoices (under the invoice prefix) are published to the topic."""
        aws.s3.BucketNotification(
            topology.INVOICES_BUCKET,
            bucket=self.bucket.id,
            topics=[
                aws.s3.BucketNotificationTopicArgs(
                    topic_arn=self.topic.arn, events=["s3:ObjectCreated:*"], filter_prefix=topology.INVOICE_PREFIX
                )
            ],
            # S3 tests the destination when the notification is set: the topic policy must exist first.
            # Events start flowing only once every subscriber is wired, so none is published to a
            # topic that has no subscriptions yet (lost) during the first deployment.
            opts=self._ctx.opts(self, depends_on=depends_on),
        )
