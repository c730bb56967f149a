"""What every rule shares: the plain view of a resource, verdicts, unknown-aware accessors, IAM policy parsing.

Rules are pure functions over plain camelCase dicts (the shape the engine sends), so they are unit-tested
without the gRPC server. A value that is unknown during preview never raises here: accessors return
`UNKNOWN`, and a rule decides on the known parts and lists what it could not check in `Verdict.unchecked`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)

from .sdk_internals import proxy_target

UNKNOWN = UNKNOWN_STRING_VALUE
"""How the engine encodes a value not known until apply (the wire sentinel); rules test with `is_unknown`."""

_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)

Level = Literal["mandatory", "advisory", "disabled"]
Scope = Literal["resource", "stack"]


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in _SENTINELS


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """The SDK's unknown-checking proxies -> plain dicts/lists, keeping unknown sentinels as values.

    Reading through a proxy raises on the first unknown (and the SDK then skips the whole policy as "can't run
    during preview"), so each proxy is unwrapped (`sdk_internals.proxy_target`) before anything is read."""
    target = proxy_target(value)
    if isinstance(target, Mapping):
        return {k: plain(v) for k, v in target.items()}
    if isinstance(target, Sequence) and not isinstance(target, (str, bytes)):
        return [plain(v) for v in target]
    return target


def get(props: Any, path: str, default: Any = None) -> Any:
    """`get(props, "a.b.c")`: the value, `default` if any step is missing, `UNKNOWN` if a step is unknown."""
    current = props
    for step in path.split("."):
        if is_unknown(current):
            return UNKNOWN
        if isinstance(current, Mapping):
            if step not in current or current[step] is None:
                return default
            current = current[step]
        elif isinstance(current, list) and step.isdigit():
            index = int(step)
            if index >= len(current):
                return default
            current = current[index]
        else:
            return default
    return UNKNOWN if is_unknown(current) else current


def as_bool(value: Any) -> bool | None:
    """Booleans arrive as bools, or as "true"/"false" strings for string-typed provider fields."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class BadJson(ValueError):
    pass


def json_document(value: Any) -> Any:
    """A JSON policy input (string or already an object): the parsed value, `UNKNOWN`, or None if absent."""
    if value is None or value == "":
        return None
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadJson(f"not valid JSON ({exc.msg} at {exc.pos})") from exc
    return value


@dataclass(frozen=True)
class Res:
    """A resource as rules see it: type, logical name, URN, plain inputs, its provider's inputs."""

    type: str
    name: str
    urn: str = ""
    props: Mapping[str, Any] = field(default_factory=dict)
    provider: Mapping[str, Any] = field(default_factory=dict)
    parent: str = ""
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def get(self, path: str, default: Any = None) -> Any:
        return get(self.props, path, default)

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} '{self.name}'"

    def deps(self, prop: str) -> list[str]:
        return list(self.property_dependencies.get(prop, []))


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None


@dataclass
class Verdict:
    """What a rule decided: violations on known values, and what it could not check (unknown until apply)."""

    violations: list[Violation] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    def fail(self, message: str, urn: str | None = None) -> None:
        self.violations.append(Violation(message, urn))

    def unknown(self, what: str) -> None:
        self.unchecked.append(what)

    def extend(self, other: Verdict) -> None:
        self.violations.extend(other.violations)
        self.unchecked.extend(other.unchecked)

    @property
    def messages(self) -> list[str]:
        return [v.message for v in self.violations]


ResourceCheck = Callable[[Res, Mapping[str, Any]], Verdict]
StackCheck = Callable[[Sequence[Res], Mapping[str, Any]], Verdict]


@dataclass(frozen=True)
class Rule:
    """One policy: id, default level, the public control it follows, its check and its config schema."""

    id: str
    description: str
    level: Level
    control: str
    scope: Scope
    check: Callable[..., Verdict]
    types: tuple[str, ...] = ()
    """Resource rules run only for these types (empty: every type); stack rules see every resource."""
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON-schema properties with defaults (the CLI fills defaults from the schema)."""
    exempt_default: tuple[str, ...] = ()
    remediation: str = ""

    def schema(self) -> dict[str, dict[str, Any]]:
        return {
            **{k: dict(v) for k, v in self.config.items()},
            "exemptResources": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(self.exempt_default),
                "description": "Logical resource names (or URNs) this rule does not apply to.",
            },
        }

    def settings(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Schema defaults overlaid with the configured values (missing config behaves like the CLI's)."""
        values = {k: v["default"] for k, v in self.schema().items() if "default" in v}
        values.update({k: v for k, v in (given or {}).items() if k != "enforcementLevel"})
        return values

    def run(self, target: Any, given: Mapping[str, Any] | None = None) -> Verdict:
        """Run the check with defaults applied and exemptions removed (a Res for resource rules, a list for stack rules)."""
        cfg = self.settings(given)
        exempt = set(cfg.get("exemptResources") or [])
        if self.scope == "resource":
            if (self.types and target.type not in self.types) or target.name in exempt or target.urn in exempt:
                return Verdict()
            return self.check(target, cfg)
        verdict = self.check(target, cfg)
        exempt_urns = {r.urn for r in target if r.name in exempt or r.urn in exempt}
        verdict.violations = [v for v in verdict.violations if v.urn not in exempt_urns]
        return verdict


