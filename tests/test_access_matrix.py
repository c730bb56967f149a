"""docs/access-matrix.md is what the captured dev graph says, and the facts it shows hold.

The page is regenerated here and compared with the committed file, so a change to a role or a resource
policy that widens (or narrows) access fails until the page is regenerated and the diff reviewed.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from offline.access_matrix import COMMAND, OUTPUT, Node, Principal, build, capture, render


@pytest.fixture(scope="module")
def nodes() -> list[Node]:
    return capture("dev")


@pytest.fixture(scope="module")
def principals(nodes: list[Node]) -> dict[str, Principal]:
    return {p.key: p for p in build(nodes)}


def test_the_committed_matrix_is_the_generated_one(nodes: list[Node]) -> None:
    generated = render(build(nodes), "dev")
    committed = OUTPUT.read_text() if OUTPUT.exists() else ""
    assert generated == committed, f"docs/access-matrix.md is out of date: run `{COMMAND}` and review the diff"


def test_every_kind_of_principal_is_there(principals: dict[str, Principal]) -> None:
    roles = {k for k in principals if k.startswith("role:")}
    assert roles == {
        "role:workers-instance",
        "role:shipping-consumer",
        "role:analytics-consumer",
        "role:intake-send",
        "role:intake-health",
        "role:intake-cloudwatch",
        "role:network-flow-logs",
        "role:dlq-operator",
    }
    services = {k for k in principals if k.startswith("service:")}
    assert services == {"service:sns.amazonaws.com", "service:s3.amazonaws.com", "service:cloudwatch.amazonaws.com"}
    assert principals["role:workers-instance"].trusted_by == ["`ec2.amazonaws.com`"]
    assert principals["role:network-flow-logs"].trusted_by == ["`vpc-flow-logs.amazonaws.com`"]
    assert principals["role:dlq-operator"].trusted_by == ["account `123456789012`"]
    assert principals["role:shipping-consumer"].used_by == ["Function `shipping-consumer` (`role`)"]
    assert principals["role:intake-send"].used_by == ["Integration `orders-post` (`credentials`)"]


def test_the_worker_receives_only_from_the_orders_fifo_queue(principals: dict[str, Principal]) -> None:
    grants = principals["role:workers-instance"].allows("sqs:ReceiveMessage")
    assert [g.resources for g in grants] == [("Queue `orders`",)]
    assert grants[0].raw_resources == ("arn:aws:sqs:us-east-1:123456789012:orders-dev-orders.fifo",)


def test_each_consumer_receives_only_from_its_own_queue_and_only_the_api_and_the_redrive_send_orders(
    principals: dict[str, Principal],
) -> None:
    for consumer in ("shipping", "analytics"):
        grants = principals[f"role:{consumer}-consumer"].allows("sqs:ReceiveMessage")
        assert [g.resources for g in grants] == [(f"Queue `{consumer}`",)]
    senders = {
        key: [r for g in p.allows("sqs:SendMessage") for r in g.resources]
        for key, p in principals.items()
        if p.allows("sqs:SendMessage")
    }
    assert senders == {
        "role:intake-send": ["Queue `orders`"],
        "role:dlq-operator": ["Queue `orders`"],  # python -m ops dlq-triage --redrive
        "service:sns.amazonaws.com": ["Queue `analytics`", "Queue `shipping`"],
    }


def test_no_principal_may_do_everything_anywhere_and_services_are_scoped(principals: dict[str, Principal]) -> None:
    for principal in principals.values():
        for grant in principal.grants:
            if grant.effect == "Allow":
                assert not ("*" in grant.actions and "*" in grant.raw_resources), (principal.key, grant)
                assert not any(a.startswith("NOT ") for a in grant.actions), (principal.key, grant)
    assert "public" not in principals or all(g.effect == "Deny" for g in principals["public"].grants)
    for key in ("service:sns.amazonaws.com", "service:s3.amazonaws.com", "service:cloudwatch.amazonaws.com"):
        assert all(g.condition for g in principals[key].grants), key  # SourceArn / SourceAccount on each


def test_a_widened_policy_shows_up_in_the_matrix(nodes: list[Node]) -> None:
    widened = []
    for node in nodes:
        if node.type == "aws:iam/rolePolicy:RolePolicy" and node.name == "intake-send":
            policy = json.loads(node.inputs["policy"])
            policy["Statement"][0]["Resource"] = "arn:aws:sqs:us-east-1:123456789012:*"
            node = replace(node, inputs={**node.inputs, "policy": json.dumps(policy)})
        widened.append(node)
    principal = {p.key: p for p in build(widened)}["role:intake-send"]
    [grant] = principal.allows("sqs:SendMessage")
    assert "Queue `analytics`" in grant.resources[0] and "Queue `orders-dlq`" in grant.resources[0]
    assert render(build(widened)) != render(build(nodes))


def test_a_lambda_permission_and_a_public_statement_are_principals_too() -> None:
    function = Node(
        "aws:lambda/function:Function", "fn", "urn:fn", {"name": "fn"}, {"arn": "arn:aws:lambda:r:1:function:fn"}, {}
    )
    permission = Node(
        "aws:lambda/permission:Permission",
        "api-invokes",
        "urn:perm",
        {
            "function": "fn",
            "principal": "apigateway.amazonaws.com",
            "action": "lambda:InvokeFunction",
            "sourceArn": "x",
        },
        {},
        {"function": ["urn:fn"]},
    )
    queue = Node(
        "aws:sqs/queue:Queue",
        "open",
        "urn:q",
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*"}]})},
        {"arn": "arn:aws:sqs:r:1:open"},
        {},
    )
    found = {p.key: p for p in build([function, permission, queue])}
    [invoke] = found["service:apigateway.amazonaws.com"].allows("lambda:InvokeFunction")
    assert invoke.resources == ("Function `fn`",) and "`x`" in invoke.condition
    [anyone] = found["public"].allows("sqs:SendMessage")
    assert anyone.resources == ("Queue `open`",)  # no Resource: the queue the policy is attached to
