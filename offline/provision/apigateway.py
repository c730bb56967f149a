"""API Gateway (REST APIs, v1): the intake API, its resources, methods, model, validator, integrations with SQS,
gateway responses, deployment, stage and its method settings, resource policy, the account's CloudWatch role,
and in `apiKey` mode its usage plan and keys. Custom domains and base-path mappings stay AWS-only (their
certificate is).

A stage's `invokeUrl` here is the emulator's path form of the stage URL (`local_invoke_url`), so the
program's exports built from it (`intakeInvokeUrl`, `intakeOrdersUrl`) reach the emulator's real API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from offline.provision.base import (
    PARTITION,
    Creation,
    DeleteFn,
    Deletion,
    Outputs,
    ProvisionError,
    RemainingFn,
    ResourceType,
    arn,
    as_bool,
    json_document,
    short_id,
    take,
)

REST_API = "aws:apigateway/restApi:RestApi"
RESOURCE = "aws:apigateway/resource:Resource"
STAGE = "aws:apigateway/stage:Stage"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
REQUEST_VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
API_KEY = "aws:apigateway/apiKey:ApiKey"
PAGE = 500

APIGW_REGIONAL_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
}
"""Hosted zone ids of API Gateway's regional endpoints (AWS documentation), a custom domain's `regionalZoneId`."""


def local_invoke_url(endpoint: str, api_id: str, stage: str) -> str:
    """A stage's URL on the emulator, in the path form MiniStack (and LocalStack) serve: no DNS name per API."""
    return f"{endpoint.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_"


# --- offline outputs -----------------------------------------------------------------------------------


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


# --- creation ------------------------------------------------------------------------------------------


def _optional(inputs: Outputs, names: Mapping[str, str]) -> dict[str, Any]:
    """The API parameters of the inputs that are set (input name -> parameter name)."""
    return {api: inputs[key] for key, api in names.items() if inputs.get(key) is not None}


def create_rest_api(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"name", "description", "endpointConfiguration", "tags"}, ctx.what)
    kwargs = {"name": inputs["name"], **_optional(inputs, {"description": "description", "tags": "tags"})}
    if inputs.get("endpointConfiguration"):
        types = inputs["endpointConfiguration"]["types"]
        kwargs["endpointConfiguration"] = {"types": [types] if isinstance(types, str) else list(types)}
    api = ctx.client("apigateway").create_rest_api(**kwargs)
    return api["id"], {"rootResourceId": api["rootResourceId"], **_api_arns(api["id"], ctx.region, ctx.account)}


def create_resource(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"restApi", "parentId", "pathPart"}, ctx.what)
    found = ctx.client("apigateway").create_resource(
        restApiId=inputs["restApi"], parentId=inputs["parentId"], pathPart=inputs["pathPart"]
    )
    return found["id"], {"path": found["path"]}


METHOD = {"authorization": "authorizationType", "apiKeyRequired": "apiKeyRequired", "requestModels": "requestModels"}
METHOD_OPTIONAL = {"requestValidatorId": "requestValidatorId", "requestParameters": "requestParameters"}


def create_method(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"restApi", "resourceId", "httpMethod", *METHOD, *METHOD_OPTIONAL}, ctx.what)
    ctx.client("apigateway").put_method(
        restApiId=inputs["restApi"],
        resourceId=inputs["resourceId"],
        httpMethod=inputs["httpMethod"],
        **_optional(inputs, {**METHOD, **METHOD_OPTIONAL}),
    )
    return f"agm-{inputs['restApi']}-{inputs['resourceId']}-{inputs['httpMethod']}", {}


def _method_key(inputs: Outputs) -> dict[str, str]:
    return {"restApiId": inputs["restApi"], "resourceId": inputs["resourceId"], "httpMethod": inputs["httpMethod"]}


