"""Who may do what on which resource: the access matrix of a stack, read from its captured resource graph.

Principals are the IAM roles the program creates (with who may assume them and which resources use them)
and every principal a resource policy names (SQS queue policies, SNS topic policies, S3 bucket policies,
the KMS key policy, Lambda permissions): AWS services, accounts, anyone (`*`). For each, the Allow
statements that apply, with actions, resources and conditions; ARNs are shown as the logical resource
they belong to wherever the graph says which one it is. Deny statements are listed apart.

`python -m offline.access_matrix` writes docs/access-matrix.md; tests/test_access_matrix.py regenerates
it and fails on any difference, so a change that widens access shows up in review as a diff.
The one dependency on the graph harness is `capture()`.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "access-matrix.md"
COMMAND = "python -m offline.access_matrix"

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_OBJECT_TYPES = ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")
KEY = "aws:kms/key:Key"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
FUNCTION = "aws:lambda/function:Function"
DB_INSTANCE = "aws:rds/instance:Instance"


@dataclass(frozen=True)
class Node:
    """A resource as the matrix needs it: plain inputs, the outputs the mocks resolved, its dependencies."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    property_dependencies: Mapping[str, Sequence[str]]

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} `{self.name}`"

    def deps(self, prop: str) -> list[str]:
        return list(self.property_dependencies.get(prop, []))


def capture(stack: str = "dev") -> list[Node]:
    """Run the program for `stack` under mocks (update mode: every ARN resolved) and keep what the matrix reads."""
    from offline.graph import run_program, stack_config

    graph = run_program(stack_config(stack), stack=stack)
    return [
        Node(
            type=r.type,
            name=r.name,
            urn=r.urn,
            inputs=r.inputs,
            outputs=r.outputs,
            property_dependencies={k: list(v) for k, v in r.property_dependencies.items()},
        )
        for r in graph.resources
    ]


# --- naming ARNs -----------------------------------------------------------------------------------------


class Names:
    """ARN -> the logical resource it belongs to, from the ARNs the graph resolved."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.by_arn: dict[str, str] = {}
        for node in nodes:
            if node.type.startswith("pulumi:providers:"):
                continue
            arn = node.outputs.get("arn")
            # Only types whose mock ARN is the real one: policies and attachments get placeholder ARNs.
            if isinstance(arn, str) and arn.startswith("arn:") and node.type not in _PLACEHOLDER_ARN_TYPES:
                self.by_arn.setdefault(arn, node.label)
            if node.type in BUCKET_OBJECT_TYPES:
                bucket, key = node.outputs.get("bucket") or node.inputs.get("bucket"), node.outputs.get("key")
                if isinstance(bucket, str) and isinstance(key, str):
                    self.by_arn[f"arn:aws:s3:::{bucket}/{key}"] = node.label
            if node.type == DB_INSTANCE:
                for secret in node.outputs.get("masterUserSecrets") or []:
                    if isinstance(secret, Mapping) and isinstance(secret.get("secretArn"), str):
                        self.by_arn[secret["secretArn"]] = f"master user secret of {node.label}"

    def describe(self, arn: Any, *, attached_to: str = "") -> str:
        """A readable name for one ARN (or pattern) of a policy statement."""
        if not isinstance(arn, str):
            return f"`{json.dumps(arn)}`"
        if arn == "*":
            return attached_to or "`*` (every resource)"
        if arn in self.by_arn:
            return self.by_arn[arn]
        for suffix, what in ((":log-stream:*", "its log streams"), (":*", "its log streams")):
            if arn.startswith("arn:aws:logs:") and arn.endswith(suffix) and arn[: -len(suffix)] in self.by_arn:
                return f"{self.by_arn[arn[: -len(suffix)]]}, {what}"
        if arn.startswith("arn:aws:s3:::") and "/" in arn:
            bucket, _, key = arn.partition("/")
            if bucket in self.by_arn:
                return f"{self.by_arn[bucket]}, objects `{key}`"
        if any(c in arn for c in "*?"):
            matched = sorted({label for known, label in self.by_arn.items() if fnmatch.fnmatchcase(known, arn)})
            if matched:
                return f"{', '.join(matched)} (pattern `{arn}`)"
        return f"`{arn}`"


_PLACEHOLDER_ARN_TYPES = frozenset(
    {
        ROLE_POLICY,
        ROLE_ATTACHMENT,
        QUEUE_POLICY,
        TOPIC_POLICY,
        BUCKET_POLICY,
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:s3/bucketNotification:BucketNotification",
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        *BUCKET_OBJECT_TYPES,
        "aws:apigateway/method:Method",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/account:Account",
        "aws:apigateway/deployment:Deployment",
    }
)


# --- the matrix ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    effect: str  # Allow or Deny
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # readable names
    raw_resources: tuple[str, ...]  # as written (ARNs, `*`)
    condition: str
    source: str  # which policy and statement

    @property
    def row(self) -> str:
        return f"| {', '.join(f'`{a}`' for a in self.actions)} | {'<br>'.join(self.resources)} | {self.condition or '-'} | {self.source} |"


@dataclass
class Principal:
    key: str  # sort key and identity: `role:<name>`, `service:<name>`, `aws:<arn>`, `public`
    title: str
    kind: str
    trusted_by: list[str] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)
    managed_policies: list[str] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)

    def allows(self, action: str) -> list[Grant]:
        return [
            g
            for g in self.grants
            if g.effect == "Allow" and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in g.actions)
        ]


def _document(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, Mapping) else {}
    return {}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _list(document.get("Statement")) if isinstance(s, Mapping)]


def _condition(statement: Mapping[str, Any], names: Names) -> str:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return ""
    parts = []
    for operator in sorted(condition):
        block = condition[operator]
        if not isinstance(block, Mapping):
            continue
        for key in sorted(block):
            values = [
                names.describe(v) if isinstance(v, str) and v.startswith("arn:") else f"`{v}`"
                for v in _list(block[key])
            ]
            parts.append(f"{operator} `{key}` = {', '.join(values)}")
    return "; ".join(parts)


def _grant(statement: Mapping[str, Any], index: int, where: str, names: Names, attached_to: str = "") -> Grant:
    negated_actions = "NotAction" in statement
    actions = sorted(str(a) for a in _list(statement.get("NotAction" if negated_actions else "Action")))
    if negated_actions:
        actions = [f"NOT {a}" for a in actions]
    negated_resources = "NotResource" in statement
    raw = [str(r) for r in _list(statement.get("NotResource" if negated_resources else "Resource"))]
    if not raw and attached_to:
        raw = ["*"]
    resources = [names.describe(r, attached_to=attached_to) for r in raw]
    if negated_resources:
        resources = [f"NOT {r}" for r in resources]
    sid = statement.get("Sid") or f"#{index}"
    return Grant(
        effect=str(statement.get("Effect", "Allow")),
        actions=tuple(actions),
        resources=tuple(resources),
        raw_resources=tuple(raw),
        condition=_condition(statement, names),
        source=f"{where}, statement `{sid}`",
    )


def _principals_of(principal: Any) -> list[tuple[str, str, str]]:
    """Statement Principal -> (key, title, kind) for each principal it names."""
    if principal == "*":
        return [("public", "anyone (`*`)", "public")]
    found = []
    if isinstance(principal, Mapping):
        for service in _list(principal.get("Service")):
            found.append((f"service:{service}", f"`{service}`", "AWS service"))
        for aws in _list(principal.get("AWS")):
            if aws == "*":
                found.append(("public", "anyone (`*`)", "public"))
            elif isinstance(aws, str) and aws.endswith(":root"):
                account = aws.split(":")[4]
                found.append((f"aws:{aws}", f"account `{account}`", "account (its IAM policies decide)"))
            else:
                found.append((f"aws:{aws}", f"`{aws}`", "IAM principal"))
    return found


class _Builder:
    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)
        self.by_urn = {n.urn: n for n in self.nodes}
        self.names = Names(self.nodes)
        self.principals: dict[str, Principal] = {}

    def principal(self, key: str, title: str, kind: str) -> Principal:
        if key not in self.principals:
            self.principals[key] = Principal(key, title, kind)
        return self.principals[key]

    def target(self, node: Node, prop: str, types: Iterable[str]) -> Node | None:
        wanted = tuple(types)
        for urn in node.deps(prop):
            found = self.by_urn.get(urn)
            if found is not None and found.type in wanted:
                return found
        value = node.inputs.get(prop)
        for candidate in self.nodes:
            if (
                candidate.type in wanted
                and value
                and value
                in (
                    candidate.inputs.get("name"),
                    candidate.outputs.get("name"),
                    candidate.outputs.get("arn"),
                    candidate.outputs.get("url"),
                    candidate.outputs.get("id"),
                )
            ):
                return candidate
        return None

    def users(self, target: Node, skip: Iterable[str]) -> list[str]:
        """Resources that name `target` (by dependency or by its ARN in a top-level input)."""
        arn = target.outputs.get("arn")
        skipped = set(skip)
        found = []
        for node in self.nodes:
            if node.urn == target.urn or node.type in skipped:
                continue
            for prop in sorted(node.inputs):
                value = node.inputs[prop]
                if target.urn in node.deps(prop) or (arn and arn in json.dumps(value)):
                    found.append(f"{node.label} (`{prop}`)")
        return sorted(set(found))

    def roles(self) -> None:
        for role in (n for n in self.nodes if n.type == ROLE):
            physical = role.inputs.get("name") or role.name
            entry = self.principal(f"role:{role.name}", f"role `{role.name}` (`{physical}`)", "IAM role")
            for statement in _statements(_document(role.inputs.get("assumeRolePolicy"))):
                if statement.get("Effect") == "Allow":
                    for _, title, _ in _principals_of(statement.get("Principal")):
                        entry.trusted_by.append(title)
            used = self.users(role, (ROLE_POLICY, ROLE_ATTACHMENT))
            for profile in (
                n for n in self.nodes if n.type == INSTANCE_PROFILE and self.target(n, "role", (ROLE,)) == role
            ):
                used += [f"{u} via {profile.label}" for u in self.users(profile, ())]
            entry.used_by = sorted(set(used))
            for policy in (n for n in self.nodes if n.type == ROLE_POLICY and self.target(n, "role", (ROLE,)) == role):
                for index, statement in enumerate(_statements(_document(policy.inputs.get("policy")))):
                    entry.grants.append(_grant(statement, index, f"inline {policy.label}", self.names))
            for attachment in (n for n in self.nodes if n.type == ROLE_ATTACHMENT):
                if self.target(attachment, "role", (ROLE,)) != role:
                    continue
                managed = self.target(attachment, "policyArn", (MANAGED_POLICY,))
                if managed is None:
                    entry.managed_policies.append(f"`{attachment.inputs.get('policyArn')}`")
                    continue
                for index, statement in enumerate(_statements(_document(managed.inputs.get("policy")))):
                    entry.grants.append(_grant(statement, index, f"attached {managed.label}", self.names))
            entry.managed_policies.sort()

    def resource_policies(self) -> None:
        holders: list[tuple[Node, Node | None, Any]] = []
        for node in self.nodes:
            if node.type in (QUEUE, TOPIC, KEY, *BUCKET_TYPES) and node.inputs.get("policy"):
                holders.append((node, node, node.inputs["policy"]))
            elif node.type == QUEUE_POLICY:
                holders.append((node, self.target(node, "queueUrl", (QUEUE,)), node.inputs.get("policy")))
            elif node.type == TOPIC_POLICY:
                holders.append((node, self.target(node, "arn", (TOPIC,)), node.inputs.get("policy")))
            elif node.type == BUCKET_POLICY:
                holders.append((node, self.target(node, "bucket", BUCKET_TYPES), node.inputs.get("policy")))
        for holder, resource, document in holders:
            attached = resource.label if resource is not None else ""
            where = f"{holder.label} policy" if holder is resource else f"{holder.label}"
            if resource is not None and holder is not resource:
                where += f" on {resource.label}"
            for index, stmt in enumerate(_statements(_document(document))):
                grant = _grant(stmt, index, where, self.names, attached_to=attached)
                for key, title, kind in _principals_of(stmt.get("Principal")):
                    self.principal(key, title, kind).grants.append(grant)
        for permission in (n for n in self.nodes if n.type == LAMBDA_PERMISSION):
            function = self.target(permission, "function", (FUNCTION,))
            principal = str(permission.inputs.get("principal", ""))
            statement: dict[str, Any] = {
                "Effect": "Allow",
                "Action": permission.inputs.get("action"),
                "Resource": "*",
                "Sid": permission.name,
            }
            if permission.inputs.get("sourceArn"):
                statement["Condition"] = {"ArnLike": {"AWS:SourceArn": permission.inputs["sourceArn"]}}
            grant = _grant(statement, 0, permission.label, self.names, attached_to=function.label if function else "")
            spec = {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal}
            for key, title, kind in _principals_of(spec if principal != "*" else "*"):
                self.principal(key, title, kind).grants.append(grant)


def build(nodes: Sequence[Node]) -> list[Principal]:
    """Every principal with its grants, roles first, then the principals resource policies name."""
    builder = _Builder(nodes)
    builder.roles()
    builder.resource_policies()
    order = {"role": 0, "service": 1, "aws": 2, "public": 3}
    principals = sorted(builder.principals.values(), key=lambda p: (order[p.key.split(":", 1)[0]], p.key))
    for principal in principals:
        principal.grants.sort(key=lambda g: (g.effect != "Allow", g.source, g.actions, g.resources))
        principal.trusted_by = sorted(set(principal.trusted_by))
    return principals


# --- Markdown ------------------------------------------------------------------------------------------------


def render(principals: Sequence[Principal], stack: str = "dev") -> str:
    allowed = [p for p in principals if any(g.effect == "Allow" for g in p.grants) or p.managed_policies]
    lines = [
        "# Access matrix",
        "",
        f"Generated by `{COMMAND}` from the `{stack}` stack's captured resource graph (update mode, so every",
        "ARN is resolved); do not edit it by hand. `tests/test_access_matrix.py` regenerates it and fails on any",
        "difference: a change that widens access shows up here, in review, as a diff.",
        "",
        "Principals are the IAM roles the program creates and every principal a resource policy names (SQS queue,",
        "SNS topic, S3 bucket and KMS key policies, Lambda permissions). Resources are logical resource names",
        "(`Type name`) wherever the graph says which resource an ARN belongs to; anything else is the ARN as",
        "written. AWS managed policies are named, not expanded (their contents are AWS's, not in the graph).",
        "",
        f"## Principals ({len(allowed)})",
        "",
        "| principal | kind | assumed by | used by |",
        "| --- | --- | --- | --- |",
    ]
    for p in allowed:
        lines.append(f"| {p.title} | {p.kind} | {', '.join(p.trusted_by) or '-'} | {'<br>'.join(p.used_by) or '-'} |")
    for p in allowed:
        lines += ["", f"## {p.title}", ""]
        if p.trusted_by:
            lines.append(f"Assumed by {', '.join(p.trusted_by)}.")
        if p.managed_policies:
            lines.append(f"AWS managed policies attached: {', '.join(p.managed_policies)}.")
        if p.trusted_by or p.managed_policies:
            lines.append("")
        rows = [g.row for g in p.grants if g.effect == "Allow"]
        if rows:
            lines += ["| actions | resources | condition | granted by |", "| --- | --- | --- | --- |", *rows]
        else:
            lines.append("No grants of its own: only the AWS managed policies above.")
    denies = [(p, g) for p in principals for g in p.grants if g.effect == "Deny"]
    lines += ["", "## Denies", ""]
    if denies:
        lines += ["| principal | actions | resources | condition | denied by |", "| --- | --- | --- | --- | --- |"]
        for p, g in denies:
            lines.append(f"| {p.title} {g.row}")
    else:
        lines.append("None.")
    lines += ["", "## By resource", "", "| resource | principal | actions |", "| --- | --- | --- |"]
    by_resource: set[tuple[str, str, str]] = set()
    for p in allowed:
        for g in p.grants:
            if g.effect != "Allow":
                continue
            for resource in g.resources:
                by_resource.add((resource, p.title, ", ".join(f"`{a}`" for a in g.actions)))
    lines += [f"| {r} | {who} | {a} |" for r, who, a in sorted(by_resource)]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    args.output.write_text(render(build(capture(args.stack)), args.stack))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
