"""The intake REST API in the emulator, as the program defines it: POST /orders validates the order at the
edge and sends it to the FIFO order queue (group = CustomerID, deduplication = OrderID), with the program's
authentication (`iam`: SigV4; `apiKey`: a usage-plan key), its 400 and 415 gateway responses and an anonymous
GET /health. Everything is read back from, or sent through, the emulator."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from components.intake_api import (
    AUTH_TAG,
    BAD_ORDER_TEMPLATE,
    HEALTH_PATH,
    MODEL_NAME,
    ORDERS_PATH,
    UNSUPPORTED_TEMPLATE,
    order_model_schema,
    resource_policy,
    send_message_template,
)
from offline.provision import apigateway
from offline.provision.clients import ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY
from offline.provision.provisioner import Provisioned, provision
from simulation.emulator import Emulator

REGION = "eu-central-1"
JSON = "application/json"
ORDER = {
    "OrderID": "ord-2026.11.27-1",
    "CustomerID": "cust:42",
    "Items": [{"SKU": "A_1", "Quantity": 2, "UnitPrice": "4.50"}],
    "Total": "9.00",
    "Currency": "EUR",
    "CreatedAt": "2026-11-27T08:00:00Z",
}


@pytest.fixture(scope="module")
def emulator_region() -> str:
    return REGION


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Provisioned:
    return provision(REGION, endpoint=emulator.endpoint, stack="intake")


@pytest.fixture(scope="module")
def keyed(emulator: Emulator) -> Provisioned:
    config = {"orders:intakeAuth": "apiKey", "orders:intakeApiKeyClients": '["web", "mobile"]'}
    return provision(REGION, endpoint=emulator.endpoint, stack="keyed", config=config)


def apigw(emulator: Emulator) -> Any:
    return emulator.client("apigateway")


def api_id(stack: Provisioned) -> str:
    (api,) = stack.graph.of_type(apigateway.REST_API)
    return api.id


def post(
    url: str, order: dict[str, Any], *, signed: bool = False, headers: dict[str, str] | None = None
) -> requests.Response:
    """POST an order as a client does: JSON (unless `headers` say otherwise), optionally SigV4-signed for
    execute-api with the emulator's root key."""
    body, sent = json.dumps(order), {"Content-Type": JSON, **(headers or {})}
    if signed:
        request = AWSRequest(method="POST", url=url, data=body, headers=sent)
        SigV4Auth(Credentials(ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY), "execute-api", REGION).add_auth(request)
        sent = dict(request.headers)
    return requests.post(url, data=body.encode(), headers=sent, timeout=10)


def queued(stack: Provisioned) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    url = stack.exports["orderQueueUrl"]
    found = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    for message in found.get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return list(found.get("Messages", []))


def test_the_intake_api_is_the_programs(stack: Provisioned, emulator: Emulator) -> None:
    client, api = apigw(emulator), api_id(stack)
    assert client.get_rest_api(restApiId=api)["tags"] == {AUTH_TAG: "iam"}
    paths = {r["path"]: r for r in client.get_resources(restApiId=api, embed=["methods"])["items"]}
    assert set(paths) == {"/", f"/{ORDERS_PATH}", f"/{HEALTH_PATH}"}
    post_method = client.get_method(restApiId=api, resourceId=paths[f"/{ORDERS_PATH}"]["id"], httpMethod="POST")
    assert post_method["authorizationType"] == "AWS_IAM" and post_method["requestModels"] == {JSON: MODEL_NAME}
    validator = client.get_request_validator(restApiId=api, requestValidatorId=post_method["requestValidatorId"])
    assert validator["validateRequestBody"] is True
    integration = post_method["methodIntegration"]
    assert (integration["type"], integration["passthroughBehavior"]) == ("AWS", "NEVER")
    assert integration["uri"].endswith(f"sqs:path/{emulator.account_id}/orders-intake-orders.fifo")
    assert integration["requestTemplates"] == {JSON: send_message_template()}
    assert set(integration["integrationResponses"]) == {"202", "500", "503"}
    health = client.get_method(restApiId=api, resourceId=paths[f"/{HEALTH_PATH}"]["id"], httpMethod="GET")
    assert health["authorizationType"] == "NONE"
    model = client.get_model(restApiId=api, modelName=MODEL_NAME)
    assert json.loads(model["schema"]) == order_model_schema()
    responses = {r["responseType"]: r for r in client.get_gateway_responses(restApiId=api)["items"]}
    assert responses["BAD_REQUEST_BODY"]["responseTemplates"] == {JSON: BAD_ORDER_TEMPLATE}
    assert responses["UNSUPPORTED_MEDIA_TYPE"]["statusCode"] == "415"
    assert responses["UNSUPPORTED_MEDIA_TYPE"]["responseTemplates"] == {JSON: UNSUPPORTED_TEMPLATE}


