"""The order intake: a regional API Gateway REST API that validates orders at the edge and sends them to SQS.

Why a REST API and not an HTTP API: an HTTP API has a first-class SQS-SendMessage integration but no
request validation, so a malformed order would reach the FIFO queue and only the worker could reject it.
A REST API validates the body against a JSON-schema model (generated from `worker.model.Order`, one
source of truth), answers 400 with the validator's message through a gateway response, maps the body
to SendMessage with a mapping template (group id = CustomerID, dedup id = OrderID) and needs no
compute in the path. It is REGIONAL so its custom domain can be the PRIMARY target of a Route 53
failover record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.aws_context import AwsContext
from components.config import FrontDoorConfig
from components.iam import VERSION, role_with_policy
from components.monitoring import AlarmSpec, MetricWidget, metric_widget
from worker.model import order_json_schema

MODEL_NAME = "Order"
ORDERS_PATH = "orders"
HEALTH_PATH = "health"
JSON = "application/json"
DRAFT_04 = "http://json-schema.org/draft-04/schema#"
APIGATEWAY = "apigateway.amazonaws.com"

# Keywords draft-04 shares with what pydantic emits; anything else must be translated or is refused.
_DRAFT4_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "multipleOf",
        "enum",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
        "format",
        "title",
        "description",
        "default",
        "minProperties",
        "maxProperties",
        "patternProperties",
    }
)
_ANNOTATIONS = frozenset({"examples", "deprecated", "readOnly", "writeOnly"})


def draft4_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Translate pydantic's draft 2020-12 schema to the draft-04 subset API Gateway models accept.

    `$ref`s into `$defs` are inlined (a model cannot reference its own definitions), numeric
    `exclusiveMinimum/Maximum` become draft-04's `minimum` + boolean flag, `const` becomes a one-value
    `enum`. A keyword with no draft-04 meaning raises, so the edge never silently validates less than
    the model says.
    """
    defs: dict[str, Any] = schema.get("$defs", {})

    def convert(node: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
        if "$ref" in node:
            ref = node["$ref"]
            name = ref.removeprefix("#/$defs/")
            if name == ref or name not in defs:
                raise ValueError(f"unsupported $ref {ref!r}: only local #/$defs references can be inlined")
            if name in seen:
                raise ValueError(f"recursive model {name!r} cannot be inlined into a draft-04 schema")
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return {**convert(defs[name], seen | {name}), **convert(siblings, seen)}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$defs" or key in _ANNOTATIONS:
                continue
            if key in ("exclusiveMinimum", "exclusiveMaximum"):
                bound = "minimum" if key == "exclusiveMinimum" else "maximum"
                if bound in node or isinstance(value, bool):
                    raise ValueError(f"{key} next to {bound} cannot be expressed in draft-04")
                out[bound] = value
                out[key] = True
            elif key == "const":
                out["enum"] = [value]
            elif key in ("properties", "patternProperties"):
                out[key] = {name: convert(sub, seen) for name, sub in value.items()}
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = convert(value, seen)
            elif key in ("anyOf", "allOf", "oneOf"):
                out[key] = [convert(sub, seen) for sub in value]
            elif key in _DRAFT4_KEYWORDS and not (key == "items" and isinstance(value, list)):
                out[key] = value
            else:
                raise ValueError(f"JSON schema keyword {key!r} has no draft-04 equivalent API Gateway accepts")
        return out

    return {"$schema": DRAFT_04, **convert(schema, frozenset())}


def order_model_schema() -> dict[str, Any]:
    """The request model of POST /orders, derived from the worker's pydantic `Order`."""
    return draft4_schema(order_json_schema())


def send_message_template() -> str:
    """VTL: the validated body becomes one FIFO message, ordered per customer, deduplicated per order.

    The model's patterns on CustomerID/OrderID (<= 64 of [A-Za-z0-9_.:-]) keep both ids within what
    SQS accepts for MessageGroupId and MessageDeduplicationId, so the template needs no extra checks.
    """
    return (
        "Action=SendMessage"
        "&MessageBody=$util.urlEncode($input.body)"
        "&MessageGroupId=$util.urlEncode($input.path('$.CustomerID'))"
        "&MessageDeduplicationId=$util.urlEncode($input.path('$.OrderID'))"
    )


INTEGRATION_HEADERS = {
    # the SQS query API takes a form body; Accept asks it for JSON, which the response templates read
    "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
    "integration.request.header.Accept": "'application/json'",
}
HEALTH_TEMPLATE = "Action=GetQueueAttributes&AttributeName.1=ApproximateNumberOfMessages"
ACCEPTED_TEMPLATE = (
    "#set($r = $input.path('$.SendMessageResponse.SendMessageResult'))\n"
    '{"status": "accepted", "messageId": "$r.MessageId", "requestId": "$context.requestId"}'
)
HEALTHY_TEMPLATE = '{"status": "ok", "queue": "reachable", "requestId": "$context.requestId"}'
BAD_ORDER_TEMPLATE = (
    '{"message": "Invalid order", "errors": "$context.error.validationErrorString", "requestId": "$context.requestId"}'
)
UNSUPPORTED_TEMPLATE = '{"message": "Send the order as application/json"}'
POST_RESPONSES: list[tuple[str, str | None, str]] = [
    ("202", None, ACCEPTED_TEMPLATE),
    # SQS 4xx means our role or request is wrong, not the client's order: a server error to the client.
    ("500", r"4\d{2}", '{"message": "The order queue refused the order", "requestId": "$context.requestId"}'),
    ("503", r"5\d{2}", '{"message": "The order queue is unavailable, retry", "requestId": "$context.requestId"}'),
]
"""(status, integration status pattern, body template); None is the default (success) mapping."""
HEALTH_RESPONSES: list[tuple[str, str | None, str]] = [
    ("200", None, HEALTHY_TEMPLATE),
    ("503", r"[45]\d{2}", '{"status": "unavailable", "requestId": "$context.requestId"}'),
]
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "errorMessage": "$context.error.message",
        "validationError": "$context.error.validationErrorString",
    }
)


