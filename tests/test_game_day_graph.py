"""The opt-in Spot game day (components/game_day.py) on the graph the program registers, in update and preview."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import cast

import pulumi
import pytest

from components.aws_context import AwsContext
from components.iam import role_with_policy
from offline.graph import UNKNOWN, Graph, run_program
from offline.mocks import ACCOUNT_ID
from offline.policy_client import Diagnostic

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ON = {"orders:spotGameDay": "true", "orders:spotGameDayPercent": "25"}


@pytest.fixture(scope="module", params=[False, True], ids=["update", "preview"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return run_program(ON, stack="test", preview=request.param)


def test_absent_unless_switched_on() -> None:
    off = run_program(stack="test")
    assert not off.of_type(TEMPLATE)
    assert not [r for r in off.of_type(ROLE) if "fis" in r.name]
    assert "gameDayTemplateId" not in off.exports


def test_the_template_sends_two_minute_notices_to_a_share_of_the_worker_group(graph: Graph) -> None:
    (template,) = graph.of_type(TEMPLATE)
    (action,) = template.inputs["actions"]
    assert action["actionId"] == "aws:ec2:send-spot-instance-interruptions"
    assert action["parameters"] == [{"key": "durationBeforeInterruption", "value": "PT2M"}]
    (target,) = template.inputs["targets"]
    assert action["target"] == {"key": "SpotInstances", "value": target["name"]}
    assert target["resourceType"] == "aws:ec2:spot-instance"
    assert target["selectionMode"] == "PERCENT(25)"
    assert target["resourceTags"] == [{"key": "aws:autoscaling:groupName", "value": "orders-test-workers"}]
    assert target["filters"] == [{"path": "State.Name", "values": ["running"]}]
    assert "gameDayTemplateId" in graph.exports


def test_it_stops_on_the_order_dlq_alarm(graph: Graph) -> None:
    (template,) = graph.of_type(TEMPLATE)
    (stop,) = template.inputs["stopConditions"]
    assert stop["source"] == "aws:cloudwatch:alarm"
    if graph.preview:
        assert stop["value"] == UNKNOWN  # the alarm's ARN is an output: known once the alarm exists
    else:
        assert stop["value"].endswith(":alarm:orders-test-orders-dlq-not-empty")
    alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "orders-dlq-not-empty")
    assert alarm.urn in template.dependencies


def test_the_fis_role_may_only_interrupt_the_worker_group(graph: Graph) -> None:
    role = graph.one(ROLE, "spot-game-day-fis")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "fis.amazonaws.com"}]
    (policy,) = [p for p in graph.of_type(ROLE_POLICY) if p.name == "spot-game-day-fis"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"InterruptOnlyTheWorkerGroup", "ResolveTargets"}
    interrupt = by_sid["InterruptOnlyTheWorkerGroup"]
    assert interrupt["Action"] == ["ec2:SendSpotInstanceInterruptions"]
    assert interrupt["Resource"] == [f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:instance/*"]
    assert interrupt["Condition"] == {
        "StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": "orders-test-workers"}
    }
    assert by_sid["ResolveTargets"]["Action"] == ["ec2:DescribeInstances"]


def test_the_pack_reports_no_mandatory_violation_with_the_game_day_on(
    graph: Graph, no_mandatory_violation: Callable[..., list[Diagnostic]]
) -> None:
    no_mandatory_violation(graph)


def test_the_role_helper_refuses_a_role_without_one_trust_or_without_permissions() -> None:
    """`components/iam.py` `role_with_policy`, which builds the FIS role (and every other role of the program),
    refuses before it registers anything; the context and parent are never touched."""
    ctx, parent = cast(AwsContext, None), cast(pulumi.Resource, None)
    with pytest.raises(ValueError, match="exactly one of service= or trust="):
        role_with_policy("r", ctx, parent, role_name="r", policy="{}")
    with pytest.raises(ValueError, match="exactly one of service= or trust="):
        role_with_policy("r", ctx, parent, role_name="r", service="fis.amazonaws.com", trust="{}", policy="{}")
    with pytest.raises(ValueError, match="no permissions"):
        role_with_policy("r", ctx, parent, role_name="r", service="fis.amazonaws.com")
