"""The front door (intake API, custom domain, failover DNS, error page), proven on the graph the program registers.

Three stacks: a domain in the default regions (zone by id), no domain, and a domain in eu-west-1 with
the error page in eu-central-1 (zone looked up by name). Every graph is built as `up` and as `preview`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from components.error_page import PAGES
from components.intake_api import BAD_ORDER_TEMPLATE, order_model_schema
from offline.graph import UNKNOWN, Graph, Resource, run_program
from offline.mocks import ACCOUNT_ID, APIGW_REGIONAL_ZONES, HOSTED_ZONE_ID, S3_WEBSITE_ZONES

ROOT = Path(__file__).resolve().parent.parent
ZONE_ID = "Z0123456789ABCDEFGHIJ"
CONFIGS: dict[str, dict[str, str]] = {
    "domain": {
        "orders:primaryRegion": "us-east-1",
        "orders:failoverRegion": "us-west-2",
        "orders:domainName": "orders.example.com",
        "orders:hostedZoneId": ZONE_ID,
    },
    "no-domain": {"orders:primaryRegion": "us-east-1", "orders:failoverRegion": "us-west-2"},
    "eu": {
        "orders:primaryRegion": "eu-west-1",
        "orders:failoverRegion": "eu-central-1",
        "orders:domainName": "shop.example.org",
        "orders:hostedZoneName": "example.org",
        "orders:apiStageName": "live",
        "orders:apiThrottleRateLimit": "250",
        "orders:apiThrottleBurstLimit": "500",
        "orders:healthCheckIntervalSeconds": "10",
        "orders:healthCheckFailureThreshold": "2",
    },
}
API_TYPES = (
    "aws:apigateway/restApi:RestApi",
    "aws:apigateway/resource:Resource",
    "aws:apigateway/method:Method",
    "aws:apigateway/integration:Integration",
    "aws:apigateway/integrationResponse:IntegrationResponse",
    "aws:apigateway/model:Model",
    "aws:apigateway/requestValidator:RequestValidator",
    "aws:apigateway/deployment:Deployment",
    "aws:apigateway/stage:Stage",
    "aws:apigateway/methodSettings:MethodSettings",
)
RECORD = "aws:route53/record:Record"
BUCKET = "aws:s3/bucket:Bucket"


class Stack:
    def __init__(self, key: str, graph: Graph) -> None:
        self.key = key
        self.config = {**CONFIGS["no-domain"], **CONFIGS[key]}
        self.graph = graph
        self.primary = self.config["orders:primaryRegion"]
        self.failover = self.config["orders:failoverRegion"]
        self.domain = self.config.get("orders:domainName", "")
        self.stage = self.config.get("orders:apiStageName", "v1")


@functools.cache
def build(key: str, preview: bool) -> Stack:
    return Stack(key, run_program(CONFIGS[key], stack="test", preview=preview))


def _params(keys: list[str]) -> dict[str, Any]:
    pairs = [(key, preview) for key in keys for preview in (False, True)]
    return {"params": pairs, "ids": [f"{k}-{'preview' if p else 'up'}" for k, p in pairs]}


@pytest.fixture(**_params(list(CONFIGS)))
def stack(request: pytest.FixtureRequest) -> Stack:
    return build(*request.param)


@pytest.fixture(**_params(["domain", "eu"]))
def dns_stack(request: pytest.FixtureRequest) -> Stack:
    return build(*request.param)


@pytest.fixture(**_params(["no-domain"]))
def bare_stack(request: pytest.FixtureRequest) -> Stack:
    return build(*request.param)


def summary(graph: Graph) -> dict[str, int]:
    """Front-door resource counts (the components and everything under them) by short type name."""
    counts = Counter(r.type.rsplit(":", 1)[-1] for r in graph.resources if "orders:frontdoor:" in r.urn)
    return dict(sorted(counts.items()))


def integration(graph: Graph, name: str) -> Resource:
    return graph.one("aws:apigateway/integration:Integration", name)


def test_api_and_its_integrations_live_in_the_primary_region(stack: Stack) -> None:
    graph = stack.graph
    for type_ in API_TYPES:
        found = graph.of_type(type_)
        assert found, f"no {type_}"
        for r in found:
            assert graph.region_of(r) == stack.primary, f"{type_} {r.name} is not in {stack.primary}"
    api = graph.one("aws:apigateway/restApi:RestApi", "intake")
    assert api.inputs["name"] == "orders-test-intake"
    assert api.inputs["endpointConfiguration"]["types"] == "REGIONAL"
    components = {r.urn for r in graph.resources if not r.custom}
    for r in graph.resources:
        if not r.custom:
            continue
        if r.type.startswith(("aws:apigateway", "aws:route53", "aws:acm")) or r.name.startswith(
            ("intake", "error-page")
        ):
            assert r.parent in components, f"{r.type} {r.name} is not parented to a component"
            assert graph.by_urn(r.provider_urn).type == "pulumi:providers:aws"


def test_post_orders_sends_the_validated_body_to_the_fifo_queue(stack: Stack) -> None:
    graph = stack.graph
    queue_arn = f"arn:aws:sqs:{stack.primary}:{ACCOUNT_ID}:orders-test-orders.fifo"
    send = integration(graph, "orders-post")
    assert send.inputs["type"] == "AWS"
    assert send.inputs["integrationHttpMethod"] == "POST"
    # derived from partition/account/queue name, so known even in the preview of a fresh stack
    assert send.inputs["uri"] == f"arn:aws:apigateway:{stack.primary}:sqs:path/{ACCOUNT_ID}/orders-test-orders.fifo"
    assert send.inputs["passthroughBehavior"] == "NEVER"
    assert send.inputs["requestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
        "integration.request.header.Accept": "'application/json'",
    }
    template = send.inputs["requestTemplates"]["application/json"]
    assert "Action=SendMessage" in template
    assert "MessageBody=$util.urlEncode($input.body)" in template
    assert "MessageGroupId=$util.urlEncode($input.path('$.CustomerID'))" in template
    assert "MessageDeduplicationId=$util.urlEncode($input.path('$.OrderID'))" in template

    role_name = f"orders-test-intake-send-{stack.primary}"
    assert send.inputs["credentials"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
    role = graph.one("aws:iam/role:Role", "intake-send")
    assert role.inputs["name"] == role_name
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert role.urn in send.dependencies
    policy = json.loads(graph.one("aws:iam/rolePolicy:RolePolicy", "intake-send").inputs["policy"])
    assert policy["Statement"] == [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]

    post = graph.one("aws:apigateway/method:Method", "orders-post")
    assert (
        post.inputs["httpMethod"] == "POST" and post.inputs["authorization"] == "AWS_IAM"
    )  # orders:intakeAuth defaults to iam
    assert post.inputs["requestModels"] == {"application/json": "Order"}
    validator = graph.one("aws:apigateway/requestValidator:RequestValidator", "intake")
    assert validator.inputs["validateRequestBody"] is True
    assert validator.urn in post.dependencies
    if not graph.preview:
        assert post.inputs["requestValidatorId"] == validator.id

    statuses = {
        r.inputs["statusCode"]: r.inputs.get("selectionPattern")
        for r in graph.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
        if r.name.startswith("orders-post")
    }
    assert statuses == {"202": None, "500": r"4\d{2}", "503": r"5\d{2}"}


def test_the_edge_model_is_the_worker_model_in_draft_04(stack: Stack) -> None:
    model = stack.graph.one("aws:apigateway/model:Model", "intake")
    assert model.inputs["name"] == "Order" and model.inputs["contentType"] == "application/json"
    schema = json.loads(model.inputs["schema"])
    assert schema == order_model_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    bad_body = stack.graph.one("aws:apigateway/response:Response", "intake-bad-request-body")
    assert bad_body.inputs["responseType"] == "BAD_REQUEST_BODY"
    assert bad_body.inputs["statusCode"] == "400"
    assert bad_body.inputs["responseTemplates"]["application/json"] == BAD_ORDER_TEMPLATE
    assert "$context.error.validationErrorString" in BAD_ORDER_TEMPLATE
    json.loads(BAD_ORDER_TEMPLATE.replace("$context.", "context."))  # the 400 body is valid JSON once filled in


def test_health_route_asks_sqs_with_its_own_least_privilege_role(stack: Stack) -> None:
    graph = stack.graph
    health = integration(graph, "health-get")
    assert health.inputs["type"] == "AWS"
    assert health.inputs["uri"] == integration(graph, "orders-post").inputs["uri"]
    assert health.inputs["requestTemplates"]["application/json"].startswith("Action=GetQueueAttributes")
    assert health.inputs["credentials"].endswith(f":role/orders-test-intake-health-{stack.primary}")
    policy = json.loads(graph.one("aws:iam/rolePolicy:RolePolicy", "intake-health").inputs["policy"])
    [stmt] = policy["Statement"]
    assert stmt["Action"] == "sqs:GetQueueAttributes"
    assert stmt["Resource"].endswith(":orders-test-orders.fifo")
    get = graph.one("aws:apigateway/method:Method", "health-get")
    assert get.inputs["httpMethod"] == "GET"
    statuses = {
        r.inputs["statusCode"]: r.inputs.get("selectionPattern")
        for r in graph.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
        if r.name.startswith("health-get")
    }
    assert statuses == {"200": None, "503": r"[45]\d{2}"}


def test_stage_throttling_and_json_access_logs(stack: Stack) -> None:
    graph = stack.graph
    settings = graph.one("aws:apigateway/methodSettings:MethodSettings", "intake").inputs
    assert settings["methodPath"] == "*/*"
    assert settings["settings"]["throttlingRateLimit"] == float(stack.config.get("orders:apiThrottleRateLimit", 1000))
    assert settings["settings"]["throttlingBurstLimit"] == float(stack.config.get("orders:apiThrottleBurstLimit", 2000))
    assert settings["settings"]["dataTraceEnabled"] is False
    stage = graph.one("aws:apigateway/stage:Stage", "intake")
    assert stage.inputs["stageName"] == stack.stage
    log_format = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert {"requestId", "status", "validationError", "integrationStatus"} <= set(log_format)
    group = graph.one("aws:cloudwatch/logGroup:LogGroup", "intake-access")
    assert group.inputs["retentionInDays"] == 30
    assert graph.one("aws:apigateway/account:Account", "intake").urn in stage.dependencies
    deployment = graph.one("aws:apigateway/deployment:Deployment", "intake")
    for name in ("orders-post", "health-get"):
        assert integration(graph, name).urn in deployment.dependencies
    if not graph.preview:
        assert stage.inputs["accessLogSettings"]["destinationArn"] == (
            f"arn:aws:logs:{stack.primary}:{ACCOUNT_ID}:log-group:/aws/apigateway/orders-test-intake/access"
        )
        assert stage.inputs["deployment"] == deployment.id
        invoke = f"https://{graph.one('aws:apigateway/restApi:RestApi', 'intake').id}.execute-api.{stack.primary}.amazonaws.com/{stack.stage}"
        assert graph.exports["intakeInvokeUrl"] == invoke
        assert graph.exports["intakeOrdersUrl"] == invoke + "/orders"
    else:
        assert graph.exports["intakeInvokeUrl"] == UNKNOWN
    alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "intake-5xx").inputs
    assert alarm["dimensions"] == {"ApiName": "orders-test-intake", "Stage": stack.stage}


def test_failover_dns_and_error_page(dns_stack: Stack) -> None:
    stack = dns_stack
    graph = stack.graph
    zone = ZONE_ID if "orders:hostedZoneId" in stack.config else HOSTED_ZONE_ID  # by id, or looked up by name

    bucket = graph.one(BUCKET, "error-page")
    assert graph.region_of(bucket) == stack.failover
    assert bucket.inputs["bucket"] == stack.domain
    records = {r.name: r for r in graph.of_type(RECORD)}
    primary, secondary = records["failover-dns-primary"], records["failover-dns-secondary"]
    for record in (primary, secondary):
        assert record.inputs["name"] == bucket.inputs["bucket"], "S3 website hosting needs bucket name == record name"
        assert record.inputs["type"] == "A"
        assert record.inputs["zoneId"] == zone  # an invoke result: known at preview too

    health = graph.one("aws:route53/healthCheck:HealthCheck", "failover-dns-primary")
    assert health.inputs["type"] == "HTTPS" and health.inputs["port"] == 443
    assert health.inputs["resourcePath"] == f"/{stack.stage}/health"
    assert health.inputs["requestInterval"] == float(stack.config.get("orders:healthCheckIntervalSeconds", 30))
    assert health.inputs["failureThreshold"] == float(stack.config.get("orders:healthCheckFailureThreshold", 3))
    assert health.inputs["enableSni"] is True

    assert primary.inputs["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert primary.inputs["setIdentifier"] == "primary"
    assert health.urn in primary.dependencies
    [primary_alias] = primary.inputs["aliases"]
    assert primary_alias["evaluateTargetHealth"] is True
    assert secondary.inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert "healthCheckId" not in secondary.inputs
    [secondary_alias] = secondary.inputs["aliases"]
    assert secondary_alias["evaluateTargetHealth"] is False
    website = graph.one("aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration", "error-page")
    assert website.inputs["indexDocument"] == {"suffix": "index.html"}
    assert website.inputs["errorDocument"] == {"key": "error.html"}
    assert graph.region_of(website) == stack.failover
    assert bucket.urn in secondary.dependencies and website.urn in secondary.dependencies

    domain = graph.one("aws:apigateway/domainName:DomainName", "intake")
    assert domain.inputs["domainName"] == stack.domain
    assert domain.inputs["endpointConfiguration"]["types"] == "REGIONAL"
    assert domain.urn in primary.dependencies
    if not graph.preview:
        api_id = graph.one("aws:apigateway/restApi:RestApi", "intake").id
        assert health.inputs["fqdn"] == f"{api_id}.execute-api.{stack.primary}.amazonaws.com"
        assert graph.exports["intakeInvokeUrl"].startswith(f"https://{health.inputs['fqdn']}/")
        assert primary.inputs["healthCheckId"] == health.id
        assert primary_alias["name"] == domain.outputs["regionalDomainName"]
        assert primary_alias["zoneId"] == APIGW_REGIONAL_ZONES[stack.primary]
        assert secondary_alias["name"] == website.outputs["websiteDomain"]
        assert stack.failover in secondary_alias["name"]
        assert secondary_alias["zoneId"] == bucket.outputs["hostedZoneId"] == S3_WEBSITE_ZONES[stack.failover]
        assert graph.exports["errorPageBucket"] == stack.domain
        assert graph.exports["intakeUrl"] == f"https://{stack.domain}/orders"
    else:
        assert health.inputs["fqdn"] == UNKNOWN and primary.inputs["healthCheckId"] == UNKNOWN


def test_certificate_is_dns_validated_in_the_primary_region(dns_stack: Stack) -> None:
    stack = dns_stack
    graph = stack.graph
    cert = graph.one("aws:acm/certificate:Certificate", "intake")
    assert cert.inputs["domainName"] == stack.domain and cert.inputs["validationMethod"] == "DNS"
    assert graph.region_of(cert) == stack.primary, "a regional API's certificate lives in the API's region"
    validation_record = graph.one(RECORD, "intake-cert-validation")
    validation = graph.one("aws:acm/certificateValidation:CertificateValidation", "intake")
    assert validation_record.urn in validation.dependencies
    domain = graph.one("aws:apigateway/domainName:DomainName", "intake")
    assert validation.urn in domain.dependencies
    assert domain.inputs["securityPolicy"] == "TLS_1_2"
    mapping = graph.one("aws:apigateway/basePathMapping:BasePathMapping", "intake")
    assert domain.urn in mapping.dependencies
    if not graph.preview:
        option = cert.outputs["domainValidationOptions"][0]
        assert validation_record.inputs["name"] == option["resourceRecordName"]
        assert validation_record.inputs["records"] == [option["resourceRecordValue"]]
        assert domain.inputs["regionalCertificateArn"] == cert.outputs["arn"]
        assert mapping.inputs["domainName"] == stack.domain
        assert mapping.inputs["stageName"] == stack.stage


def test_error_page_is_public_for_its_two_pages_only(dns_stack: Stack) -> None:
    stack = dns_stack
    graph = stack.graph
    block = graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "error-page").inputs
    assert block["blockPublicAcls"] is True and block["ignorePublicAcls"] is True
    assert block["blockPublicPolicy"] is False and block["restrictPublicBuckets"] is False
    policy_resource = graph.one("aws:s3/bucketPolicy:BucketPolicy", "error-page")
    assert graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "error-page").urn in (
        policy_resource.dependencies
    )
    [stmt] = json.loads(policy_resource.inputs["policy"])["Statement"]
    assert stmt["Effect"] == "Allow" and stmt["Principal"] == "*" and stmt["Action"] == "s3:GetObject"
    assert stmt["Resource"] == [f"arn:aws:s3:::{stack.domain}/{page}" for page in PAGES]
    for page in PAGES:
        obj = graph.one("aws:s3/bucketObjectv2:BucketObjectv2", f"error-page-{page.removesuffix('.html')}")
        assert obj.inputs["key"] == page
        assert obj.inputs["content"] == (ROOT / "site" / "error-page" / page).read_text(encoding="utf-8")
        assert obj.inputs["contentType"].startswith("text/html")
        assert "acl" not in obj.inputs
        assert graph.region_of(obj) == stack.failover
    # the only bucket-level relaxations in the stack belong to the exempted logical name
    relaxed = [
        r
        for r in graph.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if not all(
            r.inputs.get(k)
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
    ]
    assert [r.name for r in relaxed] == ["error-page"]


def test_without_a_domain_the_dns_parts_are_skipped(bare_stack: Stack) -> None:
    stack = bare_stack
    graph = stack.graph
    for type_ in (RECORD, "aws:route53/healthCheck:HealthCheck", "aws:acm/certificate:Certificate"):
        assert graph.of_type(type_) == []
    assert graph.of_type("aws:apigateway/domainName:DomainName") == []
    assert [b.name for b in graph.of_type(BUCKET) if b.name == "error-page"] == []
    assert "intakeUrl" not in graph.exports and "errorPageBucket" not in graph.exports
    assert "intakeOrdersUrl" in graph.exports


def test_no_domain_logs_why_dns_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        run_program(CONFIGS["no-domain"], stack="test", preview=True)
    assert any("orders:domainName is not set" in rec.getMessage() for rec in caplog.records)


def test_graph_summary_per_config(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    counts = summary(stack.graph)
    with capsys.disabled():
        print(f"\n[front door {stack.key} preview={stack.graph.preview}] {counts}")
    expected_dns = 1 if stack.domain else 0
    assert counts.get("HealthCheck", 0) == expected_dns
    assert counts.get("Record", 0) == 3 * expected_dns  # primary, secondary, certificate validation
    assert counts.get("Bucket", 0) == expected_dns
    assert counts["RestApi"] == 1 and counts["Integration"] == 2 and counts["Method"] == 2


# --- The edge schema vs the worker's model: what API Gateway rejects, the worker rejects too. ---

VALID_ORDER: dict[str, Any] = {
    "OrderID": "ord-1",
    "CustomerID": "cust-1",
    "Items": [{"SKU": "TV-55", "Quantity": 2, "UnitPrice": "199.99"}, {"SKU": "HDMI", "Quantity": 1, "UnitPrice": 5}],
    "Total": "404.98",
    "Currency": "USD",
    "CreatedAt": "2026-11-27T08:00:00Z",
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**VALID_ORDER, **changes}


def _item(**changes: Any) -> dict[str, Any]:
    return _with(Items=[{"SKU": "X", "Quantity": 1, "UnitPrice": "1.00", **changes}], Total="1.00")


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID_ORDER.items() if k != key}


REJECTED_AT_THE_EDGE = {
    **{f"missing {key}": _without(key) for key in VALID_ORDER},
    "missing item SKU": _with(Items=[{"Quantity": 1, "UnitPrice": "1"}], Total="1"),
    "wrong type: Quantity as string": _item(Quantity="2"),
    "wrong type: Quantity fractional": _item(Quantity=1.5),
    "wrong type: Items not a list": _with(Items={"SKU": "X"}),
    "wrong type: OrderID a number": _with(OrderID=42),
    "wrong type: Total a boolean": _with(Total=True),
    "wrong type: body a list": [VALID_ORDER],
    "non-positive quantity 0": _item(Quantity=0),
    "non-positive quantity -1": _item(Quantity=-1),
    "non-positive price as number": _item(UnitPrice=0),
    "quantity over the limit": _item(Quantity=10_001),
    "no items": _with(Items=[]),
    "unknown field": _with(Coupon="FREE"),
    "unknown item field": _item(Gift=True),
    "currency not ISO": _with(Currency="usd"),
    "group id unsafe for SQS": _with(CustomerID="cust 1/../x"),
    "dedup id too long": _with(OrderID="o" * 65),
}
ONLY_THE_WORKER_REJECTS = {
    "total does not add up": _with(Total="1.00"),
    "CreatedAt without a time zone": _with(CreatedAt="2026-11-27T08:00:00"),
    "negative money as a string": _item(UnitPrice="-1.00", Quantity=1) | {"Total": "-1.00"},
    "money not a number string": _item(UnitPrice="cheap"),
    "more than two decimals": _item(UnitPrice=1.001) | {"Total": 1.001},
}
"""Draft-04 cannot express these: cross-field sums, time zones, a decimal's sign or scale inside a string."""


