"""CloudWatch: metric alarms and the dashboard; log groups (AWS only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline.provision.base import Creation, Deletion, Outputs, ProvisionError, ResourceType, arn, json_document, take

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ALARM_PARAMS = {
    "alarmDescription": "AlarmDescription",
    "namespace": "Namespace",
    "metricName": "MetricName",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "period": "Period",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
    "actionsEnabled": "ActionsEnabled",
    "unit": "Unit",
}
INTEGER_PARAMS = {"Period", "EvaluationPeriods", "DatapointsToAlarm"}


def alarm_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    return name, {"arn": arn("cloudwatch", region, f"alarm:{name}", account=account)}


def log_group_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    return name, {"arn": arn("logs", region, f"log-group:{name}", account=account)}


def _dimensions(value: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in (value or {}).items()]


def create_alarm(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {*ALARM_PARAMS, "name", "dimensions", "metricQueries", "tags"}, ctx.what)
    if inputs.get("metricQueries"):
        raise ProvisionError(f"{ctx.what}: metric-math alarms are not translated yet")
    kwargs: dict[str, Any] = {"AlarmName": inputs["name"], "Dimensions": _dimensions(inputs.get("dimensions"))}
    for key, api in ALARM_PARAMS.items():
        if key in inputs:
            kwargs[api] = int(inputs[key]) if api in INTEGER_PARAMS else inputs[key]
    cloudwatch = ctx.client("cloudwatch")
    cloudwatch.put_metric_alarm(**kwargs)
    alarm_arn = cloudwatch.describe_alarms(AlarmNames=[inputs["name"]])["MetricAlarms"][0]["AlarmArn"]
    return inputs["name"], {"arn": alarm_arn}


def create_dashboard(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"dashboardName", "dashboardBody"}, ctx.what)
    json_document(inputs["dashboardBody"], ctx.what, "dashboardBody")
    cloudwatch = ctx.client("cloudwatch")
    cloudwatch.put_dashboard(DashboardName=inputs["dashboardName"], DashboardBody=inputs["dashboardBody"])
    dashboard_arn = cloudwatch.get_dashboard(DashboardName=inputs["dashboardName"])["DashboardArn"]
    return inputs["dashboardName"], {"dashboardArn": dashboard_arn}


def delete_alarm(ctx: Deletion) -> tuple[str, str]:
    ctx.client("cloudwatch").delete_alarms(AlarmNames=[ctx.inputs["name"]])
    return ctx.inputs["name"], "deleted"


def delete_dashboard(ctx: Deletion) -> tuple[str, str]:
    name = ctx.inputs["dashboardName"]
    return ctx.unless_gone(lambda: ctx.client("cloudwatch").delete_dashboards(DashboardNames=[name]), name, "deleted")


def remaining_alarm(ctx: Deletion) -> list[str]:
    found = ctx.client("cloudwatch").describe_alarms(AlarmNames=[ctx.inputs["name"]])["MetricAlarms"]
    return [str(a["AlarmName"]) for a in found]


def remaining_dashboard(ctx: Deletion) -> list[str]:
    name = ctx.inputs["dashboardName"]
    entries = ctx.client("cloudwatch").list_dashboards()["DashboardEntries"]
    return [name] if any(d["DashboardName"] == name for d in entries) else []


TYPES = (
    ResourceType(
        ALARM,
        outputs=alarm_outputs,
        create=create_alarm,
        delete=delete_alarm,
        kind="alarms",
        remaining=remaining_alarm,
    ),
    ResourceType(
        DASHBOARD, create=create_dashboard, delete=delete_dashboard, kind="dashboards", remaining=remaining_dashboard
    ),
    ResourceType("aws:cloudwatch/logGroup:LogGroup", outputs=log_group_outputs),
)
