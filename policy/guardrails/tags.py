"""Required tags, counting the provider's defaultTags (which AWS applies to every resource but an ASG)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import BadJson, Res, Rule, Verdict, get, is_unknown, json_document

ASG = "aws:autoscaling/group:Group"

TAGGABLE = [
    "aws:autoscaling/group:Group",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:dynamodb/table:Table",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:kms/key:Key",
    "aws:lambda/function:Function",
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
    "aws:redshift/cluster:Cluster",
    "aws:redshiftserverless/namespace:Namespace",
    "aws:redshiftserverless/workgroup:Workgroup",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
]


def _tag_keys(res: Res) -> tuple[set[str], bool]:
    """Tag keys on the resource (plus the provider's defaultTags, except for ASGs) and whether any are unknown."""
    keys: set[str] = set()
    unknown = False
    tags = res.get("tags")
    if is_unknown(tags):
        unknown = True
    elif isinstance(tags, Mapping):
        keys |= set(tags)
    elif isinstance(tags, list):  # ASG: [{key, value, propagateAtLaunch}]
        for tag in tags:
            key = get(tag, "key")
            if is_unknown(key):
                unknown = True
            elif isinstance(key, str):
                keys.add(key)
    if res.type != ASG:  # AWS provider default_tags do not reach Auto Scaling groups
        try:
            defaults = json_document(res.provider.get("defaultTags"))
        except BadJson:
            defaults = None
        provider_tags = get(defaults, "tags") if defaults is not None else None
        if is_unknown(defaults) or is_unknown(provider_tags):
            unknown = True
        elif isinstance(provider_tags, Mapping):
            keys |= set(provider_tags)
    return keys, unknown


def check_required_tags(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    if res.type not in cfg["resourceTypes"]:
        return verdict
    keys, unknown = _tag_keys(res)
    missing = [k for k in cfg["requiredTags"] if k not in keys]
    if missing and unknown:
        verdict.unknown(f"{res.label}: tags")
    elif missing:
        hint = "tags with propagateAtLaunch" if res.type == ASG else "tags, or defaultTags on its provider"
        verdict.fail(f"{res.label} lacks required tag(s) {missing}; set them in {hint}")
    return verdict


RULES = [
    Rule(
        id="required-tags",
        description="Taggable resources carry the configured tags (resource tags or the provider's defaultTags).",
        level="advisory",
        control="AWS Organizations tag policies / Control Tower tagging guidance (org standard)",
        scope="resource",
        check=check_required_tags,
        config={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["project", "stack"],
                "description": "Tag keys every taggable resource must carry.",
            },
            "resourceTypes": {
                "type": "array",
                "items": {"type": "string"},
                "default": TAGGABLE,
                "description": "Resource types the rule checks.",
            },
        },
    ),
]