@pytest.fixture(scope="module")
def edge() -> Any:
    from jsonschema import Draft4Validator

    schema = order_model_schema()
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def _worker_accepts(body: Any) -> bool:
    from worker.model import InvalidOrder, parse_order

    try:
        parse_order(json.dumps(body))
    except InvalidOrder:
        return False
    return True


def test_schema_is_plain_draft_04(edge: Any) -> None:
    text = json.dumps(order_model_schema())
    for later_keyword in ('"$defs"', '"$ref"', '"const"', '"prefixItems"'):
        assert later_keyword not in text
    quantity = order_model_schema()["properties"]["Items"]["items"]["properties"]["Quantity"]
    assert quantity == {
        "exclusiveMinimum": True,
        "minimum": 0,
        "maximum": 10000,
        "title": "Quantity",
        "type": "integer",
    }


@pytest.mark.parametrize("body", [VALID_ORDER, _item(UnitPrice=2.5) | {"Total": 2.5}, _with(OrderID="a" * 64)])
def test_edge_and_worker_accept_valid_orders(edge: Any, body: dict[str, Any]) -> None:
    assert list(edge.iter_errors(body)) == []
    assert _worker_accepts(body)


@pytest.mark.parametrize("case", list(REJECTED_AT_THE_EDGE))
def test_edge_rejects_what_the_worker_rejects(edge: Any, case: str) -> None:
    body = REJECTED_AT_THE_EDGE[case]
    assert list(edge.iter_errors(body)), f"{case}: API Gateway's model would let it through"
    assert not _worker_accepts(body), f"{case}: the worker accepts it, the edge must not reject it"