AUTH_TAG = "orders:intakeAuth"
"""Tag on the RestApi naming its POST /orders authentication; `none` is what the policy pack reports."""
ORDERS_INVOKE = f"execute-api:/*/POST/{ORDERS_PATH}"
HEALTH_INVOKE = f"execute-api:/*/GET/{HEALTH_PATH}"
"""API Gateway's shorthand for this API's own method ARNs: known at preview, unlike the API id."""


def method_authorization(auth: str) -> str:
    return "AWS_IAM" if auth == "iam" else "NONE"


def resource_policy(partition: str, account_id: str, client_role_arns: Sequence[str]) -> str:
    """The REST API's resource policy for `intakeAuth = iam`.

    - GET /health: anyone (Route 53 health checkers are anonymous); it only reads the queue's depth.
    - POST /orders: the listed roles, or with none listed the account root, which delegates to the
      account's IAM: a principal of this account whose IAM policy allows execute-api:Invoke.
    - With roles listed, an explicit Deny for every other principal: in the same account an IAM
      policy alone would otherwise be enough, so the list would not be the only way in.
    SigV4 itself is enforced by the method's AWS_IAM authorization; anonymous POSTs get 403.
    """
    principals: list[str] = sorted(client_role_arns) or [f"arn:{partition}:iam::{account_id}:root"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AnonymousHealth",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": HEALTH_INVOKE,
        },
        {
            "Sid": "ClientsSendOrders",
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": "execute-api:Invoke",
            "Resource": ORDERS_INVOKE,
        },
    ]
    if client_role_arns:
        statements.append(
            {
                "Sid": "NobodyElseSendsOrders",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": ORDERS_INVOKE,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted(client_role_arns)}},
            }
        )
    return json.dumps({"Version": VERSION, "Statement": statements}, sort_keys=True)


def _queue_policy(action: str, queue_arn: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": queue_arn}]}
    )


@dataclass(frozen=True, kw_only=True)
class IntakeApiArgs:
    ctx: AwsContext
    queue_name: str
    queue_arn: pulumi.Input[str]
    settings: FrontDoorConfig
    hosted_zone_id: pulumi.Input[str] | None = None
    """Required with `settings.domain_name`: the zone where the certificate's validation record goes."""
    auth: str = "iam"
    """POST /orders: "iam" (SigV4 + resource policy), "apiKey" (usage plan, one key per client), "none"."""
    client_role_arns: Sequence[str] = field(default_factory=tuple)
    api_key_clients: Sequence[str] = field(default_factory=tuple)
    api_key_daily_quota: int = 1_000_000


