"""The alarm on the intake API's Route 53 health check, proven on the graph the program registers.

Route 53 publishes `AWS/Route53 HealthCheckStatus` only in us-east-1, and an alarm notifies only a topic
of its own region (components/health_alarm.py). Four stacks, each built as `up` and as `preview`:

- `us-east-1`: the primary region is us-east-1: the alarm is created with the others by `Monitoring`, on
  the primary provider, into the stack's alarm topic; no twin topic, no second key, no third provider;
- `eu`: primary eu-west-1: the alarm, a twin alarm topic, its key and topic policy in us-east-1 through
  their own provider;
- `eu-failover-us-east-1`: the failover region is us-east-1: the twin reuses the failover provider;
- `no-domain` (in eu-west-1 and in us-east-1): no health check, so no health-check alarm and no twin.
"""

from __future__ import annotations

import functools
import json
from typing import Any, cast

import pytest

from components.health_alarm import topic_policy
from components.monitoring import AlarmSpec, metric_alarms
from offline.graph import UNKNOWN, Graph, Resource, run_program
from offline.mocks import ACCOUNT_ID

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
TWIN_COMPONENT = "orders:monitoring:UsEast1Alarms"
EMAIL = "oncall@example.org"
DOMAIN = {"orders:domainName": "orders.example.com", "orders:hostedZoneId": "Z0123456789ABCDEFGHIJ"}
CONFIGS: dict[str, dict[str, str]] = {
    "us-east-1": {"orders:primaryRegion": "us-east-1", "orders:failoverRegion": "us-west-2", **DOMAIN},
    "eu": {
        "orders:primaryRegion": "eu-west-1",
        "orders:failoverRegion": "eu-central-1",
        **DOMAIN,
        "orders:healthCheckIntervalSeconds": "10",
        "orders:healthCheckFailureThreshold": "2",
    },
    "eu-failover-us-east-1": {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "us-east-1", **DOMAIN},
    "no-domain": {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"},
    "no-domain-us-east-1": {"orders:primaryRegion": "us-east-1", "orders:failoverRegion": "us-west-2"},
}
TWIN_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:orders-test-alarms-us-east-1"


@functools.cache
def build(key: str, preview: bool, email: bool = True) -> Graph:
    config = {**CONFIGS[key], **({"orders:alarmEmail": EMAIL} if email else {})}
    return run_program(config, stack="test", preview=preview)


def _params(*keys: str) -> dict[str, Any]:
    pairs = [(key, preview) for key in keys for preview in (False, True)]
    return {"params": pairs, "ids": [f"{k}-{'preview' if p else 'up'}" for k, p in pairs]}


@pytest.fixture(**_params("us-east-1"))
def in_us_east_1(request: pytest.FixtureRequest) -> Graph:
    return build(*request.param)


@pytest.fixture(**_params("eu", "eu-failover-us-east-1"))
def elsewhere(request: pytest.FixtureRequest) -> tuple[dict[str, str], Graph]:
    return CONFIGS[request.param[0]], build(*request.param)


@pytest.fixture(**_params("no-domain", "no-domain-us-east-1"))
def bare(request: pytest.FixtureRequest) -> tuple[dict[str, str], Graph]:
    return CONFIGS[request.param[0]], build(*request.param)


def provider_of(graph: Graph, resource: Resource) -> Resource:
    return graph.by_urn(resource.provider_urn)


def health_alarms(graph: Graph) -> list[Resource]:
    return [a for a in graph.of_type(ALARM) if a.inputs["namespace"] == "AWS/Route53"]


def assert_health_metric(graph: Graph, alarm: Resource, interval: int, threshold: int) -> None:
    """Minimum of HealthCheckStatus below 1 in one 60 s period; a gap is a breach; the dimension is the check's id."""
    inputs = alarm.inputs
    assert {k: inputs[k] for k in ("namespace", "metricName", "statistic", "comparisonOperator")} == {
        "namespace": "AWS/Route53",
        "metricName": "HealthCheckStatus",
        "statistic": "Minimum",
        "comparisonOperator": "LessThanThreshold",
    }
    assert (inputs["threshold"], inputs["period"], inputs["evaluationPeriods"]) == (1, 60, 1)
    assert inputs["treatMissingData"] == "breaching"
    assert inputs["name"] == "orders-test-intake-health-check"
    assert f"fail {threshold} times in a row, {interval}s apart" in inputs["alarmDescription"]
    assert "orders.example.com now answers with the error page" in inputs["alarmDescription"]
    check = graph.one(HEALTH_CHECK, "failover-dns-primary")
    assert check.urn in alarm.property_dependencies["dimensions"]
    assert inputs["dimensions"] == {"HealthCheckId": UNKNOWN if graph.preview else check.id}
    if not graph.preview:
        assert check.id and graph.exports["healthCheckId"] == check.id


def test_in_us_east_1_the_alarm_is_one_of_monitorings_into_the_stacks_topic(in_us_east_1: Graph) -> None:
    graph = in_us_east_1
    [alarm] = health_alarms(graph)
    assert_health_metric(graph, alarm, interval=30, threshold=3)
    assert provider_of(graph, alarm).name == "primary" and graph.region_of(alarm) == "us-east-1"
    assert alarm.parent == graph.one("orders:monitoring:Monitoring", "monitoring").urn
    topic = graph.one(TOPIC, "alarms")
    assert topic.urn in alarm.property_dependencies["alarmActions"]
    expected = UNKNOWN if graph.preview else f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:orders-test-alarms"
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [expected]
    # No twin: one topic for alarms, one key, the two providers the stack always has.
    assert sorted(t.name for t in graph.of_type(TOPIC)) == ["alarms", "order-events"]
    assert [k.name for k in graph.of_type(KEY)] == ["messaging"]
    assert graph.of_type(TOPIC_POLICY) == [graph.one(TOPIC_POLICY, "order-events")]
    assert [r for r in graph.resources if r.type == TWIN_COMPONENT] == []
    assert {p.name: p.inputs["region"] for p in graph.of_type("pulumi:providers:aws")} == {
        "primary": "us-east-1",
        "failover": "us-west-2",
    }


def test_elsewhere_the_alarm_notifies_a_twin_topic_in_us_east_1(elsewhere: tuple[dict[str, str], Graph]) -> None:
    config, graph = elsewhere
    [alarm] = health_alarms(graph)
    failover_in_us_east_1 = config["orders:failoverRegion"] == "us-east-1"
    interval = int(config.get("orders:healthCheckIntervalSeconds", 30))
    assert_health_metric(graph, alarm, interval, int(config.get("orders:healthCheckFailureThreshold", 3)))
    twin = graph.one(TWIN_COMPONENT, "health-alarms")
    topic = graph.one(TOPIC, "alarms-us-east-1")
    policy = graph.one(TOPIC_POLICY, "alarms-us-east-1")
    key = graph.one(KEY, "alarms-us-east-1")
    alias = graph.one(ALIAS, "alarms-us-east-1")
    subscription = graph.one(SUBSCRIPTION, "alarm-email-us-east-1")
    # Every twin resource is created through a us-east-1 provider: the failover one when it is in
    # us-east-1, else one of its own; never the primary provider, never the default one.
    providers = {p.name: p.inputs["region"] for p in graph.of_type("pulumi:providers:aws")}
    metrics_provider = "failover" if failover_in_us_east_1 else "route53-metrics"
    assert providers == {
        "primary": "eu-west-1",
        "failover": "us-east-1" if failover_in_us_east_1 else "eu-central-1",
        **({} if failover_in_us_east_1 else {"route53-metrics": "us-east-1"}),
    }
    for resource in (alarm, topic, policy, key, alias, subscription):
        assert provider_of(graph, resource).name == metrics_provider, resource.name
        assert graph.region_of(resource) == "us-east-1", resource.name
    assert alarm.parent == twin.urn and topic.parent == twin.urn and policy.parent == twin.urn

    # The alarm notifies the twin on ALARM and OK, by its derived ARN (known at preview), once it exists.
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [TWIN_TOPIC_ARN]
    assert {topic.urn, policy.urn} <= set(alarm.dependencies)
    assert topic.inputs["name"] == "orders-test-alarms-us-east-1"
    assert alias.inputs["name"] == "alias/orders-test-alarms-us-east-1"
    if graph.preview:
        assert topic.inputs["kmsMasterKeyId"] == UNKNOWN and key.urn in topic.property_dependencies["kmsMasterKeyId"]
    else:
        assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
        assert key.outputs["arn"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/")
        assert topic.outputs["arn"] == TWIN_TOPIC_ARN, "the derived ARN is the topic's"

    # The key: rotated, CloudWatch alone may use it, for this account's us-east-1 alarms only.
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 7
    administer, publish = json.loads(key.inputs["policy"])["Statement"]
    assert administer["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    assert publish == {
        "Sid": "ServicesPublishToEncryptedTopics",
        "Effect": "Allow",
        "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:*"]},
        },
    }
    # The topic policy: only CloudWatch alarms of this account publish; nothing else is granted.
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement == {
        "Sid": "AccountAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": TWIN_TOPIC_ARN,
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:*"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        },
    }
    assert topic.urn in policy.property_dependencies["arn"]

    # The same on-call address as the stack's own topic.
    primary_subscription = graph.one(SUBSCRIPTION, "alarm-email")
    for sub in (subscription, primary_subscription):
        assert (sub.inputs["protocol"], sub.inputs["endpoint"]) == ("email", EMAIL)
    assert topic.urn in subscription.property_dependencies["topic"]
    assert graph.region_of(primary_subscription) == "eu-west-1"

    # The stack's own topic, key and alarms stay in the primary region, and no name is shared with them.
    assert graph.region_of(graph.one(TOPIC, "alarms")) == "eu-west-1"
    assert graph.region_of(graph.one(KEY, "messaging")) == "eu-west-1"
    others = [a for a in graph.of_type(ALARM) if a is not alarm]
    assert others and all(graph.region_of(a) == "eu-west-1" for a in others)
    for type_, key_ in ((TOPIC, "name"), (ALIAS, "name"), (ALARM, "name")):
        names = [r.inputs[key_] for r in graph.of_type(type_)]
        assert len(names) == len(set(names)), type_


