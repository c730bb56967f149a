"""Every resource type the offline harness knows, by Pulumi type token, from the per-service modules."""

from __future__ import annotations

from offline.provision import (
    acm,
    apigateway,
    autoscaling,
    awslambda,
    cloudwatch,
    dynamodb,
    ec2,
    ecs,
    iam,
    kms,
    rds,
    redshift,
    route53,
    s3,
    sns,
    sqs,
)
from offline.provision.base import ResourceType

SERVICES = (
    sqs,
    sns,
    s3,
    dynamodb,
    cloudwatch,
    kms,
    iam,
    apigateway,
    ec2,
    autoscaling,
    acm,
    route53,
    rds,
    redshift,
    awslambda,
    ecs,
)
"""The service modules, in the order `local down` lists what remains."""


def _registry() -> dict[str, ResourceType]:
    found: dict[str, ResourceType] = {}
    for module in SERVICES:
        for rtype in module.TYPES:
            if rtype.token in found:
                raise ValueError(f"{rtype.token} is defined twice (offline/provision/{module.__name__})")
            found[rtype.token] = rtype
    return found


REGISTRY: dict[str, ResourceType] = _registry()
EMULATED_TYPES: tuple[str, ...] = tuple(sorted(t for t, rtype in REGISTRY.items() if rtype.emulated))
"""Resource types the provisioner creates in the emulator; every other custom type is AWS-only."""
KINDS: tuple[str, ...] = tuple(dict.fromkeys(r.kind for r in REGISTRY.values() if r.kind is not None))
"""What `local down` lists as remaining, by kind, in this order."""