# --- IAM resource policies ---------------------------------------------------------------------------

SCOPING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOwner",
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:SourceVpce",
        "aws:SourceVpc",
    )
)


def listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        raise BadJson("policy is not a JSON object")
    return [s for s in listify(document.get("Statement")) if isinstance(s, Mapping)]


def principal_is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in listify(principal.get("AWS"))
    return False


def service_principals(principal: Any) -> list[str]:
    if isinstance(principal, Mapping):
        return [str(s) for s in listify(principal.get("Service"))]
    return []


def condition_values(statement: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Condition key (lower case) -> values, across operators (StringEquals, ArnLike, ...)."""
    found: dict[str, list[Any]] = {}
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return found
    for block in condition.values():
        if isinstance(block, Mapping):
            for key, value in block.items():
                found.setdefault(str(key).lower(), []).extend(listify(value))
    return found


def check_resource_policy(doc_value: Any, where: str, verdict: Verdict, urn: str | None = None) -> None:
    """Allow statements must not be public, and service principals must be scoped by aws:SourceArn
    (plus aws:SourceAccount for S3, whose bucket ARNs carry no account): the confused-deputy guard."""
    try:
        document = json_document(doc_value)
    except BadJson as exc:
        verdict.fail(f"{where}: the policy is {exc}", urn)
        return
    if document is None:
        return
    if is_unknown(document):
        verdict.unknown(f"{where}: policy document")
        return
    try:
        stmts = statements(document)
    except BadJson as exc:
        verdict.fail(f"{where}: {exc}", urn)
        return
    for index, stmt in enumerate(stmts):
        if stmt.get("Effect") != "Allow":
            continue
        sid = stmt.get("Sid") or f"#{index}"
        conditions = condition_values(stmt)
        scoped = [k for k in conditions if k in SCOPING_KEYS and "*" not in conditions[k]]
        principal = stmt.get("Principal")
        if principal_is_public(principal) and not scoped:
            verdict.fail(
                f"{where}: statement {sid} allows any principal ('*') with no aws:SourceArn/aws:SourceAccount/"
                "aws:PrincipalOrgID condition; name the principal or add a condition",
                urn,
            )
        for service in service_principals(principal):
            if "aws:sourcearn" not in scoped:
                verdict.fail(
                    f"{where}: statement {sid} lets {service} act for any source; add a condition "
                    "aws:SourceArn = the one resource that may send (confused-deputy protection)",
                    urn,
                )
            if service.startswith("s3.") and "aws:sourceaccount" not in scoped:
                verdict.fail(
                    f"{where}: statement {sid} lets {service} act with no aws:SourceAccount condition; S3 bucket "
                    "ARNs carry no account, so add aws:SourceAccount = this account",
                    urn,
                )


# --- finding resources in the stack view -----------------------------------------------------------------


def arn_resource_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else ""


def find_referenced(
    resources: Sequence[Res], source: Res, prop: str, types: Sequence[str], value: Any, name_keys: Sequence[str]
) -> Res | None:
    """The resource of `types` that `source.prop` refers to: by property dependency (works in preview, when
    the value is an unknown id), else by matching the value (name, ARN or URL) against the target's names."""
    by_urn = {r.urn: r for r in resources}
    for urn in source.deps(prop):
        target = by_urn.get(urn)
        if target is not None and target.type in types:
            return target
    if not isinstance(value, str) or not value or is_unknown(value):
        return None
    wanted = arn_resource_name(value) if value.startswith("arn:") or "/" in value else value
    region = arn_region(value) if value.startswith("arn:") else ""
    for target in resources:
        if target.type not in types:
            continue
        target_region = target.provider.get("region")
        if region and isinstance(target_region, str) and target_region and target_region != region:
            continue
        for key in name_keys:
            candidate = target.get(key)
            if isinstance(candidate, str) and candidate in (value, wanted):
                return target
    return None
