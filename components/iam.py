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


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal (e.g. `lambda.amazonaws.com`) assume the role."""
    return json.dumps(
        {
            "Version": VERSION,
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )
