"""A denied AWS call, made loud: one log line naming the principal, the action and the resource.

A process whose role lacks a permission otherwise shows only a retry, a poison-message count or a
stack trace far from the cause. `watch_denials(session)` hooks botocore's `after-call` event, so every
client of the session reports an AccessDenied answer (whatever the service calls it) as one ERROR line:

    access denied: arn:aws:sts::123456789012:assumed-role/orders-dev-workers/i-0abc may not
    dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/orders-dev-orders (AccessDeniedException)

The names come from the error message AWS writes ("User: <principal> is not authorized to perform:
<action> on resource: <resource> ..."); a message that names no resource gets the one the request named
(its table, queue, bucket and key, topic or secret), and an error without that text is logged with the
operation instead.
`parse_denial` reads such a line back (the local demo's check does).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import boto3

log = logging.getLogger("worker.access")

DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation", "Forbidden"}
)
"""Error codes AWS services use for an authorization failure."""
_AWS_MESSAGE = re.compile(
    r"User: (?P<principal>\S+) is not authorized to perform: (?P<action>[\w-]+:[\w*]+)"
    r"(?: on resource: (?P<resource>[^\s,;]+))?"
)
_LINE = re.compile(
    r"access denied: (?P<principal>\S+) may not (?P<action>\S+) on (?P<resource>\S+) \((?P<code>[^)]*)\)"
)


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str
    code: str

    def line(self) -> str:
        return f"access denied: {self.principal} may not {self.action} on {self.resource} ({self.code})"


def denial_of(error: dict[str, Any], operation: str, requested: str = "") -> Denial | None:
    """The denial an error response describes (`requested`: the resource the request named), or None."""
    code = str(error.get("Code", ""))
    if code not in DENIED_CODES:
        return None
    match = _AWS_MESSAGE.search(str(error.get("Message", "")))
    if match is None:
        return Denial("(unnamed principal)", operation, requested or "(unnamed resource)", code)
    return Denial(match["principal"], match["action"], match["resource"] or requested or "*", code)


RESOURCE_PARAMETERS = ("TableName", "QueueUrl", "TopicArn", "SecretId", "AutoScalingGroupName", "WorkgroupName")


def requested_resource(params: dict[str, Any]) -> str:
    """The resource a request names: its table, queue, topic, secret...; `bucket/key` for S3."""
    if "Bucket" in params:
        return "/".join(str(params[k]) for k in ("Bucket", "Key") if k in params)
    return next((str(params[k]) for k in RESOURCE_PARAMETERS if k in params), "")


def _remember_resource(params: Any = None, context: Any = None, **_: Any) -> None:
    if isinstance(params, dict) and isinstance(context, dict):
        context["orders_requested_resource"] = requested_resource(params)


def parse_denial(text: str) -> Denial | None:
    """A `Denial.line()` found in `text` (a log line), or None."""
    match = _LINE.search(text)
    return Denial(match["principal"], match["action"], match["resource"], match["code"]) if match else None


def _after_call(parsed: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Error"), dict):
        return
    operation = f"{model.service_model.service_name}:{model.name}" if model is not None else "(unknown operation)"
    requested = context.get("orders_requested_resource", "") if isinstance(context, dict) else ""
    denial = denial_of(parsed["Error"], operation, requested)
    if denial is not None:
        log.error(denial.line())


def watch_denials(session: Any) -> None:
    """Log every AccessDenied answer any client of this boto3 session gets (see the module docstring)."""
    session.events.register("before-parameter-build", _remember_resource, unique_id="orders-denied-resource")
    session.events.register("after-call", _after_call, unique_id="orders-watch-denials")


def watched_session(**kwargs: Any) -> boto3.session.Session:
    """A boto3 session whose clients log every AccessDenied answer."""
    session = boto3.session.Session(**kwargs)
    watch_denials(session)
    return session
