"""Adapts the pure rules to pulumi_policy: one ResourceValidationPolicy or StackValidationPolicy per rule.

Each validation reads the SDK's proxied inputs as plain data (so an unknown never aborts the rule),
reports the violations it could decide, and only then, if some part was unknown, raises the SDK's
UnknownValueError carrying the list of unchecked parts (`sdk_internals.PartlyUnknown`): the engine shows that
as an advisory "can't run ... during preview: <what was not checked>", next to the verdicts already reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import Policy

from . import RULES
from .core import Res, Rule, Verdict, plain
from .sdk_internals import PartlyUnknown

PACK_NAME = "orders-guardrails"
LEVELS = {
    "mandatory": EnforcementLevel.MANDATORY,
    "advisory": EnforcementLevel.ADVISORY,
    "disabled": EnforcementLevel.DISABLED,
}


def _provider_props(provider: Any) -> Mapping[str, Any]:
    return plain(provider.props) if provider is not None else {}


def _report(verdict: Verdict, report: ReportViolation, *, stack: bool) -> None:
    for violation in verdict.violations:
        report(violation.message, violation.urn if stack else None)
    if verdict.unchecked:
        raise PartlyUnknown(verdict.unchecked, len(verdict.violations))


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        res = Res(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=plain(args.props),
            provider=_provider_props(args.provider),
            parent=args.opts.parent or "",
        )
        _report(rule.run(res, args.get_config()), report, stack=False)

    return ResourceValidationPolicy(name=rule.id, description=rule.description, validate=validate, **_meta(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            Res(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=plain(r.props),
                provider=_provider_props(r.provider),
                parent=r.parent.urn if r.parent is not None else "",
                property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        _report(rule.run(resources, args.get_config()), report, stack=True)

    return StackValidationPolicy(name=rule.id, description=rule.description, validate=validate, **_meta(rule))


def _meta(rule: Rule) -> dict[str, Any]:
    return {
        "enforcement_level": LEVELS[rule.level],
        "config_schema": PolicyConfigSchema(properties=rule.schema()),
        "framework": PolicyComplianceFramework(name="orders-guardrails", reference=rule.control),
        "remediation_steps": rule.remediation or None,
        "tags": [rule.scope],
    }


def policies() -> list[Policy]:
    return [_resource_policy(r) if r.scope == "resource" else _stack_policy(r) for r in RULES]
