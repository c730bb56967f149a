"""The four security rules as pure functions: pass, fail and unknown-at-preview for each, on hand-built
resources in the camelCase shape the engine sends (property dependencies as the engine records them)."""

from __future__ import annotations

from typing import Any

from policy.guardrails import BY_ID, UNKNOWN, Res, Verdict

METHOD = "aws:apigateway/method:Method"
RESOURCE = "aws:apigateway/resource:Resource"
API = "aws:apigateway/restApi:RestApi"
STAGE = "aws:apigateway/stage:Stage"
ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
VPC = "aws:ec2/vpc:Vpc"
FLOW = "aws:ec2/flowLog:FlowLog"
DB = "aws:rds/instance:Instance"
STAGE_ARN = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/v1"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::orders::{type_}::{name}"


def res(type_: str, name: str, props: dict[str, Any] | None = None, **deps: str) -> Res:
    return Res(
        type=type_,
        name=name,
        urn=urn(type_, name),
        props=props or {},
        property_dependencies={k: [v] for k, v in deps.items()},
    )


def run(rule_id: str, target: Any, **config: Any) -> Verdict:
    return BY_ID[rule_id].run(target, config)


def test_levels_and_controls() -> None:
    assert {r: BY_ID[r].level for r in BY_ID if r in SECURITY} == SECURITY
    assert "CKV_AWS_59" in BY_ID["apigateway-method-authorized"].control
    assert "APIGateway.4" in BY_ID["apigateway-stage-waf"].control
    assert "EC2.6" in BY_ID["vpc-flow-logs"].control and "CKV2_AWS_11" in BY_ID["vpc-flow-logs"].control
    assert "RDS.9" in BY_ID["rds-log-exports"].control and "CKV_AWS_129" in BY_ID["rds-log-exports"].control


SECURITY = {
    "apigateway-method-authorized": "mandatory",
    "apigateway-stage-waf": "advisory",
    "vpc-flow-logs": "mandatory",
    "rds-log-exports": "mandatory",
}


# --- apigateway-method-authorized ------------------------------------------------------------------------


def api(
    method_props: dict[str, Any], *, path_part: Any = "orders", resource_id: Any = "r1", dep: bool = True
) -> list[Res]:
    rest = res(API, "intake", {"name": "intake"})
    resource = res(
        RESOURCE, "orders", {"pathPart": path_part, "parentId": UNKNOWN, "restApi": UNKNOWN}, parentId=rest.urn
    )
    deps = {"resourceId": resource.urn} if dep else {}
    method = res(METHOD, "orders-post", {"httpMethod": "POST", "resourceId": resource_id, **method_props}, **deps)
    return [rest, resource, method]


def test_method_with_iam_cognito_custom_or_api_key_passes() -> None:
    assert run("apigateway-method-authorized", api({"authorization": "AWS_IAM"})) == Verdict()
    assert run("apigateway-method-authorized", api({"authorization": "CUSTOM", "authorizerId": "au1"})) == Verdict()
    assert run("apigateway-method-authorized", api({"authorization": "NONE", "apiKeyRequired": True})) == Verdict()


def test_method_with_authorization_none_fails_on_the_method_naming_its_path() -> None:
    resources = api({"authorization": "NONE"})
    verdict = run("apigateway-method-authorized", resources)
    [violation] = verdict.violations
    assert violation.urn == resources[2].urn
    assert "(POST /orders) takes authorization NONE with no API key" in violation.message
    assert verdict.unchecked == []


def test_a_custom_authorizer_must_be_named() -> None:
    [violation] = run("apigateway-method-authorized", api({"authorization": "CUSTOM"})).violations
    assert "names no authorizerId" in violation.message


def test_anonymous_paths_default_to_health_and_accept_method_path_entries() -> None:
    health = api({"authorization": "NONE"}, path_part="health")
    assert run("apigateway-method-authorized", health) == Verdict()
    assert run("apigateway-method-authorized", health, anonymousPaths=["GET /health"]).violations  # POST here
    assert run("apigateway-method-authorized", health, anonymousPaths=["POST /health"]) == Verdict()
    assert run("apigateway-method-authorized", health, anonymousPaths=[]).violations


def test_a_nested_resource_path_is_walked_to_the_root() -> None:
    rest, parent, _ = api({})
    child = res(RESOURCE, "item", {"pathPart": "{id}", "parentId": UNKNOWN}, parentId=parent.urn)
    method = res(METHOD, "item-get", {"httpMethod": "GET", "authorization": "NONE"}, resourceId=child.urn)
    [violation] = run("apigateway-method-authorized", [rest, parent, child, method]).violations
    assert "(GET /orders/{id})" in violation.message


def test_unknown_at_preview_is_reported_as_not_checked_never_as_a_violation() -> None:
    verdict = run("apigateway-method-authorized", api({"authorization": UNKNOWN}))
    assert verdict.violations == [] and verdict.unchecked == ["Method 'orders-post': authorization / apiKeyRequired"]
    # authorization NONE, but the path is unknown (no dependency, unknown id): can't tell if it is anonymous
    verdict = run("apigateway-method-authorized", api({"authorization": "NONE"}, resource_id=UNKNOWN, dep=False))
    assert verdict.violations == []
    assert verdict.unchecked == ["Method 'orders-post': which path its resourceId names (authorization NONE)"]
    # the dependency decides it even when the id is unknown
    assert run("apigateway-method-authorized", api({"authorization": "NONE"}, resource_id=UNKNOWN)).violations


# --- apigateway-stage-waf -----------------------------------------------------------------------------------