def create_method_response(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    names = {"responseModels": "responseModels", "responseParameters": "responseParameters"}
    take(inputs, {"restApi", "resourceId", "httpMethod", "statusCode", *names}, ctx.what)
    ctx.client("apigateway").put_method_response(
        **_method_key(inputs), statusCode=inputs["statusCode"], **_optional(inputs, names)
    )
    return f"agmr-{inputs['restApi']}-{inputs['resourceId']}-{inputs['httpMethod']}-{inputs['statusCode']}", {}


INTEGRATION = {
    "type": "type",
    "integrationHttpMethod": "integrationHttpMethod",
    "uri": "uri",
    "credentials": "credentials",
    "passthroughBehavior": "passthroughBehavior",
    "requestParameters": "requestParameters",
    "requestTemplates": "requestTemplates",
    "contentHandling": "contentHandling",
}


def create_integration(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """The integration as the program defines it. Its `credentials` role is stored but not assumed: the emulator
    calls SQS as the queue's owner whatever the role allows (recorded as not applied)."""
    take(inputs, {"restApi", "resourceId", "httpMethod", *INTEGRATION}, ctx.what)
    ctx.client("apigateway").put_integration(**_method_key(inputs), **_optional(inputs, INTEGRATION))
    if inputs.get("credentials"):
        ctx.not_applied(
            f"credentials {inputs['credentials']}: stored, not assumed (the emulator calls the backend as its owner)"
        )
    return f"agi-{inputs['restApi']}-{inputs['resourceId']}-{inputs['httpMethod']}", {}


def create_integration_response(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    names = {
        "selectionPattern": "selectionPattern",
        "responseTemplates": "responseTemplates",
        "responseParameters": "responseParameters",
        "contentHandling": "contentHandling",
    }
    take(inputs, {"restApi", "resourceId", "httpMethod", "statusCode", *names}, ctx.what)
    ctx.client("apigateway").put_integration_response(
        **_method_key(inputs), statusCode=inputs["statusCode"], **_optional(inputs, names)
    )
    return f"agir-{inputs['restApi']}-{inputs['resourceId']}-{inputs['httpMethod']}-{inputs['statusCode']}", {}


def create_model(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"restApi", "name", "contentType", "description", "schema"}, ctx.what)
    if inputs.get("schema"):
        json_document(inputs["schema"], ctx.what, "schema")
    names = {"name": "name", "contentType": "contentType", "description": "description", "schema": "schema"}
    model = ctx.client("apigateway").create_model(restApiId=inputs["restApi"], **_optional(inputs, names))
    return model["id"], {}


def create_request_validator(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    names = {"name": "name", "validateRequestBody": "validateRequestBody"}
    names["validateRequestParameters"] = "validateRequestParameters"
    take(inputs, {"restApi", *names}, ctx.what)
    validator = ctx.client("apigateway").create_request_validator(
        restApiId=inputs["restApi"], **_optional(inputs, names)
    )
    return validator["id"], {}


def create_gateway_response(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    names = {"statusCode": "statusCode", "responseTemplates": "responseTemplates"}
    names["responseParameters"] = "responseParameters"
    take(inputs, {"restApiId", "responseType", *names}, ctx.what)
    ctx.client("apigateway").put_gateway_response(
        restApiId=inputs["restApiId"], responseType=inputs["responseType"], **_optional(inputs, names)
    )
    return f"aggr-{inputs['restApiId']}-{inputs['responseType']}", {}


def create_deployment(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """A deployment (a snapshot of the API); `triggers` only tells the provider when to replace it."""
    take(inputs, {"restApi", "description", "variables"}, ctx.what, ignore=("triggers",))
    names = {"description": "description", "variables": "variables"}
    deployment = ctx.client("apigateway").create_deployment(restApiId=inputs["restApi"], **_optional(inputs, names))
    return deployment["id"], {}


def create_stage(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """CreateStage, then its access-log settings (UpdateStage, as the provider does). The emulator stores them;
    it writes no access logs."""
    take(
        inputs,
        {"restApi", "stageName", "deployment", "description", "variables", "tags", "accessLogSettings"},
        ctx.what,
    )
    api, stage, apigateway = inputs["restApi"], inputs["stageName"], ctx.client("apigateway")
    names = {"description": "description", "variables": "variables", "tags": "tags"}
    apigateway.create_stage(
        restApiId=api, stageName=stage, deploymentId=inputs["deployment"], **_optional(inputs, names)
    )
    logs = inputs.get("accessLogSettings")
    if logs:
        take(logs, {"destinationArn", "format"}, ctx.what)
        ops = [
            {"op": "replace", "path": f"/accessLogSettings/{k}", "value": logs[k]} for k in ("destinationArn", "format")
        ]
        apigateway.update_stage(restApiId=api, stageName=stage, patchOperations=ops)
    url = local_invoke_url(ctx.run.clients.endpoint_url(ctx.region), api, stage)
    return _stage_outputs(api, stage, ctx.region, ctx.account, url)


METHOD_SETTINGS = {
    "metricsEnabled": "metrics/enabled",
    "loggingLevel": "logging/loglevel",
    "dataTraceEnabled": "logging/dataTrace",
    "throttlingBurstLimit": "throttling/burstLimit",
    "throttlingRateLimit": "throttling/rateLimit",
    "cachingEnabled": "caching/enabled",
    "cacheTtlInSeconds": "caching/ttlInSeconds",
    "cacheDataEncrypted": "caching/dataEncrypted",
}
"""`aws.apigateway.MethodSettings` setting -> its UpdateStage patch path under `/{methodPath}/`."""


def _patch_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return as_bool(value)
    if key in ("throttlingBurstLimit", "cacheTtlInSeconds"):
        return str(int(value))
    return str(value)


def create_method_settings(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"restApi", "stageName", "methodPath", "settings"}, ctx.what)
    take(inputs["settings"], METHOD_SETTINGS, ctx.what)
    path = inputs["methodPath"]
    if path != "*/*":
        raise ProvisionError(f"{ctx.what}: only the stage-wide method path */* is translated, not {path!r}")
    ops = [
        {"op": "replace", "path": f"/{path}/{METHOD_SETTINGS[k]}", "value": _patch_value(k, v)}
        for k, v in inputs["settings"].items()
    ]
    ctx.client("apigateway").update_stage(
        restApiId=inputs["restApi"], stageName=inputs["stageName"], patchOperations=ops
    )
    return f"{inputs['restApi']}-{inputs['stageName']}-{path}", {}


def create_rest_api_policy(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"restApiId", "policy"}, ctx.what)
    json_document(inputs["policy"], ctx.what)
    op = {"op": "replace", "path": "/policy", "value": inputs["policy"]}
    ctx.client("apigateway").update_rest_api(restApiId=inputs["restApiId"], patchOperations=[op])
    return inputs["restApiId"], {}


def create_account(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """The region's API Gateway account settings: the role API Gateway writes CloudWatch logs with."""
    take(inputs, {"cloudwatchRoleArn"}, ctx.what)
    op = {"op": "replace", "path": "/cloudwatchRoleArn", "value": inputs.get("cloudwatchRoleArn") or ""}
    ctx.client("apigateway").update_account(patchOperations=[op])
    return "api-gateway-account", {}


def create_api_key(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    names = {"name": "name", "description": "description", "enabled": "enabled", "value": "value"}
    names["customerId"] = "customerId"
    take(inputs, {*names, "tags"}, ctx.what)
    key = ctx.client("apigateway").create_api_key(**_optional(inputs, {**names, "tags": "tags"}))
    return key["id"], {"arn": f"arn:{PARTITION}:apigateway:{ctx.region}::/apikeys/{key['id']}"}


def _int_fields(value: Mapping[str, Any] | None, integers: set[str]) -> dict[str, Any]:
    return {k: int(v) if k in integers else v for k, v in (value or {}).items()}


def create_usage_plan(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"name", "description", "apiStages", "quotaSettings", "throttleSettings", "tags"}, ctx.what)
    kwargs: dict[str, Any] = {
        "name": inputs["name"],
        **_optional(inputs, {"description": "description", "tags": "tags"}),
    }
    stages = inputs.get("apiStages") or []
    for stage in stages:
        take(stage, {"apiId", "stage"}, ctx.what)
    kwargs["apiStages"] = [{"apiId": s["apiId"], "stage": s["stage"]} for s in stages]
    if inputs.get("quotaSettings"):
        kwargs["quota"] = _int_fields(inputs["quotaSettings"], {"limit", "offset"})
    if inputs.get("throttleSettings"):
        kwargs["throttle"] = _int_fields(inputs["throttleSettings"], {"burstLimit"})
    plan = ctx.client("apigateway").create_usage_plan(**kwargs)
    return plan["id"], {"arn": f"arn:{PARTITION}:apigateway:{ctx.region}::/usageplans/{plan['id']}"}


def create_usage_plan_key(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"keyId", "keyType", "usagePlanId"}, ctx.what)
    found = ctx.client("apigateway").create_usage_plan_key(
        usagePlanId=inputs["usagePlanId"], keyId=inputs["keyId"], keyType=inputs["keyType"]
    )
    return found["id"], {"name": found.get("name", ""), "value": found.get("value", "")}


# --- deletion ------------------------------------------------------------------------------------------
# Each part of the API is deleted on its own, as the provider does on `pulumi destroy`. The graph `local down`
# rebuilds from the program holds offline ids, so the emulator's ids are resolved (by name, path or stage)
# before anything is deleted: `ctx.resolved[urn]`.


def _graph_resource(ctx: Deletion, type_: str, id_: object) -> Any:
    """The graph's resource of `type_` whose id is `id_` (an input of `ctx.resource` naming it), or None."""
    return next((r for r in ctx.graph.of_type(type_) if r.id == id_), None)


def _resolved(ctx: Deletion, type_: str, id_: object) -> str | None:
    found = _graph_resource(ctx, type_, id_)
    return ctx.resolved.get(found.urn) if found is not None else None


def api_id(ctx: Deletion) -> str | None:
    """The emulator's id of the REST API the resource belongs to (None: the API is gone)."""
    return _resolved(ctx, REST_API, ctx.inputs.get("restApi") or ctx.inputs.get("restApiId"))


def _items(call: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return list(call(limit=PAGE, **kwargs).get("items", []))


def resolve_rest_api(ctx: Deletion) -> str | None:
    apigateway = ctx.client("apigateway")
    if ctx.resource.id and ctx.exists(lambda: apigateway.get_rest_api(restApiId=ctx.resource.id)):
        return ctx.resource.id
    found = [a["id"] for a in _items(apigateway.get_rest_apis) if a["name"] == ctx.inputs["name"]]
    return str(found[0]) if found else None


def _resource_path(ctx: Deletion, resource: Any) -> str:
    """A Resource's path, from its parents in the graph (the API's root resource is "/")."""
    parent = _graph_resource(ctx, RESOURCE, resource.inputs["parentId"])
    base = _resource_path(ctx, parent) if parent is not None else ""
    return f"{base.rstrip('/')}/{resource.inputs['pathPart']}"


def resolve_resource(ctx: Deletion) -> str | None:
    api, path = api_id(ctx), _resource_path(ctx, ctx.resource)
    if api is None:
        return None
    found = [r["id"] for r in _items(ctx.client("apigateway").get_resources, restApiId=api) if r["path"] == path]
    return str(found[0]) if found else None


def resolve_request_validator(ctx: Deletion) -> str | None:
    api = api_id(ctx)
    if api is None:
        return None
    validators = _items(ctx.client("apigateway").get_request_validators, restApiId=api)
    found = [v["id"] for v in validators if v["name"] == ctx.inputs["name"]]
    return str(found[0]) if found else None


def resolve_deployment(ctx: Deletion) -> str | None:
    """The deployment a stage of the graph points at (read before the stage goes)."""
    api = api_id(ctx)
    stage = next((s for s in ctx.graph.of_type(STAGE) if s.inputs.get("deployment") == ctx.resource.id), None)
    if api is None or stage is None:
        return None
    name = stage.inputs["stageName"]
    found = ctx.read(lambda: ctx.client("apigateway").get_stage(restApiId=api, stageName=name))
    return str(found["deploymentId"]) if found else None


def resolve_usage_plan(ctx: Deletion) -> str | None:
    plans = _items(ctx.client("apigateway").get_usage_plans)
    found = [p["id"] for p in plans if p["id"] == ctx.resource.id] or [
        p["id"] for p in plans if p["name"] == ctx.inputs["name"]
    ]
    return str(found[0]) if found else None


def resolve_api_key(ctx: Deletion) -> str | None:
    keys = _items(ctx.client("apigateway").get_api_keys)
    found = [k["id"] for k in keys if k["id"] == ctx.resource.id] or [
        k["id"] for k in keys if k["name"] == ctx.inputs["name"]
    ]
    return str(found[0]) if found else None


Locate = Callable[[Deletion], Any]
"""A function of the Deletion giving the emulator's value of one parameter naming a part of a REST API."""


def _delete_in_api(
    call: str, done: str, keys: Mapping[str, Locate], constant: Mapping[str, Any] | None = None
) -> DeleteFn:
    """A deleter of one part of a REST API: `keys` locates each parameter naming the part (None when the part
    cannot be found any more: it is already gone); `constant` adds parameters that do not name it."""

    def delete(ctx: Deletion) -> tuple[str, str]:
        api = api_id(ctx)
        values = {name: value(ctx) for name, value in keys.items()}
        physical = "/".join(str(v) for v in (api, *values.values()))
        if api is None or None in values.values():
            return physical, "already gone"
        client = ctx.client("apigateway")
        return ctx.unless_gone(
            lambda: getattr(client, call)(restApiId=api, **values, **(constant or {})), physical, done
        )

    return delete


def _input(name: str) -> Locate:
    return lambda ctx: ctx.inputs[name]


def _method_resource(ctx: Deletion) -> str | None:
    return _resolved(ctx, RESOURCE, ctx.inputs["resourceId"])


def _own(ctx: Deletion) -> str | None:
    return ctx.resolved.get(ctx.resource.urn)


def delete_rest_api(ctx: Deletion) -> tuple[str, str]:
    api = _own(ctx)
    if api is None:
        return ctx.inputs["name"], "already gone"
    return ctx.unless_gone(lambda: ctx.client("apigateway").delete_rest_api(restApiId=api), api, "deleted")


def delete_method_settings(ctx: Deletion) -> tuple[str, str]:
    """The provider removes the stage's settings for the method path (the stage itself goes next)."""
    ops = {"patchOperations": [{"op": "remove", "path": f"/{ctx.inputs['methodPath']}"}]}
    return _delete_in_api("update_stage", "settings removed", {"stageName": _input("stageName")}, ops)(ctx)


def delete_rest_api_policy(ctx: Deletion) -> tuple[str, str]:
    ops = {"patchOperations": [{"op": "replace", "path": "/policy", "value": ""}]}
    return _delete_in_api("update_rest_api", "policy removed", {}, ops)(ctx)


def delete_account(ctx: Deletion) -> tuple[str, str]:
    """The provider resets the region's account settings (no CloudWatch role) on delete."""
    op = {"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}
    ctx.client("apigateway").update_account(patchOperations=[op])
    return "api-gateway-account", "CloudWatch role reset"


def delete_usage_plan(ctx: Deletion) -> tuple[str, str]:
    plan = _own(ctx)
    if plan is None:
        return ctx.inputs["name"], "already gone"
    return ctx.unless_gone(lambda: ctx.client("apigateway").delete_usage_plan(usagePlanId=plan), plan, "deleted")


def delete_usage_plan_key(ctx: Deletion) -> tuple[str, str]:
    plan = _resolved(ctx, USAGE_PLAN, ctx.inputs["usagePlanId"])
    key = _resolved(ctx, API_KEY, ctx.inputs["keyId"])
    if plan is None or key is None:
        return f"{plan}/{key}", "already gone"
    delete = lambda: ctx.client("apigateway").delete_usage_plan_key(usagePlanId=plan, keyId=key)  # noqa: E731
    return ctx.unless_gone(delete, f"{plan}/{key}", "deleted")


def delete_api_key(ctx: Deletion) -> tuple[str, str]:
    key = _own(ctx)
    if key is None:
        return ctx.inputs["name"], "already gone"
    return ctx.unless_gone(lambda: ctx.client("apigateway").delete_api_key(apiKey=key), key, "deleted")


def _remaining(read: str, key: str) -> RemainingFn:
    def remaining(ctx: Deletion) -> list[str]:
        found = _own(ctx)
        return [found] if found and ctx.exists(lambda: getattr(ctx.client("apigateway"), read)(**{key: found})) else []

    return remaining


_METHOD: dict[str, Locate] = {"resourceId": _method_resource, "httpMethod": _input("httpMethod")}
_STATUS = {**_METHOD, "statusCode": _input("statusCode")}

TYPES = (
    ResourceType(
        REST_API,
        outputs=rest_api_outputs,
        create=create_rest_api,
        delete=delete_rest_api,
        resolve=resolve_rest_api,
        kind="restApis",
        remaining=_remaining("get_rest_api", "restApiId"),
    ),
    ResourceType(
        RESOURCE,
        outputs=resource_outputs,
        create=create_resource,
        delete=_delete_in_api("delete_resource", "deleted", {"resourceId": _own}),
        resolve=resolve_resource,
    ),
    ResourceType(
        "aws:apigateway/method:Method",
        create=create_method,
        delete=_delete_in_api("delete_method", "deleted", _METHOD),
    ),
    ResourceType(
        "aws:apigateway/methodResponse:MethodResponse",
        create=create_method_response,
        delete=_delete_in_api("delete_method_response", "deleted", _STATUS),
    ),
    ResourceType(
        "aws:apigateway/integration:Integration",
        create=create_integration,
        delete=_delete_in_api("delete_integration", "deleted", _METHOD),
    ),
    ResourceType(
        "aws:apigateway/integrationResponse:IntegrationResponse",
        create=create_integration_response,
        delete=_delete_in_api("delete_integration_response", "deleted", _STATUS),
    ),
    ResourceType(
        "aws:apigateway/model:Model",
        create=create_model,
        delete=_delete_in_api("delete_model", "deleted", {"modelName": _input("name")}),
    ),
    ResourceType(
        REQUEST_VALIDATOR,
        create=create_request_validator,
        delete=_delete_in_api("delete_request_validator", "deleted", {"requestValidatorId": _own}),
        resolve=resolve_request_validator,
    ),
    ResourceType(
        "aws:apigateway/response:Response",
        create=create_gateway_response,
        delete=_delete_in_api("delete_gateway_response", "deleted", {"responseType": _input("responseType")}),
    ),
    ResourceType(
        DEPLOYMENT,
        create=create_deployment,
        delete=_delete_in_api("delete_deployment", "deleted", {"deploymentId": _own}),
        resolve=resolve_deployment,
    ),
    ResourceType(
        STAGE,
        outputs=stage_outputs,
        create=create_stage,
        delete=_delete_in_api("delete_stage", "deleted", {"stageName": _input("stageName")}),
    ),
    ResourceType(
        "aws:apigateway/methodSettings:MethodSettings", create=create_method_settings, delete=delete_method_settings
    ),
    ResourceType(
        "aws:apigateway/restApiPolicy:RestApiPolicy", create=create_rest_api_policy, delete=delete_rest_api_policy
    ),
    ResourceType("aws:apigateway/account:Account", create=create_account, delete=delete_account),
    ResourceType(
        API_KEY,
        create=create_api_key,
        delete=delete_api_key,
        resolve=resolve_api_key,
        kind="apiKeys",
        remaining=_remaining("get_api_key", "apiKey"),
    ),
    ResourceType(
        USAGE_PLAN,
        create=create_usage_plan,
        delete=delete_usage_plan,
        resolve=resolve_usage_plan,
        kind="usagePlans",
        remaining=_remaining("get_usage_plan", "usagePlanId"),
    ),
    ResourceType(
        "aws:apigateway/usagePlanKey:UsagePlanKey", create=create_usage_plan_key, delete=delete_usage_plan_key
    ),
    ResourceType("aws:apigateway/domainName:DomainName", outputs=domain_outputs),
)
