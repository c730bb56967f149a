"""A queue and its dead-letter queue: the only way this program creates an SQS queue.

Every queue gets a DLQ of the same kind after `MAX_RECEIVE_COUNT` (3) receives, SSE-SQS encryption and
long polling. The redrive policy is built from the DLQ's derived ARN rather than its `arn` output, so
the policy pack sees a known value during the preview of a fresh stack: an `arn` output is unknown
until the queue exists, and a policy rule cannot check a redrive target it cannot read
(docs/architecture.md, the preview trap).

The queue owns its alarms (DLQ not empty, oldest message too old, backlog too deep) and its dashboard
widget; `components/monitoring.py` creates them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.monitoring import AlarmSpec, MetricWidget, metric_widget
from worker import topology

DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: operators get two weeks to look at poison messages


@dataclass(frozen=True, kw_only=True)
class QueueArgs:
    ctx: AwsContext
    fifo: bool = False
    visibility_timeout_seconds: int = 60
    retention_seconds: int = 4 * 24 * 3600
    receive_wait_seconds: int = topology.LONG_POLL_SECONDS
    content_based_deduplication: bool = False
    high_throughput: bool = False
    alarm_age_seconds: int = 300
    """Alarm when the oldest message waited longer than this."""
    alarm_depth: int = 5000
    """Alarm when the queue holds more visible messages than this."""


@dataclass(frozen=True)
class QueueRef:
    """What a consumer of a queue needs: its deployed name, ARN and URL."""

    name: str
    arn: pulumi.Input[str]
    url: pulumi.Input[str]


class QueueWithDlq(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    queue_name: str
    dlq_name: str
    arn: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    url: pulumi.Output[str]
    dlq_url: pulumi.Output[str]

    def __init__(self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:messaging:QueueWithDlq", name, None, opts)
        ctx = args.ctx
        self.queue_name = ctx.name(name, kind="sqs", fifo=args.fifo)
        self.dlq_name = ctx.name(name + topology.DLQ_SUFFIX, kind="sqs", fifo=args.fifo)
        self.arn = ctx.arn("sqs", self.queue_name)
        self.dlq_arn = ctx.arn("sqs", self.dlq_name)

        high_throughput = args.fifo and args.high_throughput
        fifo_only = {
            "fifo_queue": True if args.fifo else None,
            "content_based_deduplication": args.content_based_deduplication if args.fifo else None,
            "deduplication_scope": "messageGroup" if high_throughput else None,
            "fifo_throughput_limit": "perMessageGroupId" if high_throughput else None,
        }

        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=self.dlq_name,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            receive_wait_time_seconds=args.receive_wait_seconds,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            redrive_allow_policy=self.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            **fifo_only,  # type: ignore[arg-type]  # None leaves a standard queue's FIFO settings unset
            opts=ctx.opts(self),
        )
        self.queue = aws.sqs.Queue(
            name,
            name=self.queue_name,
            message_retention_seconds=args.retention_seconds,
            sqs_managed_sse_enabled=True,
            receive_wait_time_seconds=args.receive_wait_seconds,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            redrive_policy=self.dlq_arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": topology.MAX_RECEIVE_COUNT})
            ),
            **fifo_only,  # type: ignore[arg-type]  # None leaves a standard queue's FIFO settings unset
            # SQS checks that the dead-letter target exists when the redrive policy is set.
            opts=ctx.opts(self, depends_on=[self.dlq]),
        )
        self.url = self.queue.url
        self.dlq_url = self.dlq.url
        self.ref = QueueRef(name=self.queue_name, arn=self.arn, url=self.url)
        self.alarms = queue_alarms(
            name, self.queue_name, self.dlq_name, args.alarm_age_seconds, args.alarm_depth, fifo=args.fifo
        )
        self.widgets = [queue_widget(name, ctx.region, self.queue_name, self.dlq_name)]
        self.register_outputs(
            {"name": self.queue_name, "arn": self.arn, "url": self.url, "dlqArn": self.dlq_arn, "dlqUrl": self.dlq_url}
        )


FIFO_DLQ_CONSEQUENCE = "For the FIFO queue this means later orders of that customer went ahead without it: "
STANDARD_DLQ_CONSEQUENCE = "The consumer never processed these events: "


def dlq_alarm_name(base: str) -> str:
    """The name of the alarm on queue `base`'s DLQ (the game day stops on the order queue's)."""
    return f"{base}-dlq-not-empty"


def queue_alarms(
    base: str, queue: str, dlq: str, age_seconds: int, depth: int, *, fifo: bool = False
) -> list[AlarmSpec]:
    """DLQ not empty (its consequence told per queue kind), oldest message too old, backlog too deep."""
    consequence = FIFO_DLQ_CONSEQUENCE if fifo else STANDARD_DLQ_CONSEQUENCE
    return [
        AlarmSpec(
            name=dlq_alarm_name(base),
            description=(
                f"Messages reached {dlq} after {topology.MAX_RECEIVE_COUNT} receives. {consequence}"
                "inspect, fix, then redrive (docs/operations.md, the DLQ runbook)."
            ),
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": dlq},
            threshold=0,
        ),
        AlarmSpec(
            name=f"{base}-oldest-message-age",
            description=f"The oldest message in {queue} waited longer than {age_seconds}s: consumers are behind or stuck.",
            namespace="AWS/SQS",
            metric="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": queue},
            threshold=age_seconds,
            evaluation_periods=3,
        ),
        AlarmSpec(
            name=f"{base}-backlog",
            description=f"{queue} holds more than {depth} visible messages.",
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": queue},
            threshold=depth,
            evaluation_periods=3,
        ),
    ]


def queue_widget(base: str, region: str, queue: str, dlq: str) -> MetricWidget:
    return metric_widget(
        f"Queue {base}",
        region,
        [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue],
            ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq, {"label": "in DLQ"}],
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue, {"yAxis": "right"}],
        ],
    )