def test_the_stage_its_settings_the_resource_policy_and_the_account_role(
    stack: Provisioned, emulator: Emulator
) -> None:
    client, api = apigw(emulator), api_id(stack)
    (stage_resource,) = stack.graph.of_type(apigateway.STAGE)
    stage = client.get_stage(restApiId=api, stageName=stage_resource.inputs["stageName"])
    (deployment,) = stack.graph.of_type(apigateway.DEPLOYMENT)
    assert stage["deploymentId"] == deployment.id
    assert stage["accessLogSettings"] == stage_resource.inputs["accessLogSettings"]
    (settings,) = stack.graph.of_type("aws:apigateway/methodSettings:MethodSettings")
    stage_wide = stage["methodSettings"]["*/*"]
    assert stage_wide["throttlingRateLimit"] == settings.inputs["settings"]["throttlingRateLimit"]
    assert stage_wide["throttlingBurstLimit"] == settings.inputs["settings"]["throttlingBurstLimit"]
    assert (stage_wide["loggingLevel"], stage_wide["metricsEnabled"]) == ("ERROR", True)
    policy = client.get_rest_api(restApiId=api)["policy"]
    assert json.loads(json.loads(f'"{policy}"')) == json.loads(resource_policy("aws", emulator.account_id, []))
    assert client.get_account()["cloudwatchRoleArn"] == stack.role_arns["intake-cloudwatch"]


def test_the_exports_reach_the_emulators_api(stack: Provisioned, emulator: Emulator) -> None:
    (stage,) = stack.graph.of_type(apigateway.STAGE)
    url = f"{emulator.endpoint}/restapis/{api_id(stack)}/{stage.inputs['stageName']}/_user_request_/{ORDERS_PATH}"
    assert stack.intake_orders_url == url == stack.exports["intakeOrdersUrl"]
    assert stack.exports["intakeInvokeUrl"] == url.removesuffix(f"/{ORDERS_PATH}")
    assert api_id(stack) in {a["id"] for a in apigw(emulator).get_rest_apis()["items"]}


def test_a_signed_order_is_queued_in_its_customers_group_deduplicated_by_its_id(stack: Provisioned) -> None:
    answer = post(stack.intake_orders_url, ORDER, signed=True)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    (message,) = queued(stack)
    assert message["MessageId"] == answer.json()["messageId"]
    assert json.loads(message["Body"]) == ORDER
    assert message["Attributes"]["MessageGroupId"] == ORDER["CustomerID"]
    assert message["Attributes"]["MessageDeduplicationId"] == ORDER["OrderID"]


def test_an_unsigned_order_is_refused(stack: Provisioned) -> None:
    answer = post(stack.intake_orders_url, {**ORDER, "OrderID": "ord-unsigned"})
    assert answer.status_code == 403, answer.text
    assert queued(stack) == []


def test_an_invalid_order_gets_the_programs_400_and_is_not_queued(stack: Provisioned) -> None:
    answer = post(stack.intake_orders_url, {**ORDER, "Currency": "eur"}, signed=True)  # the model's ^[A-Z]{3}$
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == "Invalid order"
    assert queued(stack) == []


def test_an_order_sent_as_another_content_type_gets_the_programs_415(stack: Provisioned) -> None:
    answer = post(stack.intake_orders_url, ORDER, signed=True, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415, answer.text
    assert answer.json() == json.loads(UNSUPPORTED_TEMPLATE)
    assert queued(stack) == []


def test_health_is_anonymous_and_reads_the_queue(stack: Provisioned) -> None:
    answer = requests.get(stack.intake_orders_url.replace(f"/{ORDERS_PATH}", f"/{HEALTH_PATH}"), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok"


def test_in_api_key_mode_an_order_needs_a_clients_key(keyed: Provisioned, emulator: Emulator) -> None:
    client, api = apigw(emulator), api_id(keyed)
    method_of = {r["path"]: r for r in client.get_resources(restApiId=api, embed=["methods"])["items"]}
    post_method = method_of[f"/{ORDERS_PATH}"]["resourceMethods"]["POST"]
    assert (post_method["authorizationType"], post_method["apiKeyRequired"]) == ("NONE", True)
    keys = keyed.exports["intakeApiKeyIds"]
    assert set(keys) == {"web", "mobile"}
    (plan,) = [p for p in client.get_usage_plans()["items"] if p["name"] == "orders-keyed-intake"]
    assert {k["id"] for k in client.get_usage_plan_keys(usagePlanId=plan["id"])["items"]} == set(keys.values())
    assert plan["apiStages"] == [{"apiId": api, "stage": "v1"}]
    order = {**ORDER, "OrderID": "ord-keyed"}
    assert post(keyed.intake_orders_url, order).status_code == 403
    assert (
        post(keyed.intake_orders_url, order, headers={"x-api-key": "not-a-key-of-this-stack-0000"}).status_code == 403
    )
    assert queued(keyed) == []
    value = client.get_api_key(apiKey=keys["web"], includeValue=True)["value"]
    answer = post(keyed.intake_orders_url, order, headers={"x-api-key": value})
    assert answer.status_code == 202, answer.text
    (message,) = queued(keyed)
    assert message["Attributes"]["MessageGroupId"] == ORDER["CustomerID"]
