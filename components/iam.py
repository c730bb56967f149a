"""IAM policy documents as plain JSON strings: one statement builder and one trust policy for every tier."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

VERSION = "2012-10-17"


def statement(sid: str, actions: Sequence[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    """An Allow statement; `extra` adds keys such as `Condition`."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources, **extra}


def policy_document(statements: list[dict[str, Any]], *, sort_keys: bool = True) -> str:
    return json.dumps({"Version": VERSION, "Statement": statements}, sort_keys=sort_keys)


def service_resource_policy(
    sid: str, service: str, action: str, resource: str, *, source_arn: str, account_id: str | None = None
) -> str:
    """A resource policy letting one AWS service principal take `action` on `resource` only on behalf of
    `source_arn` (and, when given, only for `account_id`): the confused-deputy guard every topic and queue
    policy here needs. With an account the source is `ArnLike` (wildcards allowed), else `ArnEquals`."""
    if account_id is None:
        condition: dict[str, Any] = {"ArnEquals": {"aws:SourceArn": source_arn}}
    else:
        condition = {"ArnLike": {"aws:SourceArn": source_arn}, "StringEquals": {"aws:SourceAccount": account_id}}
    grant = {"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": resource}
    return json.dumps({"Version": VERSION, "Statement": [{**grant, "Condition": condition}]})


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal (e.g. `lambda.amazonaws.com`) assume the role."""
    return json.dumps(
        {
            "Version": VERSION,
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )
