"""Security: who may call the API, a WAF on the public stage, VPC flow logs, RDS log exports.

Three of the four rules relate resources (a method to its path, a stage to its web ACL association,
a VPC to its flow log), so they are stack rules and follow the DLQ rule's way of relating them: a
property dependency first (the engine records one whenever an input is built from another resource's
output, so it works in preview when the id or ARN is still unknown), else the resolved value. A
relation that cannot be decided either way is reported as not checked, never as passed or failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .core import Res, Rule, Verdict, as_bool, is_unknown, listify

METHOD = "aws:apigateway/method:Method"
API_RESOURCE = "aws:apigateway/resource:Resource"
REST_API = "aws:apigateway/restApi:RestApi"
STAGE = "aws:apigateway/stage:Stage"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DB_INSTANCE = "aws:rds/instance:Instance"

AUTHORIZED = ("AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM")
NEEDS_AUTHORIZER = ("COGNITO_USER_POOLS", "CUSTOM")


def _dep(resources: Sequence[Res], source: Res, prop: str, types: Sequence[str]) -> Res | None:
    by_urn = {r.urn: r for r in resources}
    for urn in source.deps(prop):
        target = by_urn.get(urn)
        if target is not None and target.type in types:
            return target
    return None


def _known(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not is_unknown(value)


# --- API Gateway: every method is authorized, except the listed anonymous paths --------------------------


def _resource_path(resources: Sequence[Res], resource: Res, seen: frozenset[str] = frozenset()) -> str | None:
    """`/a/b` for an API Gateway Resource, walking parentId up to the API's root; None if undecidable."""
    path = resource.get("path")
    if _known(path):
        return str(path)
    part = resource.get("pathPart")
    if not _known(part) or resource.urn in seen:
        return None
    # Only a property dependency names the parent: a Resource's or API's id is an output, never an input.
    parent = _dep(resources, resource, "parentId", (API_RESOURCE, REST_API))
    if parent is None:
        return None
    if parent.type == REST_API:
        return f"/{part}"
    above = _resource_path(resources, parent, seen | {resource.urn})
    return None if above is None else f"{above.rstrip('/')}/{part}"


def _method_path(resources: Sequence[Res], method: Res) -> str | None:
    target = _dep(resources, method, "resourceId", (API_RESOURCE, REST_API))
    if target is None:
        return None  # a literal id (a resource outside the stack) or an unknown one: the path is undecidable
    if target.type == REST_API:
        return "/"  # resourceId = restApi.rootResourceId
    return _resource_path(resources, target)


def _anonymous(path: str, http_method: Any, allowed: Sequence[str]) -> bool:
    """An entry is a path (`/health`: any method) or `METHOD /path` (`GET /health`)."""
    verb = str(http_method).upper() if _known(http_method) else ""
    for entry in allowed:
        entry = entry.strip()
        if " " in entry:
            want_verb, want_path = entry.split(None, 1)
            if want_path.strip() == path and want_verb.upper() in (verb, "ANY"):
                return True
        elif entry == path:
            return True
    return False


