"""API Gateway (AWS only, for now): the REST API, its resources and stage, the custom domain answer with their
offline outputs."""

from __future__ import annotations

from offline.provision.base import (
    PARTITION,
    Outputs,
    ResourceType,
    arn,
    short_id,
)

REST_API = "aws:apigateway/restApi:RestApi"
RESOURCE = "aws:apigateway/resource:Resource"
STAGE = "aws:apigateway/stage:Stage"

APIGW_REGIONAL_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
}
"""Hosted zone ids of API Gateway's regional endpoints (AWS documentation), a custom domain's `regionalZoneId`."""


def _api_arns(api_id: str, region: str, account: str) -> Outputs:
    return {
        "executionArn": arn("execute-api", region, api_id, account=account),
        "arn": f"arn:{PARTITION}:apigateway:{region}::/restapis/{api_id}",
    }


def rest_api_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    api_id = short_id(region, name)
    return api_id, {"rootResourceId": short_id(api_id, "/")[:10], **_api_arns(api_id, region, account)}


def resource_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    resource_id = short_id(region, inputs.get("restApi"), inputs.get("pathPart"))[:6]
    return resource_id, {"path": f"/{inputs.get('pathPart')}"}


def _stage_outputs(api: str, stage: str, region: str, account: str, invoke_url: str) -> tuple[str, Outputs]:
    return f"ags-{api}-{stage}", {
        "invokeUrl": invoke_url,
        "executionArn": arn("execute-api", region, f"{api}/{stage}", account=account),
        "arn": f"arn:{PARTITION}:apigateway:{region}::/restapis/{api}/stages/{stage}",
    }


def stage_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    api, stage = str(inputs.get("restApi")), str(inputs.get("stageName"))
    return _stage_outputs(api, stage, region, account, f"https://{api}.execute-api.{region}.amazonaws.com/{stage}")


def domain_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    domain = str(inputs.get("domainName"))
    return domain, {
        "regionalDomainName": f"d-{short_id(region, domain)}.execute-api.{region}.amazonaws.com",
        "regionalZoneId": APIGW_REGIONAL_ZONES.get(region, "Z1UJRXOUMOOFQ8"),
        "arn": f"arn:{PARTITION}:apigateway:{region}::/domainnames/{domain}",
    }


TYPES = (
    ResourceType(REST_API, outputs=rest_api_outputs),
    ResourceType(RESOURCE, outputs=resource_outputs),
    ResourceType(STAGE, outputs=stage_outputs),
    ResourceType("aws:apigateway/domainName:DomainName", outputs=domain_outputs),
)
