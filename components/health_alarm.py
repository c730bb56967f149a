"""The alarm on the Route 53 health check of the intake API, and where it has to live.

Route 53 publishes `AWS/Route53 HealthCheckStatus` (1 healthy, 0 unhealthy, one datapoint a minute,
dimension `HealthCheckId`) only in us-east-1, whatever region the checked endpoint is in, so the alarm
must be created there; and a CloudWatch alarm can only notify an SNS topic of its own region. A stack
whose primary region is us-east-1 therefore hands the alarm to `Monitoring` like any other tier's
alarm (primary provider, the stack's alarm topic). Any other stack gets `UsEast1Alarms`: a twin of the
alarm topic in us-east-1, with the same e-mail subscription, encrypted with its own customer-managed
key (KMS keys are regional), and the alarm notifying it.

Why a twin topic and not a cross-region hop to the primary topic:

- EventBridge cross-region (an alarm state-change rule in us-east-1 targeting the primary region's bus,
  there a rule targeting the topic) takes two rules, an IAM role for the cross-region target and a topic
  policy for events.amazonaws.com, and delivers EventBridge's event JSON instead of the alarm message
  that every other alarm sends; each hop is one more thing that can fail silently exactly when the
  intake API is down.
- A Lambda forwarder (us-east-1 topic -> function -> primary topic) still needs the us-east-1 topic,
  plus a function, its role, its logs and its own failure alarms.
- The twin is configuration only (a key and its alias, the topic, its policy, the subscription: built by
  the same `MessagingKey` and `alarm_topic` as the stack's own), runs no code, and grants only
  CloudWatch, the service that already publishes to the stack's topic; the page reaches the same
  address in the same format. Its cost: on-call confirms a second subscription (one mail per topic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.iam import service_resource_policy
from components.messaging_key import MessagingKey, MessagingKeyArgs
from components.monitoring import PERIOD, AlarmSpec, alarm_topic, alarm_topic_name, metric_alarms

METRICS_REGION = "us-east-1"
"""The only region where Route 53 publishes its health-check metrics."""
ALARM_NAME = "intake-health-check"
TWIN = f"alarms-{METRICS_REGION}"
"""The twin topic's and key's base name: region-qualified, so it never reads as the stack's own topic."""


def health_check_alarm(
    health_check_id: pulumi.Input[str], record_name: str, interval_seconds: int, failure_threshold: int
) -> AlarmSpec:
    """HealthCheckStatus Minimum < 1 in any minute: Route 53 considers the intake API unhealthy.

    The status is already debounced by Route 53 (`failure_threshold` failed checks at `interval_seconds`
    before it turns 0), and a 0 means the failover record answers with the error page, so one minute is
    enough to page: a second period would only delay it. The period is 60 s, not the check's 10 or 30 s
    interval: the metric is standard resolution (one datapoint a minute), and shorter periods would see
    mostly gaps. Missing data is a breach: Route 53 publishes the status every minute whether the
    endpoint answers or not, so a gap means the health check itself is gone and failover is blind.
    """
    return AlarmSpec(
        name=ALARM_NAME,
        description=(
            f"Route 53 finds the intake API unhealthy (its checkers saw GET /health fail {failure_threshold} times "
            f"in a row, {interval_seconds}s apart): {record_name} now answers with the error page from the "
            "failover region. "
            "Check the API stage, its /health integration and the order queue (docs/operations.md)."
        ),
        namespace="AWS/Route53",
        metric="HealthCheckStatus",
        dimensions={"HealthCheckId": health_check_id},
        statistic="Minimum",
        comparison="LessThanThreshold",
        threshold=1,
        period=PERIOD,
        evaluation_periods=1,
        treat_missing_data="breaching",
    )


def metrics_context(project: str, stack: str, *contexts: AwsContext) -> AwsContext:
    """The first of `contexts` in us-east-1, else a new us-east-1 provider (named after its purpose)."""
    for ctx in contexts:
        if ctx.region == METRICS_REGION:
            return ctx
    return AwsContext.create(project, stack, "route53-metrics", METRICS_REGION)


def topic_policy(topic_arn: str, alarm_arns: str, account_id: str) -> str:
    """Only CloudWatch alarms of this account (in the topic's region) may publish to the twin topic."""
    return service_resource_policy(
        "AccountAlarmsPublish",
        "cloudwatch.amazonaws.com",
        "sns:Publish",
        topic_arn,
        source_arn=alarm_arns,
        account_id=account_id,
    )


@dataclass(frozen=True, kw_only=True)
class UsEast1AlarmsArgs:
    ctx: AwsContext
    """A us-east-1 context (`metrics_context`), never the primary one."""
    alarm_email: str
    alarms: Sequence[AlarmSpec]


class UsEast1Alarms(pulumi.ComponentResource):
    """Alarms on us-east-1 metrics for a stack elsewhere: the twin topic, its key and policy, the alarms."""

    key: MessagingKey
    topic: aws.sns.Topic
    topic_arn: pulumi.Output[str]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    """By spec name."""

    def __init__(self, name: str, args: UsEast1AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:monitoring:UsEast1Alarms", name, None, opts)
        ctx = args.ctx
        if ctx.region != METRICS_REGION:
            raise ValueError(f"UsEast1Alarms needs a {METRICS_REGION} context, got {ctx.region}")
        alarm_arns = ctx.arn("cloudwatch", "alarm:*")
        # Derived, not read from the topic: the alarm actions and the policy are known values at preview.
        self.topic_arn = ctx.arn("sns", alarm_topic_name(ctx, METRICS_REGION))
        self.key = MessagingKey(
            TWIN,
            MessagingKeyArgs(
                ctx=ctx,
                publishers=("cloudwatch.amazonaws.com",),
                source_arns=[alarm_arns],
                purpose=f"the {METRICS_REGION} alarm topic, published to by this account's CloudWatch alarms",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.topic = alarm_topic(ctx, self, self.key.arn, args.alarm_email, METRICS_REGION)
        policy = aws.sns.TopicPolicy(
            TWIN,
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic_arn, alarm_arns, ctx.account_id).apply(
                lambda values: topic_policy(*values)
            ),
            opts=ctx.opts(self),
        )
        # The topic and its policy exist before the first notification, or CloudWatch's publish is refused.
        self.alarms = metric_alarms(
            args.alarms, ctx, self, self.topic_arn, pulumi.ResourceOptions(depends_on=[self.topic, policy])
        )
        self.register_outputs({"topicArn": self.topic_arn})
