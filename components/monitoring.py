"""CloudWatch: an alarm topic, alarms on every queue and DLQ, and one dashboard for the stack.

Other tiers add their own alarms (to `alarm_topic_arn`) and hand their widgets to `add_widget`; the
dashboard is created by `finish()` once every tier has contributed, so there is one dashboard per stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.queue import QueueWithDlq
from worker import topology

PERIOD = 60


@dataclass(frozen=True)
class MonitoringArgs:
    kms_key_arn: pulumi.Input[str]
    alarm_email: str
    queue_age_seconds: int
    queue_depth: int


def metric_widget(title: str, region: str, metrics: list[list[Any]], *, stat: str = "Maximum") -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "stat": stat,
            "period": PERIOD,
            "view": "timeSeries",
        },
    }


class Monitoring(pulumi.ComponentResource):
    alarm_topic: aws.sns.Topic
    alarm_topic_arn: pulumi.Output[str]
    dashboard_name: str

    def __init__(
        self, name: str, args: MonitoringArgs, ctx: AwsContext, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("orders:monitoring:Monitoring", name, None, opts)
        self._ctx = ctx
        self._args = args
        self._widgets: list[pulumi.Input[dict[str, Any]]] = []
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        self.dashboard_name = ctx.name(topology.DASHBOARD)
        self.alarm_topic = aws.sns.Topic(
            topology.ALARM_TOPIC,
            name=ctx.name(topology.ALARM_TOPIC),
            kms_master_key_id=args.kms_key_arn,
            opts=ctx.opts(self),
        )
        self.alarm_topic_arn = self.alarm_topic.arn
        if args.alarm_email:
            aws.sns.TopicSubscription(
                "alarm-email",
                topic=self.alarm_topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=ctx.opts(self),
            )

    def alarm(
        self,
        name: str,
        *,
        description: str,
        namespace: str,
        metric: str,
        dimensions: dict[str, pulumi.Input[str]],
        threshold: float,
        statistic: str = "Maximum",
        comparison: str = "GreaterThanThreshold",
        evaluation_periods: int = 1,
        period: int = PERIOD,
    ) -> aws.cloudwatch.MetricAlarm:
        """One alarm that notifies the alarm topic on ALARM and on OK; missing data is not a breach."""
        alarm = aws.cloudwatch.MetricAlarm(
            name,
            name=self._ctx.name(name),
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=period,
            evaluation_periods=evaluation_periods,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data="notBreaching",
            alarm_actions=[self.alarm_topic.arn],
            ok_actions=[self.alarm_topic.arn],
            opts=self._ctx.opts(self),
        )
        self.alarms.append(alarm)
        return alarm

    def watch_queue(self, queue: QueueWithDlq) -> None:
        """DLQ not empty, oldest message too old, backlog too deep; plus a dashboard widget."""
        base = queue.args.name
        self.alarm(
            f"{base}-dlq-not-empty",
            description=(
                f"Messages reached {queue.dlq_name} after {topology.MAX_RECEIVE_COUNT} receives. For the FIFO queue this "
                "means later orders of that customer went ahead without it: inspect, fix, then redrive (README runbook)."
            ),
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": queue.dlq_name},
            threshold=0,
        )
        self.alarm(
            f"{base}-oldest-message-age",
            description=f"The oldest message in {queue.queue_name} waited longer than {self._args.queue_age_seconds}s: consumers are behind or stuck.",
            namespace="AWS/SQS",
            metric="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": queue.queue_name},
            threshold=self._args.queue_age_seconds,
            evaluation_periods=3,
        )
        self.alarm(
            f"{base}-backlog",
            description=f"{queue.queue_name} holds more than {self._args.queue_depth} visible messages.",
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": queue.queue_name},
            threshold=self._args.queue_depth,
            evaluation_periods=3,
        )
        self.add_widget(
            metric_widget(
                f"Queue {base}",
                self._ctx.region,
                [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue.queue_name],
                    ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue.queue_name],
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue.dlq_name, {"label": "in DLQ"}],
                    ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue.queue_name, {"yAxis": "right"}],
                ],
            )
        )

    def watch_table(self, table_name: str) -> None:
        self.alarm(
            "order-table-throttles",
            description=f"{table_name} throttled requests: on-demand capacity is ramping or a hot key exists.",
            namespace="AWS/DynamoDB",
            metric="ThrottledRequests",
            dimensions={"TableName": table_name},
            threshold=0,
            statistic="Sum",
        )
        self.add_widget(
            metric_widget(
                "Order table",
                self._ctx.region,
                [
                    ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", table_name],
                    ["AWS/DynamoDB", "ThrottledRequests", "TableName", table_name],
                    ["AWS/DynamoDB", "SystemErrors", "TableName", table_name],
                ],
                stat="Sum",
            )
        )

    def add_widget(self, widget: pulumi.Input[dict[str, Any]]) -> None:
        self._widgets.append(widget)

    def finish(self) -> None:
        """Create the dashboard from every contributed widget; call once, after all tiers are built."""
        body = pulumi.Output.all(*self._widgets).apply(lambda widgets: json.dumps({"widgets": list(widgets)}))
        aws.cloudwatch.Dashboard(
            topology.DASHBOARD, dashboard_name=self.dashboard_name, dashboard_body=body, opts=self._ctx.opts(self)
        )
        self.register_outputs({"alarmTopicArn": self.alarm_topic_arn, "dashboardName": self.dashboard_name})