@pytest.mark.parametrize("case", list(ONLY_THE_WORKER_REJECTS))
def test_checks_only_the_worker_can_do(edge: Any, case: str) -> None:
    body = ONLY_THE_WORKER_REJECTS[case]
    assert list(edge.iter_errors(body)) == [], f"{case}: now caught at the edge; move it to REJECTED_AT_THE_EDGE"
    assert not _worker_accepts(body)


def test_converter_translates_or_refuses() -> None:
    from components.intake_api import draft4_schema

    converted = draft4_schema(
        {
            "$defs": {"Leaf": {"type": "number", "exclusiveMaximum": 5, "examples": [1]}},
            "type": "object",
            "properties": {"kind": {"const": "order"}, "leaf": {"$ref": "#/$defs/Leaf", "description": "why"}},
        }
    )
    assert converted["properties"]["kind"] == {"enum": ["order"]}
    assert converted["properties"]["leaf"] == {
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
        "description": "why",
    }
    with pytest.raises(ValueError, match="prefixItems"):
        draft4_schema({"type": "array", "prefixItems": [{"type": "string"}]})
    with pytest.raises(ValueError, match="recursive"):
        draft4_schema({"$defs": {"Node": {"properties": {"next": {"$ref": "#/$defs/Node"}}}}, "$ref": "#/$defs/Node"})