def test_without_an_alarm_email_neither_topic_has_a_subscription() -> None:
    graph = build("eu", False, email=False)
    subscriptions = graph.of_type(SUBSCRIPTION)
    assert {s.inputs["protocol"] for s in subscriptions} == {"sqs"}, "only the fan-out queues subscribe"
    assert graph.one(TOPIC, "alarms-us-east-1").inputs["name"] == "orders-test-alarms-us-east-1"
    assert [a.inputs["alarmActions"] for a in health_alarms(graph)] == [[TWIN_TOPIC_ARN]]


def test_without_a_domain_there_is_no_health_check_alarm_and_no_twin(bare: tuple[dict[str, str], Graph]) -> None:
    config, graph = bare
    assert graph.of_type(HEALTH_CHECK) == [] and health_alarms(graph) == []
    assert [r for r in graph.resources if r.type == TWIN_COMPONENT] == []
    assert "alarms-us-east-1" not in {r.name for r in graph.resources}
    assert {p.name: p.inputs["region"] for p in graph.of_type("pulumi:providers:aws")} == {
        "primary": config["orders:primaryRegion"],
        "failover": config["orders:failoverRegion"],
    }
    assert graph.of_type(ALARM), "the other alarms are still there"


def test_the_topic_policy_names_one_principal_and_is_scoped_by_source_arn_and_account() -> None:
    [statement] = json.loads(topic_policy("arn:topic", "arn:alarms/*", "111122223333"))["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:alarms/*"},
        "StringEquals": {"aws:SourceAccount": "111122223333"},
    }


def test_alarms_are_addressed_by_name_and_a_name_is_used_once() -> None:
    """`Monitoring.alarms` and `UsEast1Alarms.alarms` map each spec's name to its alarm (the game day finds the
    order DLQ's alarm by name); two specs of one name are refused before any alarm is registered."""
    spec = AlarmSpec(name="x", description="", namespace="AWS/SQS", metric="m", dimensions={}, threshold=0)
    with pytest.raises(ValueError, match=r"share the name\(s\) \['x'\]"):
        metric_alarms([spec, spec], cast(Any, None), cast(Any, None), "arn:aws:sns:us-east-1:1:t")
