"""IAM for every tier: policy documents as plain JSON strings (one statement builder, one trust policy, one
service resource policy) and `role_with_policy`, the one way a tier creates a role with its permissions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext

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


def aws_managed_policy_arn(partition: pulumi.Input[str], path: str) -> pulumi.Output[str]:
    """`arn:<partition>:iam::aws:policy/<path>`: an AWS-managed policy, e.g. `service-role/AmazonECSTaskExecutionRolePolicy`."""
    return pulumi.Output.from_input(partition).apply(lambda p: f"arn:{p}:iam::aws:policy/{path}")


@dataclass(frozen=True)
class RoleWithPolicy:
    """A role and what grants it permissions: its inline policy (if any) and its managed-policy attachments."""

    role: aws.iam.Role
    policy: aws.iam.RolePolicy | None
    attachments: tuple[aws.iam.RolePolicyAttachment, ...]

    @property
    def grants(self) -> list[pulumi.Resource]:
        """The inline policy and the attachments: what a resource that acts with the role waits for (`depends_on`),
        since the role alone exists before it may do anything."""
        return [*([self.policy] if self.policy is not None else []), *self.attachments]


def role_with_policy(
    name: str,
    ctx: AwsContext,
    parent: pulumi.Resource,
    *,
    role_name: str,
    service: str | None = None,
    trust: pulumi.Input[str] | None = None,
    policy: pulumi.Input[str] | None = None,
    managed_policies: Mapping[str, str] | None = None,
    description: str | None = None,
) -> RoleWithPolicy:
    """An IAM role `name` (physical name `role_name`), trusted by one AWS `service` principal (or by the
    `trust` document, e.g. one with a condition), with `policy` inline as the RolePolicy `name`, and each
    `managed_policies` entry (resource name -> AWS-managed policy path, e.g. `{"x-ssm":
    "AmazonSSMManagedInstanceCore"}`) attached. All are children of `parent`, on `ctx`'s provider, created in
    that order. The inline policy names the role by `role.id`, an attachment by `role.name` (the AWS provider's
    own examples; both are the role's name). Logical names are the URNs: changing one replaces the resource."""
    if (service is None) == (trust is None):
        raise ValueError(f"role {name!r}: give exactly one of service= or trust=")
    if policy is None and not managed_policies:
        raise ValueError(f"role {name!r}: give policy= or managed_policies= (a role with no permissions is a mistake)")
    role = aws.iam.Role(
        name,
        name=role_name,
        assume_role_policy=assume_role_policy(service) if service is not None else trust,
        description=description,
        opts=ctx.opts(parent),
    )
    inline = (
        aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=ctx.opts(parent)) if policy is not None else None
    )
    attachments = tuple(
        aws.iam.RolePolicyAttachment(
            attachment, role=role.name, policy_arn=aws_managed_policy_arn(ctx.partition, path), opts=ctx.opts(parent)
        )
        for attachment, path in (managed_policies or {}).items()
    )
    return RoleWithPolicy(role=role, policy=inline, attachments=attachments)