# --- The mapping templates against an SQS implementation (moto's query API), signed as API Gateway signs. ---


def render(template: str, body: str) -> str:
    """The VTL subset the request templates use: `$util.urlEncode` of the body or of `$input.path('$.Key')`.

    Anything else left in the template fails the test, so a template change must come with this renderer's.
    """
    data = json.loads(body)
    out = template.replace("$util.urlEncode($input.body)", quote_plus(body))
    out = re.sub(r"\$util\.urlEncode\(\$input\.path\('\$\.(\w+)'\)\)", lambda m: quote_plus(str(data[m.group(1)])), out)
    assert "$" not in out, f"template uses VTL this test cannot render: {out}"
    return out


def test_templates_drive_the_sqs_query_api() -> None:
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from components.intake_api import HEALTH_TEMPLATE, INTEGRATION_HEADERS, send_message_template
    from simulation.emulator import running_emulator
    from worker.model import parse_order

    headers = {k.rsplit(".", 1)[-1]: v.strip("'") for k, v in INTEGRATION_HEADERS.items()}
    order = _with(
        CustomerID="cust:42", OrderID="ord-2026.11.27", Items=[{"SKU": "A_1", "Quantity": 1, "UnitPrice": "9.99"}]
    )
    order["Total"] = "9.99"
    body = json.dumps(order, ensure_ascii=False) + "  "  # sent as-is: whitespace and all
    with running_emulator(export_env=False) as emulator:
        sqs = emulator.client("sqs")
        url = sqs.create_queue(QueueName="orders-test-orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

        def call(form: str) -> requests.Response:
            request = AWSRequest(method="POST", url=url, data=form, headers=headers)
            keys = emulator.credentials
            SigV4Auth(
                Credentials(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]), "sqs", emulator.region
            ).add_auth(request)
            return requests.post(url, data=form.encode(), headers=dict(request.headers), timeout=10)

        for _ in range(2):  # a client retry of the same order
            sent = call(render(send_message_template(), body))
            assert sent.status_code == 200, sent.text
            assert "MessageId" in sent.text
        health = call(HEALTH_TEMPLATE)
        assert health.status_code == 200 and "ApproximateNumberOfMessages" in health.text
        got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 1, "the retry must be deduplicated by OrderID"
    [message] = got
    assert message["Body"] == body
    assert message["Attributes"]["MessageGroupId"] == "cust:42"
    assert message["Attributes"]["MessageDeduplicationId"] == "ord-2026.11.27"
    assert parse_order(message["Body"]).OrderID == "ord-2026.11.27"


def test_response_bodies_are_json_once_filled_in() -> None:
    from components.intake_api import HEALTH_RESPONSES, POST_RESPONSES, UNSUPPORTED_TEMPLATE

    def fill(template: str) -> Any:
        lines = [line for line in template.splitlines() if not line.startswith("#set")]
        return json.loads("\n".join(lines).replace("$r.MessageId", "m-1").replace("$context.requestId", "r-1"))

    bodies = [fill(body) for _, _, body in [*POST_RESPONSES, *HEALTH_RESPONSES]]
    assert bodies[0] == {"status": "accepted", "messageId": "m-1", "requestId": "r-1"}
    assert all(isinstance(body, dict) for body in bodies)
    assert fill(UNSUPPORTED_TEMPLATE)["message"]