def stage_set(*, assoc: dict[str, Any] | None = None, dep: bool = True, types: Any = "REGIONAL") -> list[Res]:
    rest = res(API, "intake", {"name": "intake", "endpointConfiguration": {"types": types}})
    stage = res(STAGE, "intake", {"restApi": "a1b2c3", "stageName": "v1"}, restApi=rest.urn)
    found = [rest, stage]
    if assoc is not None:
        deps = {"resourceArn": stage.urn} if dep else {}
        found.append(res(ASSOC, "intake", {"webAclArn": "arn:aws:wafv2:acl", **assoc}, **deps))
    return found


def test_a_stage_with_a_web_acl_association_passes_by_dependency_or_by_resolved_arn() -> None:
    assert run("apigateway-stage-waf", stage_set(assoc={"resourceArn": UNKNOWN})) == Verdict()
    assert run("apigateway-stage-waf", stage_set(assoc={"resourceArn": STAGE_ARN}, dep=False)) == Verdict()


def test_a_public_stage_without_waf_fails_on_the_stage_and_a_private_one_passes() -> None:
    resources = stage_set()
    [violation] = run("apigateway-stage-waf", resources).violations
    assert violation.urn == resources[1].urn and "no WAF" in violation.message
    other = STAGE_ARN.replace("/v1", "/v2")
    assert run("apigateway-stage-waf", stage_set(assoc={"resourceArn": other}, dep=False)).violations
    assert run("apigateway-stage-waf", stage_set(types=["PRIVATE"])) == Verdict()


def test_stage_waf_unknown_at_preview() -> None:
    verdict = run("apigateway-stage-waf", stage_set(assoc={"resourceArn": UNKNOWN}, dep=False))
    assert verdict.violations == []
    assert verdict.unchecked == [
        "Stage 'intake': no web ACL association names it, but intake has an unknown resourceArn"
    ]
    verdict = run("apigateway-stage-waf", stage_set(types=UNKNOWN))
    assert verdict.violations == [] and "endpointConfiguration.types" in verdict.unchecked[0]


# --- vpc-flow-logs -----------------------------------------------------------------------------------------------


def vpc_set(flow: dict[str, Any] | None = None, *, dep: bool = True, prop: str = "vpcId") -> list[Res]:
    vpc = res(VPC, "network", {"cidrBlock": "10.0.0.0/16"})
    found = [vpc]
    if flow is not None:
        deps = {prop: vpc.urn} if dep else {}
        found.append(res(FLOW, "network", {prop: UNKNOWN, "trafficType": "ALL", **flow}, **deps))
    return found


def test_a_vpc_with_a_flow_log_passes_through_vpc_id_or_resource_id() -> None:
    assert run("vpc-flow-logs", vpc_set({})) == Verdict()
    assert run("vpc-flow-logs", vpc_set({}, prop="resourceId")) == Verdict()
    assert run("vpc-flow-logs", vpc_set({"trafficType": "REJECT"})) == Verdict()


def test_a_vpc_without_flow_log_or_logging_only_accepts_fails_on_the_vpc() -> None:
    [violation] = run("vpc-flow-logs", vpc_set()).violations
    assert violation.urn == urn(VPC, "network") and "has no flow log" in violation.message
    [violation] = run("vpc-flow-logs", vpc_set({"trafficType": "ACCEPT"})).violations
    assert "records trafficType ACCEPT" in violation.message
    assert run("vpc-flow-logs", vpc_set({"trafficType": "ACCEPT"}), trafficTypes=["ACCEPT"]) == Verdict()
    # a flow log for a VPC outside the stack (a literal id, no dependency) does not cover this one
    assert run("vpc-flow-logs", vpc_set({"vpcId": "vpc-0123"}, dep=False)).violations


def test_vpc_flow_logs_unknown_at_preview() -> None:
    verdict = run("vpc-flow-logs", vpc_set({}, dep=False))
    assert verdict.violations == []
    assert verdict.unchecked == ["Vpc 'network': no flow log names it, but network has an unknown vpcId"]
    verdict = run("vpc-flow-logs", vpc_set({"trafficType": UNKNOWN}))
    assert verdict.violations == [] and verdict.unchecked == ["FlowLog 'network': trafficType"]


# --- rds-log-exports ---------------------------------------------------------------------------------------------


def db(**props: Any) -> Res:
    return res(DB, "shipping-db", {"engine": "postgres", "instanceClass": "db.t4g.medium", **props})


def test_a_postgres_instance_exporting_postgresql_logs_passes() -> None:
    assert run("rds-log-exports", db(enabledCloudwatchLogsExports=["postgresql", "upgrade"])) == Verdict()
    assert run("rds-log-exports", db(engine="mysql")) == Verdict()  # engine not configured: not checked


def test_a_postgres_instance_without_exports_fails() -> None:
    [violation] = run("rds-log-exports", db()).violations
    assert "does not export ['postgresql']" in violation.message and "not set" in violation.message
    assert run("rds-log-exports", db(enabledCloudwatchLogsExports=["upgrade"])).violations
    assert run("rds-log-exports", db(engine="mysql"), requiredExports={"mysql": ["error"]}).violations


def test_rds_log_exports_unknown_at_preview() -> None:
    verdict = run("rds-log-exports", db(enabledCloudwatchLogsExports=UNKNOWN))
    assert verdict.violations == [] and verdict.unchecked == ["Instance 'shipping-db': enabledCloudwatchLogsExports"]
    verdict = run("rds-log-exports", db(engine=UNKNOWN))
    assert verdict.violations == [] and verdict.unchecked == ["Instance 'shipping-db': engine"]


def test_exemptions_apply_to_the_new_rules() -> None:
    assert run("rds-log-exports", db(), exemptResources=["shipping-db"]) == Verdict()
    assert run("vpc-flow-logs", vpc_set(), exemptResources=["network"]).violations == []