Role = tuple[pulumi.Output[str], list[pulumi.Resource]]
"""A role's derived ARN and the resources that must exist before it is used."""


class IntakeApi(pulumi.ComponentResource):
    api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    stage_arn: pulumi.Output[str]
    invoke_url: pulumi.Output[str]
    """`https://<api>.execute-api.<region>.amazonaws.com/<stage>` (no trailing slash)."""
    health_fqdn: pulumi.Output[str]
    health_path: str
    domain: aws.apigateway.DomainName | None
    alarms: list[AlarmSpec]
    widgets: list[MetricWidget]

    def __init__(self, name: str, args: IntakeApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:frontdoor:IntakeApi", name, None, opts)
        ctx = self._ctx = args.ctx
        settings = args.settings
        self.api_name = ctx.name(name, kind="api")
        self.stage_name = settings.stage_name
        self.health_path = f"/{settings.stage_name}/{HEALTH_PATH}"
        self.api = aws.apigateway.RestApi(
            name,
            name=self.api_name,
            description="Order intake: validates orders and sends them to the FIFO order queue (no compute).",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            tags={AUTH_TAG: args.auth},
            opts=ctx.opts(self),
        )
        self.auth = args.auth
        definition = [*self._validation(name), *self._routes(name, args), *self._resource_policy(name, args)]
        deployment = self._deployment(name, args.queue_name, definition, auth=self._auth_definition(args))
        self.stage = self._stage(name, settings, deployment)
        self.api_key_ids = self._api_keys(name, args) if args.auth == "apiKey" else {}
        self.invoke_url = self.stage.invoke_url.apply(lambda url: url.rstrip("/"))
        # From the stage's own output, so whatever attaches to it (the WAF association) waits for the stage.
        self.stage_arn = pulumi.Output.all(ctx.partition, self.api.id, self.stage.stage_name).apply(
            lambda pas: f"arn:{pas[0]}:apigateway:{ctx.region}::/restapis/{pas[1]}/stages/{pas[2]}"
        )
        self.health_fqdn = self.api.id.apply(lambda i: f"{i}.execute-api.{ctx.region}.amazonaws.com")
        self.domain = None
        if settings.has_domain:
            if args.hosted_zone_id is None:
                raise ValueError("IntakeApi: a domain name needs hosted_zone_id for its certificate validation")
            self.domain = self._custom_domain(name, settings.domain_name, args.hosted_zone_id)
        self.alarms, self.widgets = (
            intake_alarms(self.api_name, self.stage_name),
            [intake_widget(ctx.region, self.api_name, self.stage_name)],
        )
        self.register_outputs(
            {
                "apiId": self.api.id,
                "invokeUrl": self.invoke_url,
                "healthPath": self.health_path,
                "domain": settings.domain_name,
            }
        )

    def _validation(self, name: str) -> list[pulumi.Resource]:
        """The order model (from `worker.model.Order`), the body validator and the 400/415 gateway responses."""
        ctx, api_id = self._ctx, self.api.id
        self._model = aws.apigateway.Model(
            name,
            rest_api=api_id,
            name=MODEL_NAME,
            content_type=JSON,
            description="An order (generated from worker.model.Order; the worker re-validates totals and time zone).",
            schema=json.dumps(order_model_schema()),
            opts=ctx.opts(self),
        )
        self._validator = aws.apigateway.RequestValidator(
            name, rest_api=api_id, name="order-body", validate_request_body=True, opts=ctx.opts(self)
        )
        responses = [
            aws.apigateway.Response(
                f"{name}-{suffix}",
                rest_api_id=api_id,
                response_type=response_type,
                status_code=status,
                response_templates={JSON: template},
                opts=ctx.opts(self),
            )
            for suffix, response_type, status, template in (
                ("bad-request-body", "BAD_REQUEST_BODY", "400", BAD_ORDER_TEMPLATE),
                ("unsupported-media-type", "UNSUPPORTED_MEDIA_TYPE", "415", UNSUPPORTED_TEMPLATE),
            )
        ]
        return [self._model, self._validator, *responses]

    def _routes(self, name: str, args: IntakeApiArgs) -> list[pulumi.Resource]:
        """POST /orders -> SendMessage and GET /health -> GetQueueAttributes, each with a one-action role."""
        ctx, api_id = self._ctx, self.api.id
        queue_uri = pulumi.Output.all(ctx.partition, ctx.account_id).apply(
            lambda pa: f"arn:{pa[0]}:apigateway:{ctx.region}:sqs:path/{pa[1]}/{args.queue_name}"
        )
        # (path, verb, the role's one SQS action, request template, responses, body validated against the model)
        routes: list[tuple[str, str, str, str, list[tuple[str, str | None, str]], bool]] = [
            (ORDERS_PATH, "POST", "sqs:SendMessage", send_message_template(), POST_RESPONSES, True),
            (HEALTH_PATH, "GET", "sqs:GetQueueAttributes", HEALTH_TEMPLATE, HEALTH_RESPONSES, False),
        ]
        parts: list[pulumi.Resource] = []
        for path, verb, action, template, responses, validated in routes:
            role_suffix = "send" if path == ORDERS_PATH else "health"
            role = self._queue_role(f"{name}-{role_suffix}", action, args.queue_arn)
            resource = aws.apigateway.Resource(
                path, rest_api=api_id, parent_id=self.api.root_resource_id, path_part=path, opts=ctx.opts(self)
            )
            method = aws.apigateway.Method(
                f"{path}-{verb.lower()}",
                rest_api=api_id,
                resource_id=resource.id,
                http_method=verb,
                # GET /health stays anonymous: Route 53 health checkers cannot sign or send a key.
                authorization=method_authorization(args.auth) if path == ORDERS_PATH else "NONE",
                api_key_required=args.auth == "apiKey" and path == ORDERS_PATH,
                request_models={JSON: self._model.name} if validated else None,
                request_validator_id=self._validator.id if validated else None,
                opts=ctx.opts(self),
            )
            integration = self._sqs_integration(
                f"{path}-{verb.lower()}", api_id, resource, method, queue_uri, role, template, responses=responses
            )
            parts += [method, *integration]
        return parts

    def _auth_definition(self, args: IntakeApiArgs) -> dict[str, Any]:
        return {"auth": args.auth, "roles": sorted(args.client_role_arns)}

    def _resource_policy(self, name: str, args: IntakeApiArgs) -> list[pulumi.Resource]:
        """With `iam`, the resource policy that names who may POST /orders (see `resource_policy`)."""
        if args.auth != "iam":
            return []
        ctx = self._ctx
        roles = tuple(args.client_role_arns)
        policy = aws.apigateway.RestApiPolicy(
            name,
            rest_api_id=self.api.id,
            policy=pulumi.Output.all(ctx.partition, ctx.account_id).apply(
                lambda pa: resource_policy(pa[0], pa[1], roles)
            ),
            opts=ctx.opts(self),
        )
        return [policy]

    def _api_keys(self, name: str, args: IntakeApiArgs) -> dict[str, pulumi.Output[str]]:
        """One usage plan on the stage; one key per client in it, each with its own quota and throttle.

        A usage plan's limits apply per key, so one client cannot spend another's budget; each key's
        throttle is the stage's divided by the number of clients, so all of them together fit the stage.
        """
        ctx, settings, clients = self._ctx, args.settings, list(args.api_key_clients)
        share = max(1, len(clients))
        plan = aws.apigateway.UsagePlan(
            name,
            name=ctx.name(name, kind="api"),
            description="Order intake clients: per-key daily quota and throttle",
            api_stages=[aws.apigateway.UsagePlanApiStageArgs(api_id=self.api.id, stage=self.stage.stage_name)],
            quota_settings=aws.apigateway.UsagePlanQuotaSettingsArgs(limit=args.api_key_daily_quota, period="DAY"),
            throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                rate_limit=max(1, settings.throttle_rate_limit // share),
                burst_limit=max(1, settings.throttle_burst_limit // share),
            ),
            opts=ctx.opts(self),
        )
        ids: dict[str, pulumi.Output[str]] = {}
        for client in clients:
            key = aws.apigateway.ApiKey(
                f"{name}-{client}",
                name=ctx.name(f"{name}-{client}", kind="api"),
                description=f"Order intake key of client {client}",
                enabled=True,
                opts=ctx.opts(self),
            )
            aws.apigateway.UsagePlanKey(
                f"{name}-{client}", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=ctx.opts(self)
            )
            ids[client] = key.id
        return ids

    def _deployment(
        self, name: str, queue_name: str, parts: list[pulumi.Resource], *, auth: dict[str, Any]
    ) -> aws.apigateway.Deployment:
        """A deployment is a snapshot: redeploy whenever the definition (auth and resource policy included) changes."""
        definition = {
            "auth": auth,
            "model": order_model_schema(),
            "requests": [send_message_template(), HEALTH_TEMPLATE, INTEGRATION_HEADERS],
            "responses": [POST_RESPONSES, HEALTH_RESPONSES],
            "gatewayResponses": [BAD_ORDER_TEMPLATE, UNSUPPORTED_TEMPLATE],
            "queue": queue_name,
        }
        return aws.apigateway.Deployment(
            name,
            rest_api=self.api.id,
            description="Order intake",
            triggers={"redeployment": hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()},
            opts=self._ctx.opts(self, depends_on=parts),
        )

    def _stage(
        self, name: str, settings: FrontDoorConfig, deployment: aws.apigateway.Deployment
    ) -> aws.apigateway.Stage:
        """The stage with JSON access logs and the throttle; optionally the account's CloudWatch role."""
        ctx = self._ctx
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-access",
            name=naming.fit("log-group", f"/aws/apigateway/{self.api_name}/access"),
            retention_in_days=settings.access_log_retention_days,
            opts=ctx.opts(self),
        )
        stage_deps = [self._account_log_role(name)] if settings.manage_account_log_role else []
        stage = aws.apigateway.Stage(
            name,
            rest_api=self.api.id,
            deployment=deployment.id,
            stage_name=settings.stage_name,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=log_group.arn, format=ACCESS_LOG_FORMAT
            ),
            opts=ctx.opts(self, depends_on=stage_deps),
        )
        # Execution logging (logging_level below) writes to a group API Gateway creates on first use unless it
        # exists: created here, it has a retention and goes with the stack on `pulumi destroy`.
        execution_logs = aws.cloudwatch.LogGroup(
            f"{name}-execution",
            name=self.api.id.apply(lambda api_id: f"API-Gateway-Execution-Logs_{api_id}/{settings.stage_name}"),
            retention_in_days=settings.access_log_retention_days,
            opts=ctx.opts(self),
        )
        aws.apigateway.MethodSettings(
            name,
            rest_api=self.api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                metrics_enabled=True,
                logging_level="ERROR",
                data_trace_enabled=False,  # bodies are customer data: never in execution logs
            ),
            opts=ctx.opts(self, depends_on=[execution_logs]),
        )
        return stage

    def _account_log_role(self, name: str) -> aws.apigateway.Account:
        """API Gateway writes logs only once its regional account setting names a CloudWatch role."""
        ctx = self._ctx
        logs = role_with_policy(
            f"{name}-cloudwatch",
            ctx,
            self,
            role_name=ctx.name(f"{name}-cloudwatch", ctx.region, kind="iam-role"),
            service=APIGATEWAY,
            managed_policies={f"{name}-cloudwatch": "service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
        )
        return aws.apigateway.Account(
            name, cloudwatch_role_arn=logs.role.arn, opts=ctx.opts(self, depends_on=logs.grants)
        )

    def _queue_role(self, name: str, action: str, queue_arn: pulumi.Input[str]) -> Role:
        """A role API Gateway assumes for one SQS action on the order queue: its derived ARN and resources."""
        ctx = self._ctx
        role_name = ctx.name(name, ctx.region, kind="iam-role")  # IAM is global: the region keeps stacks apart
        queue_role = role_with_policy(
            name,
            ctx,
            self,
            role_name=role_name,
            service=APIGATEWAY,
            policy=pulumi.Output.from_input(queue_arn).apply(lambda arn: _queue_policy(action, arn)),
        )
        # Derived, not `role.arn`, so the integration's credentials are known at preview.
        return ctx.arn("iam", f"role/{role_name}", regional=False), [queue_role.role, *queue_role.grants]

    def _sqs_integration(
        self,
        name: str,
        api_id: pulumi.Output[str],
        resource: aws.apigateway.Resource,
        method: aws.apigateway.Method,
        queue_uri: pulumi.Output[str],
        role: Role,
        template: str,
        responses: list[tuple[str, str | None, str]],
    ) -> list[pulumi.Resource]:
        """An AWS service integration with the SQS query API, and its method/integration responses.

        `passthrough_behavior=NEVER`: a body whose content type has no template (anything but JSON) is
        refused with 415 instead of being forwarded unvalidated.
        """
        ctx = self._ctx
        integration = aws.apigateway.Integration(
            name,
            rest_api=api_id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS",
            integration_http_method="POST",
            uri=queue_uri,
            credentials=role[0],
            passthrough_behavior="NEVER",
            request_parameters=INTEGRATION_HEADERS,
            request_templates={JSON: template},
            opts=ctx.opts(self, depends_on=role[1]),
        )
        parts: list[pulumi.Resource] = [integration]
        for status, pattern, body in responses:
            parts += self._status_response(
                f"{name}-{status}", api_id, resource, method, integration, status, pattern, body
            )
        return parts

    def _status_response(
        self,
        name: str,
        api_id: pulumi.Output[str],
        resource: aws.apigateway.Resource,
        method: aws.apigateway.Method,
        integration: aws.apigateway.Integration,
        status: str,
        pattern: str | None,
        body: str,
    ) -> list[pulumi.Resource]:
        """One status the method can answer: its method response, and the integration response that maps
        SQS replies matching `pattern` (None: the default) to it with `body` as the template."""
        ctx = self._ctx
        method_response = aws.apigateway.MethodResponse(
            name,
            rest_api=api_id,
            resource_id=resource.id,
            http_method=method.http_method,
            status_code=status,
            response_models={JSON: "Empty"},
            opts=ctx.opts(self),
        )
        integration_response = aws.apigateway.IntegrationResponse(
            name,
            rest_api=api_id,
            resource_id=resource.id,
            http_method=method.http_method,
            status_code=status,
            selection_pattern=pattern,
            response_templates={JSON: body},
            opts=ctx.opts(self, depends_on=[integration, method_response]),
        )
        return [method_response, integration_response]

    def _custom_domain(self, name: str, domain_name: str, zone_id: pulumi.Input[str]) -> aws.apigateway.DomainName:
        """ACM certificate validated through DNS, the regional custom domain, and the stage mapped at its root."""
        ctx = self._ctx
        cert = aws.acm.Certificate(name, domain_name=domain_name, validation_method="DNS", opts=ctx.opts(self))
        option = cert.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=ctx.opts(self),
        )
        validated = aws.acm.CertificateValidation(
            name, certificate_arn=cert.arn, validation_record_fqdns=[record.fqdn], opts=ctx.opts(self)
        )
        domain = aws.apigateway.DomainName(
            name,
            domain_name=domain_name,
            regional_certificate_arn=validated.certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(types="REGIONAL"),
            security_policy="TLS_1_2",
            opts=ctx.opts(self),
        )
        aws.apigateway.BasePathMapping(
            name,
            rest_api=self.api.id,
            stage_name=self.stage.stage_name,
            domain_name=domain.domain_name,
            opts=ctx.opts(self),
        )
        return domain


def intake_alarms(api_name: str, stage_name: str) -> list[AlarmSpec]:
    """5XX means the path to the queue is broken, not a bad order."""
    return [
        AlarmSpec(
            name="intake-5xx",
            description=f"{api_name} answered 5XX: orders are not reaching the queue (role, queue or SQS).",
            namespace="AWS/ApiGateway",
            metric="5XXError",
            dimensions={"ApiName": api_name, "Stage": stage_name},
            threshold=0,
            statistic="Sum",
        )
    ]


def intake_widget(region: str, api_name: str, stage_name: str) -> MetricWidget:
    dims = ["ApiName", api_name, "Stage", stage_name]
    return metric_widget(
        "Intake API",
        region,
        [
            ["AWS/ApiGateway", "Count", *dims],
            ["AWS/ApiGateway", "4XXError", *dims],
            ["AWS/ApiGateway", "5XXError", *dims],
            ["AWS/ApiGateway", "Latency", *dims, {"yAxis": "right", "stat": "p99"}],
        ],
        stat="Sum",
    )
