"""The security controls in the graph: VPC flow logs, RDS log exports, the DLQ alarm text, the intake WAF and auth.

Every graph is built as `up` and as `preview` (a fresh stack: outputs of resources not yet created are
unknown), so each assertion holds where the policy pack and the provider first see the inputs.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from offline.graph import Graph, Resource, run_program
from offline.mocks import ACCOUNT_ID

BASE = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@functools.cache
def build(preview: bool, **overrides: str) -> Graph:
    return run_program({**BASE, **overrides}, stack="test", preview=preview)


@pytest.fixture(params=[False, True], ids=["up", "preview"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return build(request.param)


def policy(resource: Resource, key: str = "policy") -> dict[str, Any]:
    value = resource.inputs[key]
    assert isinstance(value, str), f"{resource.name}.{key} is unknown in this mode: {value!r}"
    return dict(json.loads(value))


# --- 1. VPC flow logs -------------------------------------------------------------------------------


def test_the_vpc_logs_all_traffic_to_a_retention_bounded_group(graph: Graph) -> None:
    [flow] = graph.of_type("aws:ec2/flowLog:FlowLog")
    group = graph.one(LOG_GROUP, "network-flow-logs").inputs
    assert group["name"] == "/aws/vpc/orders-test-network/flow-logs"
    assert group["retentionInDays"] == 30
    assert "kmsKeyId" not in group  # the stack's key does not grant CloudWatch Logs (components/messaging_key.py)
    vpc = graph.one("aws:ec2/vpc:Vpc", "network")
    assert vpc.urn in flow.property_dependencies["vpcId"]
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    group_arn = f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:/aws/vpc/orders-test-network/flow-logs"
    assert flow.inputs["logDestination"] == group_arn
    assert flow.inputs["iamRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/orders-test-network-flow-logs-eu-west-1"
    assert graph.region_of(flow) == "eu-west-1"


def test_the_flow_log_role_is_trusted_by_the_service_for_this_account_and_writes_only_its_group(graph: Graph) -> None:
    role = graph.one("aws:iam/role:Role", "network-flow-logs")
    assert role.inputs["name"] == "orders-test-network-flow-logs-eu-west-1"
    [trust] = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    [grant] = policy(graph.one(ROLE_POLICY, "network-flow-logs"))["Statement"]
    arn = f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:/aws/vpc/orders-test-network/flow-logs"
    assert grant["Effect"] == "Allow"
    assert grant["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    assert grant["Resource"] == [arn, f"{arn}:*"]


def test_flow_log_retention_comes_from_config() -> None:
    graph = build(False, **{"orders:flowLogRetentionDays": "90"})
    assert graph.one(LOG_GROUP, "network-flow-logs").inputs["retentionInDays"] == 90


# --- 2. RDS log exports ------------------------------------------------------------------------------


def test_rds_exports_its_logs_into_groups_the_stack_owns(graph: Graph) -> None:
    db = graph.one("aws:rds/instance:Instance", "shipping-db")
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    identifier = db.inputs["identifier"]
    assert identifier == "orders-test-shipping"
    for kind in ("postgresql", "upgrade"):
        group = graph.one(LOG_GROUP, f"shipping-db-{kind}")
        assert group.inputs["name"] == f"/aws/rds/instance/{identifier}/{kind}"  # the name RDS writes to
        assert group.inputs["retentionInDays"] == 30
        assert group.urn in db.dependencies  # created before RDS would create it without retention


def test_rds_parameter_group_logs_connections_and_slow_statements(graph: Graph) -> None:
    db = graph.one("aws:rds/instance:Instance", "shipping-db")
    group = graph.one("aws:rds/parameterGroup:ParameterGroup", "shipping-db")
    assert group.inputs["family"] == "postgres16"
    assert group.urn in db.property_dependencies["parameterGroupName"]
    if not graph.preview:
        assert db.inputs["parameterGroupName"] == "orders-test-shipping-db"
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert params == {"log_connections": "1", "log_disconnections": "1", "log_min_duration_statement": "500"}


def test_db_log_settings_come_from_config() -> None:
    graph = build(
        False,
        **{"orders:dbSlowStatementMs": "2000", "orders:dbLogRetentionDays": "7", "orders:dbEngineVersion": "15.7"},
    )
    group = graph.one("aws:rds/parameterGroup:ParameterGroup", "shipping-db").inputs
    assert group["family"] == "postgres15"
    assert {p["name"]: p["value"] for p in group["parameters"]}["log_min_duration_statement"] == "2000"
    assert graph.one(LOG_GROUP, "shipping-db-postgresql").inputs["retentionInDays"] == 7


# --- 3. DLQ alarm text per queue kind ----------------------------------------------------------------


def test_dlq_alarm_text_matches_the_queue_kind(graph: Graph) -> None:
    alarms = {a.name: a.inputs["alarmDescription"] for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    fifo = alarms["orders-dlq-not-empty"]
    assert "orders-test-orders-dlq.fifo" in fifo
    assert "later orders of that customer went ahead without it" in fifo
    standard = [alarms[f"{name}-dlq-not-empty"] for name in ("shipping", "analytics")]
    for text in standard:
        assert "FIFO" not in text and "customer" not in text
        assert "never processed these events" in text and "redrive" in text


# --- 4. WAF v2 on the intake stage -------------------------------------------------------------------

WEB_ACL = "aws:wafv2/webAcl:WebAcl"


def test_the_intake_stage_has_a_regional_web_acl_with_the_four_rules(graph: Graph) -> None:
    acl = graph.one(WEB_ACL, "intake-waf")
    assert graph.region_of(acl) == "eu-west-1"
    assert acl.inputs["scope"] == "REGIONAL"
    assert acl.inputs["defaultAction"] == {"allow": {}}
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    assert sorted((r["priority"], name) for name, r in rules.items()) == [
        (0, "AWSManagedRulesCommonRuleSet"),
        (1, "AWSManagedRulesKnownBadInputsRuleSet"),
        (2, "rate-per-ip"),
        (3, "body-size"),
    ]
    for group in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        statement = rules[group]["statement"]["managedRuleGroupStatement"]
        assert (statement["vendorName"], statement["name"]) == ("AWS", group)
        assert rules[group]["overrideAction"] == {"none": {}}
    # the common set's 8 KB body rule would block valid orders: counted, and rule body-size enforces 64 KiB
    [override] = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert override == {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}
    rate = rules["rate-per-ip"]["statement"]["rateBasedStatement"]
    assert rate == {"aggregateKeyType": "IP", "limit": 2000, "evaluationWindowSec": 300}
    assert rules["rate-per-ip"]["action"] == {"block": {}}
    size = rules["body-size"]["statement"]["sizeConstraintStatement"]
    assert (size["comparisonOperator"], size["size"]) == ("GT", 65536)  # worker.model.MAX_ORDER_BYTES
    assert size["fieldToMatch"] == {"body": {"oversizeHandling": "MATCH"}}
    assert rules["body-size"]["action"] == {"block": {}}
    limit = acl.inputs["associationConfig"]["requestBodies"][0]["apiGateway"]["defaultSizeInspectionLimit"]
    assert limit == "KB_64"
    for rule in rules.values():
        vis = rule["visibilityConfig"]
        assert vis["cloudwatchMetricsEnabled"] is True and vis["sampledRequestsEnabled"] is True
        assert vis["metricName"] == rule["name"]
    assert acl.inputs["visibilityConfig"]["cloudwatchMetricsEnabled"] is True


def test_the_web_acl_is_associated_with_the_stage_and_logs_to_an_aws_waf_logs_group(graph: Graph) -> None:
    acl = graph.one(WEB_ACL, "intake-waf")
    association = graph.one("aws:wafv2/webAclAssociation:WebAclAssociation", "intake-waf")
    stage = graph.one("aws:apigateway/stage:Stage", "intake")
    assert stage.urn in association.property_dependencies["resourceArn"]
    assert acl.urn in association.property_dependencies["webAclArn"]
    if not graph.preview:
        api = graph.one("aws:apigateway/restApi:RestApi", "intake")
        assert association.inputs["resourceArn"] == f"arn:aws:apigateway:eu-west-1::/restapis/{api.id}/stages/v1"
    group = graph.one(LOG_GROUP, "intake-waf-logs")
    assert group.inputs["name"] == "aws-waf-logs-orders-test-intake"
    assert group.inputs["retentionInDays"] == 30
    logging = graph.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "intake-waf")
    assert logging.inputs["logDestinationConfigs"] == [
        f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:aws-waf-logs-orders-test-intake"
    ]
    assert acl.urn in logging.property_dependencies["resourceArn"]
    redacted = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
    assert redacted == {"authorization", "x-api-key"}


def test_waf_rate_limit_comes_from_config_and_waf_can_be_turned_off() -> None:
    tuned = build(False, **{"orders:wafRateLimit": "500"})
    rules = {r["name"]: r for r in tuned.one(WEB_ACL, "intake-waf").inputs["rules"]}
    assert rules["rate-per-ip"]["statement"]["rateBasedStatement"]["limit"] == 500
    for preview in (False, True):
        off = build(preview, **{"orders:waf": "false"})
        assert not [r for r in off.resources if r.type.startswith("aws:wafv2") or "IntakeWaf" in r.type]
        assert not [r for r in off.of_type(LOG_GROUP) if r.name == "intake-waf-logs"]
        assert off.of_type("aws:apigateway/stage:Stage")  # the API itself stays


# --- 5. Intake authentication ------------------------------------------------------------------------

METHOD = "aws:apigateway/method:Method"
ROLES = [f"arn:aws:iam::{ACCOUNT_ID}:role/storefront-backend", f"arn:aws:iam::{ACCOUNT_ID}:role/partner-feed"]


@functools.cache
def auth_graph(mode: str, preview: bool) -> Graph:
    overrides = {
        "iam": {},
        "iam-roles": {"orders:intakeClientRoleArns": json.dumps(ROLES)},
        "apiKey": {"orders:intakeAuth": "apiKey", "orders:intakeApiKeyClients": json.dumps(["storefront", "partner"])},
        "none": {"orders:intakeAuth": "none"},
    }[mode]
    return build(preview, **overrides)


@pytest.fixture(params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_iam_by_default_post_needs_sigv4_and_health_stays_anonymous(preview: bool) -> None:
    graph = auth_graph("iam", preview)
    post, health = graph.one(METHOD, "orders-post"), graph.one(METHOD, "health-get")
    assert post.inputs["authorization"] == "AWS_IAM"
    assert post.inputs.get("apiKeyRequired") is False
    assert health.inputs["authorization"] == "NONE" and health.inputs.get("apiKeyRequired") is False
    assert graph.one("aws:apigateway/restApi:RestApi", "intake").inputs["tags"]["orders:intakeAuth"] == "iam"
    document = policy(graph.one("aws:apigateway/restApiPolicy:RestApiPolicy", "intake"))
    by_sid = {st["Sid"]: st for st in document["Statement"]}
    assert set(by_sid) == {"AnonymousHealth", "ClientsSendOrders"}
    assert by_sid["AnonymousHealth"]["Principal"] == "*"
    assert by_sid["AnonymousHealth"]["Resource"] == "execute-api:/*/GET/health"  # only the health check
    assert by_sid["ClientsSendOrders"]["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:root"]}
    assert by_sid["ClientsSendOrders"]["Resource"] == "execute-api:/*/POST/orders"
    assert not graph.of_type("aws:apigateway/usagePlan:UsagePlan")
    assert not graph.of_type("aws:apigateway/apiKey:ApiKey")
    deployment = graph.one("aws:apigateway/deployment:Deployment", "intake")
    assert graph.one("aws:apigateway/restApiPolicy:RestApiPolicy", "intake").urn in deployment.dependencies


def test_iam_with_listed_roles_allows_only_them(preview: bool) -> None:
    graph = auth_graph("iam-roles", preview)
    document = policy(graph.one("aws:apigateway/restApiPolicy:RestApiPolicy", "intake"))
    by_sid = {st["Sid"]: st for st in document["Statement"]}
    assert by_sid["ClientsSendOrders"]["Principal"] == {"AWS": sorted(ROLES)}
    deny = by_sid["NobodyElseSendsOrders"]
    assert (deny["Effect"], deny["Principal"], deny["Resource"]) == ("Deny", "*", "execute-api:/*/POST/orders")
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted(ROLES)}}
    # a change of the client list redeploys the stage (a resource policy applies from the next deployment)
    before = auth_graph("iam", preview).one("aws:apigateway/deployment:Deployment", "intake").inputs["triggers"]
    after = graph.one("aws:apigateway/deployment:Deployment", "intake").inputs["triggers"]
    assert before != after


def test_api_key_mode_needs_a_key_per_client_in_a_usage_plan(preview: bool) -> None:
    graph = auth_graph("apiKey", preview)
    post, health = graph.one(METHOD, "orders-post"), graph.one(METHOD, "health-get")
    assert post.inputs["authorization"] == "NONE" and post.inputs["apiKeyRequired"] is True
    assert health.inputs.get("apiKeyRequired") is False
    assert not graph.of_type("aws:apigateway/restApiPolicy:RestApiPolicy")
    [plan] = graph.of_type("aws:apigateway/usagePlan:UsagePlan")
    assert plan.inputs["quotaSettings"] == {"limit": 1000000, "period": "DAY"}
    # the stage default (orders:apiThrottleRateLimit 1000 rps, burst 2000) shared by the two clients
    assert plan.inputs["throttleSettings"] == {"rateLimit": 500, "burstLimit": 1000}
    [stage_ref] = plan.inputs["apiStages"]
    stage = graph.one("aws:apigateway/stage:Stage", "intake")
    assert stage.urn in plan.property_dependencies["apiStages"]
    if not preview:
        assert stage_ref["stage"] == "v1"
    keys = {k.name: k for k in graph.of_type("aws:apigateway/apiKey:ApiKey")}
    assert set(keys) == {"intake-storefront", "intake-partner"}
    links = graph.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
    assert len(links) == 2
    for link in links:
        assert link.inputs["keyType"] == "API_KEY"
        assert plan.urn in link.property_dependencies["usagePlanId"]
        assert {keys[n].urn for n in keys} & set(link.property_dependencies["keyId"])
    assert graph.one("aws:apigateway/restApi:RestApi", "intake").inputs["tags"]["orders:intakeAuth"] == "apiKey"


def test_auth_off_is_explicit_and_tagged(preview: bool) -> None:
    graph = auth_graph("none", preview)
    post = graph.one(METHOD, "orders-post")
    assert post.inputs["authorization"] == "NONE" and post.inputs.get("apiKeyRequired") is False
    assert graph.one("aws:apigateway/restApi:RestApi", "intake").inputs["tags"]["orders:intakeAuth"] == "none"
    assert not graph.of_type("aws:apigateway/restApiPolicy:RestApiPolicy")
    assert not graph.of_type("aws:apigateway/usagePlan:UsagePlan")


def test_the_documented_sigv4_client_signs_for_execute_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/front-door.md's Python example, run as written with the network and credentials stubbed."""
    import re
    from pathlib import Path

    import boto3
    import requests
    from botocore.credentials import Credentials

    page = (Path(__file__).resolve().parent.parent / "docs" / "front-door.md").read_text()
    [code] = [block for block in re.findall(r"```python\n(.*?)```", page, re.S) if "SigV4Auth" in block]
    sent: dict[str, Any] = {}

    class Session:
        def get_credentials(self) -> Credentials:
            return Credentials("AKIDEXAMPLE", "secret", "token")

    class Response:
        status_code = 202

        def json(self) -> dict[str, str]:
            return {"status": "accepted"}

    def post(url: str, **kwargs: Any) -> Response:
        sent.update(url=url, **kwargs)
        return Response()

    monkeypatch.setattr(boto3, "Session", Session)
    monkeypatch.setattr(requests, "post", post)
    exec(compile(code, "front-door.md", "exec"), {})  # the documented example, with stubs
    headers = sent["headers"]
    assert sent["url"].endswith("/v1/orders")
    assert re.match(
        r"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/execute-api/aws4_request, SignedHeaders=",
        headers["Authorization"],
    )
    assert headers["X-Amz-Security-Token"] == "token"
    assert json.loads(sent["data"])["OrderID"] == "ord-1"
