"""Mocks that answer like AWS: computed outputs per resource type and the invokes the program makes.

A mock that forgets an output the program reads turns it into None and silently drops the input that
used it, so every output a component reads is produced here. In preview mode resources return only
their inputs: outputs computed by AWS (arn, id, url...) are unknown, as for a stack not yet created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from offline.provision.apigateway import APIGW_REGIONAL_ZONES
from offline.provision.base import PARTITION, Outputs, OutputsFn, arn
from offline.provision.registry import REGISTRY
from offline.provision.s3 import S3_WEBSITE_ZONES

__all__ = [
    "ACCOUNT_ID",
    "APIGW_REGIONAL_ZONES",
    "CALLS",
    "HOSTED_ZONE_ID",
    "PARTITION",
    "RESOURCE_OUTPUTS",
    "S3_WEBSITE_ZONES",
    "AwsMocks",
    "Outputs",
]

ACCOUNT_ID = "123456789012"
HOSTED_ZONE_ID = "Z0OFFLINE0ZONE00000001"
"""The public hosted zone `getZone` finds, whatever name is asked for."""

RESOURCE_OUTPUTS: dict[str, OutputsFn] = {t: r.outputs for t, r in REGISTRY.items() if r.outputs is not None}
"""Computed outputs by resource type: `(name, region, inputs, account) -> (id, outputs)`, from each type's module
in offline/provision/. Other types echo their inputs and get an ARN."""


def _physical_name(args: pulumi.runtime.MockResourceArgs) -> str:
    inputs = args.inputs
    for key in ("name", "bucket", "functionName", "dashboardName", "identifier", "namespaceName", "workgroupName"):
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return args.name


CALLS: dict[str, Callable[[Outputs, str], Outputs]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/offline",
        "userId": "AIDAOFFLINE",
        "id": ACCOUNT_ID,
    },
    "aws:index/getPartition:getPartition": lambda a, r: {
        "partition": PARTITION,
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
        "id": PARTITION,
    },
    "aws:index/getRegion:getRegion": lambda a, r: {
        "name": r,
        "region": r,
        "id": r,
        "endpoint": f"ec2.{r}.amazonaws.com",
    },
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a, r: {
        "names": [f"{r}a", f"{r}b", f"{r}c"],
        "zoneIds": [f"{r[:2]}{r.split('-')[1][0]}1-az{i}" for i in (1, 2, 3)],
        "id": r,
    },
    "aws:ec2/getAmi:getAmi": lambda a, r: {
        "id": "ami-0a1b2c3d4e5f60718",
        "arn": f"arn:{PARTITION}:ec2:{r}::image/ami-0a1b2c3d4e5f60718",
        "name": "al2023-ami-2023.9.20251117.1-kernel-6.1-x86_64",
        "architecture": "x86_64",
        "ownerId": "137112412989",
        "imageOwnerAlias": "amazon",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "mostRecent": True,
        "owners": a.get("owners", []),
        "filters": a.get("filters", []),
    },
    "aws:route53/getZone:getZone": lambda a, r: {
        "zoneId": HOSTED_ZONE_ID,
        "name": str(a.get("name", "")).rstrip("."),
        "privateZone": False,
        "id": HOSTED_ZONE_ID,
    },
}
"""Invoke results by token: `(args, provider region) -> result`. Tiers add the invokes they use."""


class AwsMocks(pulumi.runtime.Mocks):
    """Answers like AWS for the types in RESOURCE_OUTPUTS; other types echo their inputs."""

    def __init__(self, preview: bool) -> None:
        self.preview = preview
        self.provider_regions: dict[str, str] = {}

    def region_for(self, provider_ref: str | None) -> str:
        """Region of the provider a reference (`<urn>::<id>`) points at; the default provider's is us-east-1."""
        return self.provider_regions.get((provider_ref or "").rsplit("::", 1)[-1], "us-east-1")

    def account_for(self, region: str) -> str:
        """The account the computed outputs name (the emulator's, for an emulator whose account differs)."""
        return ACCOUNT_ID

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            provider_id = f"{args.name}-provider-id"
            self.provider_regions[provider_id] = str(inputs.get("region", "us-east-1"))
            return provider_id, inputs
        if self.preview:
            return "", inputs  # a resource about to be created: only its inputs are known
        region = self.region_for(args.provider)
        name, account = _physical_name(args), self.account_for(region)
        compute = RESOURCE_OUTPUTS.get(args.typ)
        if compute is None:
            service = args.typ.split(":")[1].split("/")[0]
            return f"{args.name}-id", {**inputs, "arn": arn(service, region, name, account=account)}
        id_, outputs = compute(name, region, inputs, account)
        return id_, {**inputs, "id": id_, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[Any, Any]:  # type: ignore[override]
        handler = CALLS.get(args.token)
        if handler is None:
            raise NotImplementedError(f"offline/mocks.py has no answer for invoke {args.token}; add one to CALLS")
        return handler(dict(args.args), self.region_for(args.provider))