def check_api_methods_authorized(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    allowed = [str(p) for p in cfg["anonymousPaths"]]
    for method in (r for r in resources if r.type == METHOD):
        authorization = method.get("authorization")
        api_key = method.get("apiKeyRequired")
        if is_unknown(authorization) or is_unknown(api_key):
            verdict.unknown(f"{method.label}: authorization / apiKeyRequired")
            continue
        kind = str(authorization or "").upper()
        if kind in NEEDS_AUTHORIZER:
            authorizer = method.get("authorizerId")
            if authorizer is None and not method.deps("authorizerId"):
                verdict.fail(
                    f"{method.label}: authorization {kind} names no authorizerId; attach the "
                    "aws.apigateway.Authorizer that checks the caller",
                    method.urn,
                )
            continue
        if kind in AUTHORIZED or as_bool(api_key) is True:
            continue
        path = _method_path(resources, method)
        verb = method.get("httpMethod")
        if path is None:
            verdict.unknown(f"{method.label}: which path its resourceId names (authorization {kind or 'NONE'})")
            continue
        if _anonymous(path, verb, allowed):
            continue
        shown = f"{verb} {path}" if _known(verb) else path
        verdict.fail(
            f"{method.label} ({shown}) takes authorization {kind or 'NONE'} with no API key: anyone can call it; "
            "set authorization AWS_IAM (SigV4), COGNITO_USER_POOLS or CUSTOM with an authorizer, or "
            f"apiKeyRequired: true with a usage plan, or list the path in anonymousPaths (now {allowed})",
            method.urn,
        )
    return verdict


# --- WAF v2 on every public REST API stage ------------------------------------------------------------------


def _stage_from_arn(arn: str) -> tuple[str, str] | None:
    """`arn:aws:apigateway:<region>::/restapis/<api id>/stages/<stage name>` -> (api id, stage name)."""
    marker = "/restapis/"
    if not arn.startswith("arn:") or marker not in arn:
        return None
    rest = arn.split(marker, 1)[1].split("/")
    if len(rest) == 3 and rest[1] == "stages":
        return rest[0], rest[2]
    return None


def _api_of(resources: Sequence[Res], stage: Res) -> Res | None:
    return _dep(resources, stage, "restApi", (REST_API,))


def _private(api: Res | None) -> bool | None:
    if api is None:
        return False  # an API outside the stack: treat its stage as public (the safe side)
    types = api.get("endpointConfiguration.types")
    if is_unknown(types):
        return None
    return "PRIVATE" in [str(t).upper() for t in listify(types)]


def check_stage_has_waf(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    stages = [r for r in resources if r.type == STAGE]
    associations = [r for r in resources if r.type == WEB_ACL_ASSOCIATION]
    covered: set[str] = set()
    unresolved = []
    for association in associations:
        stage = _dep(resources, association, "resourceArn", (STAGE,))
        if stage is not None:
            covered.add(stage.urn)
            continue
        arn = association.get("resourceArn")
        named = _stage_from_arn(arn) if _known(arn) else None
        if named is None:
            if not _known(arn):
                unresolved.append(association)
            continue
        for candidate in stages:  # resolved values: the ARN names the stage's API id and stage name
            if (candidate.get("restApi"), candidate.get("stageName")) == named:
                covered.add(candidate.urn)
    for stage in stages:
        if stage.urn in covered:
            continue
        private = _private(_api_of(resources, stage))
        if private is None:
            verdict.unknown(f"{stage.label}: whether its REST API is PRIVATE (endpointConfiguration.types)")
            continue
        if private:
            continue  # reachable only through a VPC endpoint; the endpoint policy is the door
        if unresolved:
            names = ", ".join(a.name for a in unresolved)
            verdict.unknown(f"{stage.label}: no web ACL association names it, but {names} has an unknown resourceArn")
            continue
        verdict.fail(
            f"{stage.label} is a public REST API stage with no WAF: add an aws.wafv2.WebAclAssociation "
            "(resourceArn = the stage's arn) to a REGIONAL web ACL with a per-IP rate-based rule and the AWS "
            "managed common and known-bad-inputs rule groups",
            stage.urn,
        )
    return verdict


# --- VPC flow logs -------------------------------------------------------------------------------------------


def check_vpc_flow_logs(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    traffic_types = [str(t).upper() for t in cfg["trafficTypes"]]
    logged: set[str] = set()
    wrong_traffic: dict[str, str] = {}
    unresolved = []
    for flow_log in (r for r in resources if r.type == FLOW_LOG):
        vpc = _dep(resources, flow_log, "vpcId", (VPC,)) or _dep(resources, flow_log, "resourceId", (VPC,))
        if vpc is None:
            # A VPC's id is an output, so only a dependency names a VPC of this stack; a literal id is
            # another VPC's, and an unknown one without a dependency cannot be placed.
            if any(is_unknown(flow_log.get(prop)) for prop in ("vpcId", "resourceId")):
                unresolved.append(flow_log)
            continue
        traffic = flow_log.get("trafficType")
        if is_unknown(traffic):
            verdict.unknown(f"{flow_log.label}: trafficType")
            logged.add(vpc.urn)
        elif str(traffic or "").upper() in traffic_types:
            logged.add(vpc.urn)
        else:
            wrong_traffic.setdefault(vpc.urn, str(traffic))
    for vpc in (r for r in resources if r.type == VPC):
        if vpc.urn in logged:
            continue
        if vpc.urn in wrong_traffic:
            verdict.fail(
                f"{vpc.label}: its flow log records trafficType {wrong_traffic[vpc.urn]}; record one of "
                f"{traffic_types} so rejected connections are in the trail",
                vpc.urn,
            )
            continue
        if unresolved:
            names = ", ".join(sorted({f.name for f in unresolved}))
            verdict.unknown(f"{vpc.label}: no flow log names it, but {names} has an unknown vpcId")
            continue
        verdict.fail(
            f"{vpc.label} has no flow log: add an aws.ec2.FlowLog with vpcId = the VPC's id, trafficType "
            "ALL (or REJECT), to an encrypted CloudWatch log group with retention or an S3 bucket",
            vpc.urn,
        )
    return verdict


# --- RDS log exports -------------------------------------------------------------------------------------------


def check_rds_log_exports(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    required: Mapping[str, Sequence[str]] = cfg["requiredExports"]
    engine = res.get("engine")
    if is_unknown(engine):
        verdict.unknown(f"{res.label}: engine")
        return verdict
    if not isinstance(engine, str) or not engine:
        return verdict  # a replica or snapshot restore takes its engine from the source: nothing to decide here
    family = engine.lower()
    wanted = list(required.get(family) or [])
    if not wanted:
        return verdict
    exports = res.get("enabledCloudwatchLogsExports")
    if is_unknown(exports) or any(is_unknown(e) for e in listify(exports)):
        verdict.unknown(f"{res.label}: enabledCloudwatchLogsExports")
        return verdict
    have = {str(e) for e in listify(exports)}
    missing = [w for w in wanted if w not in have]
    if missing:
        verdict.fail(
            f"{res.label} ({engine}) does not export {missing} to CloudWatch Logs "
            f"(enabledCloudwatchLogsExports is {sorted(have) if have else 'not set'}); add them so database "
            "errors and failed logins are searchable and alarmable",
        )
    return verdict


RULES = [
    Rule(
        id="apigateway-method-authorized",
        description=(
            "Every API Gateway method requires authorization (AWS_IAM, COGNITO_USER_POOLS or CUSTOM) or an API key, "
            "except the configured anonymous paths."
        ),
        level="mandatory",
        control="Checkov CKV_AWS_59 (API Gateway method with authorization NONE and no API key)",
        scope="stack",
        check=check_api_methods_authorized,
        config={
            "anonymousPaths": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["/health"],
                "description": (
                    "Paths any caller may reach: `/path` (every method) or `METHOD /path`. Keep it to what "
                    "a health checker needs."
                ),
            }
        },
        remediation="Set authorization AWS_IAM (or an authorizer), or apiKeyRequired: true with a usage plan.",
    ),
    Rule(
        id="apigateway-stage-waf",
        description="Every public (non-PRIVATE) REST API stage is associated with a WAF v2 web ACL.",
        level="advisory",
        control="Checkov CKV2_AWS_29; Security Hub FSBP APIGateway.4",
        scope="stack",
        check=check_stage_has_waf,
        remediation="Add an aws.wafv2.WebAclAssociation whose resourceArn is the stage's arn.",
    ),
    Rule(
        id="vpc-flow-logs",
        description="Every VPC has a flow log that records rejected traffic (trafficType ALL or REJECT).",
        level="mandatory",
        control="Checkov CKV2_AWS_11; Security Hub FSBP EC2.6",
        scope="stack",
        check=check_vpc_flow_logs,
        config={
            "trafficTypes": {
                "type": "array",
                "items": {"type": "string", "enum": ["ALL", "REJECT", "ACCEPT"]},
                "default": ["ALL", "REJECT"],
                "description": "Flow log trafficType values that count (FSBP EC2.6 requires rejects to be logged).",
            }
        },
        remediation="Add an aws.ec2.FlowLog with vpcId = the VPC's id and trafficType ALL.",
    ),
    Rule(
        id="rds-log-exports",
        description="RDS instances export their engine's logs to CloudWatch Logs (postgres: postgresql).",
        level="mandatory",
        control="Checkov CKV_AWS_129; Security Hub FSBP RDS.9",
        scope="resource",
        check=check_rds_log_exports,
        types=(DB_INSTANCE,),
        config={
            "requiredExports": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {"postgres": ["postgresql"]},
                "description": (
                    "Engine -> the enabledCloudwatchLogsExports it must include (an engine not listed is not "
                    "checked; Aurora members export at the cluster)."
                ),
            }
        },
        remediation='Set enabledCloudwatchLogsExports: ["postgresql", "upgrade"] on postgres instances.',
    ),
]
