"""The four security rules through the real pack over its gRPC Analyzer protocol, on a small synthetic stack.

The clean set has an IAM-authorized POST /orders, an anonymous GET /health, a REGIONAL stage with a WAF
association, a VPC with a flow log and a postgres instance exporting its logs. Each mutation removes one
of those protections and must give exactly one violation of its rule, on the right resource, in `up`
(resolved ids) and in `preview` (every id and ARN unknown, only the engine's property dependencies relate
the resources).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from offline.graph import UNKNOWN, Graph, Resource
from offline.policy_client import Diagnostic, PolicyPackProcess, mandatory
from policy.guardrails import BY_ID

SECURITY_RULES = ("apigateway-method-authorized", "apigateway-stage-waf", "vpc-flow-logs", "rds-log-exports")
API = "aws:apigateway/restApi:RestApi"
API_RESOURCE = "aws:apigateway/resource:Resource"
METHOD = "aws:apigateway/method:Method"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
STAGE = "aws:apigateway/stage:Stage"
ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
VPC = "aws:ec2/vpc:Vpc"
FLOW = "aws:ec2/flowLog:FlowLog"
DB = "aws:rds/instance:Instance"


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(scope="module")
def pack(preview: bool) -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(stack="dev", preview=preview) as running:
        running.configure_stack()
        running.configure()
        yield running


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::orders::{type_}::{name}"


def resource(type_: str, name: str, inputs: dict[str, Any], **deps: Resource) -> Resource:
    return Resource(
        urn=urn(type_, name),
        type=type_,
        name=name,
        custom=True,
        parent="",
        provider="",
        inputs=copy.deepcopy(inputs),
        wire=copy.deepcopy(inputs),
        dependencies=sorted({d.urn for d in deps.values()}),
        property_dependencies={k: [d.urn] for k, d in deps.items()},
    )


def clean_stack(preview: bool) -> Graph:
    """What the engine would send: literal ids in `up`, unknown ones in a fresh `preview`."""

    def known(value: str) -> str:
        return UNKNOWN if preview else value

    api = resource(API, "intake", {"name": "orders-dev-intake", "endpointConfiguration": {"types": "REGIONAL"}})
    orders = resource(
        API_RESOURCE, "orders", {"restApi": known("a1b2c3"), "parentId": known("root1"), "pathPart": "orders"},
        restApi=api, parentId=api,
    )  # fmt: skip
    health = resource(
        API_RESOURCE, "health", {"restApi": known("a1b2c3"), "parentId": known("root1"), "pathPart": "health"},
        restApi=api, parentId=api,
    )  # fmt: skip
    authorizer = resource(AUTHORIZER, "partners", {"restApi": known("a1b2c3"), "type": "TOKEN"}, restApi=api)
    post = resource(
        METHOD, "orders-post",
        {"restApi": known("a1b2c3"), "resourceId": known("r-orders"), "httpMethod": "POST", "authorization": "AWS_IAM"},
        restApi=api, resourceId=orders,
    )  # fmt: skip
    put = resource(
        METHOD, "orders-put",
        {"restApi": known("a1b2c3"), "resourceId": known("r-orders"), "httpMethod": "PUT",
         "authorization": "CUSTOM", "authorizerId": known("au-1")},
        restApi=api, resourceId=orders, authorizerId=authorizer,
    )  # fmt: skip
    get = resource(
        METHOD, "health-get",
        {"restApi": known("a1b2c3"), "resourceId": known("r-health"), "httpMethod": "GET", "authorization": "NONE"},
        restApi=api, resourceId=health,
    )  # fmt: skip
    stage = resource(
        STAGE, "intake", {"restApi": known("a1b2c3"), "stageName": "v1", "deployment": known("d1")}, restApi=api
    )
    association = resource(
        ASSOC, "intake",
        {"resourceArn": known("arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/v1"),
         "webAclArn": known("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/intake/1")},
        resourceArn=stage,
    )  # fmt: skip
    vpc = resource(VPC, "network", {"cidrBlock": "10.20.0.0/16"})
    flow_log = resource(
        FLOW, "network", {"vpcId": known("vpc-1"), "trafficType": "ALL", "logDestinationType": "cloud-watch-logs"},
        vpcId=vpc,
    )  # fmt: skip
    database = resource(
        DB, "shipping-db",
        {"engine": "postgres", "engineVersion": "16", "instanceClass": "db.t4g.medium",
         "enabledCloudwatchLogsExports": ["postgresql", "upgrade"], "storageEncrypted": True},
    )  # fmt: skip
    resources = [api, orders, health, authorizer, post, put, get, stage, association, vpc, flow_log, database]
    return Graph(resources=resources, exports={}, preview=preview)


def security_findings(diagnostics: list[Diagnostic]) -> set[tuple[str, str]]:
    return {(d.policy, d.urn) for d in diagnostics if d.policy in SECURITY_RULES and not d.cannot_run}


def set_input(graph: Graph, type_: str, name: str, key: str, value: Any) -> str:
    target = graph.one(type_, name)
    for view in (target.wire, target.inputs):
        if value is None:
            view.pop(key, None)
        else:
            view[key] = value
    if value is None:
        target.property_dependencies.pop(key, None)
    return target.urn


def drop(graph: Graph, type_: str, name: str) -> None:
    graph.resources.remove(graph.one(type_, name))


def no_authorization(graph: Graph) -> str:
    return set_input(graph, METHOD, "orders-post", "authorization", "NONE")


def no_authorizer(graph: Graph) -> str:
    drop(graph, AUTHORIZER, "partners")
    return set_input(graph, METHOD, "orders-put", "authorizerId", None)


def no_waf_association(graph: Graph) -> str:
    drop(graph, ASSOC, "intake")
    return graph.one(STAGE, "intake").urn


def no_flow_log(graph: Graph) -> str:
    drop(graph, FLOW, "network")
    return graph.one(VPC, "network").urn


def no_log_exports(graph: Graph) -> str:
    return set_input(graph, DB, "shipping-db", "enabledCloudwatchLogsExports", None)


MUTATIONS: dict[str, tuple[Callable[[Graph], str], str, str]] = {
    "POST /orders without authorization": (no_authorization, "apigateway-method-authorized", "(POST /orders)"),
    "CUSTOM method without its authorizer": (no_authorizer, "apigateway-method-authorized", "names no authorizerId"),
    "stage without WAF association": (no_waf_association, "apigateway-stage-waf", "no WAF"),
    "VPC without flow log": (no_flow_log, "vpc-flow-logs", "has no flow log"),
    "postgres without log exports": (no_log_exports, "rds-log-exports", "does not export ['postgresql']"),
}


def test_the_clean_set_passes_every_security_rule_with_nothing_left_unchecked(
    pack: PolicyPackProcess, preview: bool
) -> None:
    diagnostics = pack.analyze_graph(clean_stack(preview))
    assert [d for d in diagnostics if d.policy in SECURITY_RULES] == []
    assert mandatory(diagnostics) == []


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_each_removal_gives_exactly_one_violation_on_the_right_resource(
    pack: PolicyPackProcess, preview: bool, mutation: str
) -> None:
    mutate, policy, text = MUTATIONS[mutation]
    graph = clean_stack(preview)
    target = mutate(graph)
    diagnostics = pack.analyze_graph(graph)
    assert security_findings(diagnostics) == {(policy, target)}
    [finding] = [d for d in diagnostics if d.policy == policy]
    assert text in finding.message
    assert finding.level == BY_ID[policy].level
    assert not any(d.cannot_run for d in diagnostics if d.policy in SECURITY_RULES)


def test_a_relation_unknown_at_preview_is_reported_as_not_checked(pack: PolicyPackProcess, preview: bool) -> None:
    """A flow log whose vpcId is unknown and carries no dependency cannot be placed: no violation, a note."""
    graph = clean_stack(preview)
    flow_log = graph.one(FLOW, "network")
    set_input(graph, FLOW, "network", "vpcId", UNKNOWN)
    flow_log.property_dependencies.clear()
    diagnostics = pack.analyze_graph(graph)
    assert security_findings(diagnostics) == set()
    [note] = [d for d in diagnostics if d.policy == "vpc-flow-logs"]
    assert note.cannot_run and "Vpc 'network': no flow log names it, but network has an unknown vpcId" in note.message


def test_the_levels_can_be_changed_cli_style(pack: PolicyPackProcess, preview: bool) -> None:
    try:
        pack.configure({"apigateway-stage-waf": "mandatory", "apigateway-method-authorized": {"anonymousPaths": []}})
        graph = clean_stack(preview)
        stage = no_waf_association(graph)
        found = {(d.policy, d.urn, d.level) for d in pack.analyze_graph(graph) if d.policy in SECURITY_RULES}
        assert found == {
            ("apigateway-stage-waf", stage, "mandatory"),
            ("apigateway-method-authorized", graph.one(METHOD, "health-get").urn, "mandatory"),
        }
    finally:
        pack.configure()
