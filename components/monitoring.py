"""CloudWatch: the alarm topic, every tier's alarms, and one dashboard for the stack.

Each tier declares its alarms (`AlarmSpec`) and its dashboard widgets (`MetricWidget`) as plain values
on its `alarms` and `widgets` attributes; the program hands them all to `Monitoring`, which creates
the topic, one `MetricAlarm` per spec (notifying the topic on ALARM and OK) and the dashboard, in
its constructor. A tier therefore needs no reference to the monitoring component to be built or tested.
`alarm_topic` and `metric_alarm` are also what `components/health_alarm.py` builds its us-east-1 topic
and alarm with, so a second topic is encrypted, subscribed and alarmed on exactly like the first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, Protocol, TypedDict

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from worker import topology

PERIOD = 60

Statistic = Literal["Average", "Maximum", "Minimum", "Sum", "SampleCount"]
Comparison = Literal["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold"]
MissingData = Literal["notBreaching", "breaching", "missing", "ignore"]


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    """One alarm a tier wants; missing data is not a breach unless the spec says otherwise."""

    name: str
    """Logical name; the alarm is named `<project>-<stack>-<name>`."""
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    threshold: float
    statistic: Statistic = "Maximum"
    comparison: Comparison = "GreaterThanThreshold"
    evaluation_periods: int = 1
    period: int = PERIOD
    treat_missing_data: MissingData = "notBreaching"
    """A queue or table that is idle publishes nothing: for most metrics a gap is not a breach."""


class WidgetProperties(TypedDict):
    title: str
    region: str
    metrics: list[list[Any]]
    stat: str
    period: int
    view: str


class MetricWidget(TypedDict):
    type: Literal["metric"]
    width: int
    height: int
    properties: WidgetProperties
    x: NotRequired[int]
    y: NotRequired[int]


def metric_widget(title: str, region: str, metrics: list[list[Any]], *, stat: str = "Maximum") -> MetricWidget:
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


class Watched(Protocol):
    """A tier that declares what to watch: its alarms and its dashboard widgets."""

    @property
    def alarms(self) -> Sequence[AlarmSpec]: ...

    @property
    def widgets(self) -> Sequence[MetricWidget]: ...


def dashboard_body(widgets: Sequence[MetricWidget]) -> str:
    return json.dumps({"widgets": list(widgets)})


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    ctx: AwsContext
    kms_key_arn: pulumi.Input[str]
    alarm_email: str
    alarms: Sequence[AlarmSpec] = ()
    widgets: Sequence[MetricWidget] = ()
    """In dashboard order."""


class Monitoring(pulumi.ComponentResource):
    alarm_topic: aws.sns.Topic
    alarm_topic_arn: pulumi.Output[str]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    """Every tier's alarm by its spec's name (e.g. `orders-dlq-not-empty`)."""
    dashboard: aws.cloudwatch.Dashboard
    dashboard_name: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:monitoring:Monitoring", name, None, opts)
        ctx = args.ctx
        self.dashboard_name = ctx.name(topology.DASHBOARD, kind="dashboard")
        self.alarm_topic = alarm_topic(ctx, self, args.kms_key_arn, args.alarm_email)
        self.alarm_topic_arn = self.alarm_topic.arn
        self.alarms = metric_alarms(args.alarms, ctx, self, self.alarm_topic.arn)
        self.dashboard = aws.cloudwatch.Dashboard(
            topology.DASHBOARD,
            dashboard_name=self.dashboard_name,
            dashboard_body=dashboard_body(args.widgets),
            opts=ctx.opts(self),
        )
        self.register_outputs({"alarmTopicArn": self.alarm_topic_arn, "dashboardName": self.dashboard_name})


def alarm_topic_name(ctx: AwsContext, *parts: str) -> str:
    """`<project>-<stack>-alarms[-<parts>]`: deterministic, so policies can name the topic's ARN at preview."""
    return ctx.name(topology.ALARM_TOPIC, *parts, kind="sns")


def alarm_topic(
    ctx: AwsContext,
    parent: pulumi.Resource,
    kms_key_arn: pulumi.Input[str],
    alarm_email: str,
    *parts: str,
) -> aws.sns.Topic:
    """The encrypted topic alarms notify, and the on-call e-mail subscription when `alarmEmail` is set.

    Shared by `Monitoring` (the stack's topic, `<project>-<stack>-alarms`) and by a topic in another
    region that alarms there need (`parts` name it apart: `alarms-us-east-1`, `alarm-email-us-east-1`),
    so both topics are built, encrypted and subscribed the same way.
    """
    topic = aws.sns.Topic(
        "-".join((topology.ALARM_TOPIC, *parts)),
        name=alarm_topic_name(ctx, *parts),
        kms_master_key_id=kms_key_arn,
        opts=ctx.opts(parent),
    )
    if alarm_email:
        aws.sns.TopicSubscription(
            "-".join(("alarm-email", *parts)),
            topic=topic.arn,
            protocol="email",
            endpoint=alarm_email,
            opts=ctx.opts(parent),
        )
    return topic


def metric_alarms(
    specs: Sequence[AlarmSpec],
    ctx: AwsContext,
    parent: pulumi.Resource,
    topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions | None = None,
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """One `metric_alarm` per spec, in the given order, by spec name (a name is the alarm's logical name,
    so two specs may not share one)."""
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two alarms share the name(s) {duplicates}: each alarm's name must be unique")
    return {spec.name: metric_alarm(spec, ctx, parent, topic_arn, opts) for spec in specs}


def metric_alarm(
    spec: AlarmSpec,
    ctx: AwsContext,
    parent: pulumi.Resource,
    topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """One `MetricAlarm` for `spec`, in `ctx`'s region, notifying `topic_arn` on ALARM and on OK."""
    return aws.cloudwatch.MetricAlarm(
        spec.name,
        name=ctx.name(spec.name, kind="alarm"),
        alarm_description=spec.description,
        namespace=spec.namespace,
        metric_name=spec.metric,
        dimensions=spec.dimensions,
        statistic=spec.statistic,
        period=spec.period,
        evaluation_periods=spec.evaluation_periods,
        threshold=spec.threshold,
        comparison_operator=spec.comparison,
        treat_missing_data=spec.treat_missing_data,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        opts=pulumi.ResourceOptions.merge(ctx.opts(parent), opts),
    )
