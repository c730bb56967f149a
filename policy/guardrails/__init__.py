"""The orders guardrails: every rule of the policy pack, as pure functions with their metadata."""

from __future__ import annotations

from . import compute, data, lambdas, security, sns_s3, sqs, tags
from .core import UNKNOWN, Res, Rule, Verdict, Violation

RULES: list[Rule] = [
    *sqs.RULES,
    *compute.RULES,
    *sns_s3.RULES,
    *data.RULES,
    *lambdas.RULES,
    *security.RULES,
    *tags.RULES,
]
BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
assert len(BY_ID) == len(RULES), "rule ids must be unique"

__all__ = ["BY_ID", "RULES", "UNKNOWN", "Res", "Rule", "Verdict", "Violation"]
