"""S3: buckets and their settings (public access block, ownership, encryption, versioning, policy, website,
notification), and the bucket object the program uploads (AWS only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from offline.provision.base import (
    PARTITION,
    Creation,
    DeleteFn,
    DeleteRefused,
    Deletion,
    Outputs,
    ProvisionError,
    ResourceType,
    error_code,
    take,
)

BUCKET = "aws:s3/bucket:Bucket"
WEBSITE = "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration"

S3_WEBSITE_ZONES = {
    "us-east-1": "Z3AQBSTGFYJSTF",
    "us-east-2": "Z2O1EMRO9K5GLX",
    "us-west-1": "Z2F56UZL2M1ACD",
    "us-west-2": "Z3BJ6K6RIION7M",
    "eu-west-1": "Z1BKCTXD74EZPE",
    "eu-central-1": "Z21DNDUVLTQW6Q",
}
"""S3 website endpoint hosted zone ids (AWS documentation), returned as a bucket's `hostedZoneId`."""
S3_WEBSITE_DASH_REGIONS = {
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
}
"""Regions whose S3 website endpoint is `s3-website-<region>`; newer regions use `s3-website.<region>`."""


def bucket_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    bucket = inputs.get("bucket") or name
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:{PARTITION}:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "hostedZoneId": S3_WEBSITE_ZONES.get(region, "Z3AQBSTGFYJSTF"),
        "region": region,
    }


def website_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    bucket = str(inputs.get("bucket"))
    sep = "-" if region in S3_WEBSITE_DASH_REGIONS else "."
    domain = f"s3-website{sep}{region}.amazonaws.com"
    return bucket, {"websiteDomain": domain, "websiteEndpoint": f"{bucket}.{domain}"}


def create_bucket(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"bucket", "forceDestroy", "tags"}, ctx.what)
    name = inputs["bucket"]
    s3 = ctx.client("s3")
    kwargs: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**kwargs)
    if inputs.get("tags"):
        s3.put_bucket_tagging(
            Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]}
        )
    return bucket_outputs(name, ctx.region, inputs, ctx.account)


PUBLIC_ACCESS_BLOCK = {
    "blockPublicAcls": "BlockPublicAcls",
    "blockPublicPolicy": "BlockPublicPolicy",
    "ignorePublicAcls": "IgnorePublicAcls",
    "restrictPublicBuckets": "RestrictPublicBuckets",
}


def create_public_access_block(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {*PUBLIC_ACCESS_BLOCK, "bucket"}, ctx.what, ignore=("skipDestroy",))
    config = {api: bool(inputs.get(k, False)) for k, api in PUBLIC_ACCESS_BLOCK.items()}
    ctx.client("s3").put_public_access_block(Bucket=inputs["bucket"], PublicAccessBlockConfiguration=config)
    return inputs["bucket"], {}


def create_ownership_controls(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"bucket", "rule"}, ctx.what)
    rule = {"ObjectOwnership": inputs["rule"]["objectOwnership"]}
    ctx.client("s3").put_bucket_ownership_controls(Bucket=inputs["bucket"], OwnershipControls={"Rules": [rule]})
    return inputs["bucket"], {}


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    default = rule.get("applyServerSideEncryptionByDefault") or {}
    by_default = {"SSEAlgorithm": default["sseAlgorithm"]}
    if default.get("kmsMasterKeyId"):
        by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
    return {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled"))}


def create_encryption(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"bucket", "rules"}, ctx.what, ignore=("expectedBucketOwner",))
    rules = [_encryption_rule(rule) for rule in inputs["rules"]]
    ctx.client("s3").put_bucket_encryption(Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})
    return inputs["bucket"], {}


def create_versioning(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"bucket", "versioningConfiguration"}, ctx.what, ignore=("expectedBucketOwner",))
    status = inputs["versioningConfiguration"]["status"]
    if status not in {"Enabled", "Suspended", "Disabled"}:
        raise ProvisionError(f"{ctx.what}: versioning status must be Enabled|Suspended|Disabled, got {status!r}")
    if status != "Disabled":
        ctx.client("s3").put_bucket_versioning(Bucket=inputs["bucket"], VersioningConfiguration={"Status": status})
    return inputs["bucket"], {}


def create_bucket_policy(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """A statement with a Condition meets another request context in the emulator than in AWS (its endpoint is
    plain HTTP: the TLS-only Deny on `aws:SecureTransport` false would refuse every request of the local run):
    such policies are checked and recorded, not applied; unconditional ones are applied."""
    take(inputs, {"bucket", "policy"}, ctx.what)
    statements = json.loads(inputs["policy"])["Statement"]
    if any("Condition" in s for s in statements):
        ctx.not_applied(
            "conditional statements (the emulator is reached over plain HTTP, not the context they are for)"
        )
        return inputs["bucket"], {}
    ctx.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
    return inputs["bucket"], {}


def create_website(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"bucket", "indexDocument", "errorDocument"}, ctx.what, ignore=("expectedBucketOwner",))
    config: dict[str, Any] = {}
    if inputs.get("indexDocument"):
        config["IndexDocument"] = {"Suffix": inputs["indexDocument"]["suffix"]}
    if inputs.get("errorDocument"):
        config["ErrorDocument"] = {"Key": inputs["errorDocument"]["key"]}
    ctx.client("s3").put_bucket_website(Bucket=inputs["bucket"], WebsiteConfiguration=config)
    return website_outputs(inputs["bucket"], ctx.region, inputs, ctx.account)


def _notification_target(entry: Mapping[str, Any], arn_key: str, api_key: str, what: str) -> dict[str, Any]:
    take(entry, {arn_key, "events", "filterPrefix", "filterSuffix", "id"}, what)
    out: dict[str, Any] = {api_key: entry[arn_key], "Events": list(entry["events"])}
    rules = [
        {"Name": name, "Value": entry[key]}
        for name, key in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
        if entry.get(key)
    ]
    if rules:
        out["Filter"] = {"Key": {"FilterRules": rules}}
    if entry.get("id"):
        out["Id"] = entry["id"]
    return out


def create_notification(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"bucket", "topics", "queues", "lambdaFunctions", "eventbridge"}, ctx.what)
    config: dict[str, Any] = {
        "TopicConfigurations": [
            _notification_target(t, "topicArn", "TopicArn", ctx.what) for t in inputs.get("topics") or []
        ],
        "QueueConfigurations": [
            _notification_target(q, "queueArn", "QueueArn", ctx.what) for q in inputs.get("queues") or []
        ],
        "LambdaFunctionConfigurations": [
            _notification_target(f, "lambdaFunctionArn", "LambdaFunctionArn", ctx.what)
            for f in inputs.get("lambdaFunctions") or []
        ],
    }
    if inputs.get("eventbridge"):
        config["EventBridgeConfiguration"] = {}
    ctx.client("s3").put_bucket_notification_configuration(Bucket=inputs["bucket"], NotificationConfiguration=config)
    return inputs["bucket"], {}


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every delete marker and object version, as the provider does for force_destroy; returns how many.

    One by one, and on a bucket whose versioning was suspended (by the BucketVersioning delete just before)
    versioning is turned back on first: emulator workarounds (a batch delete, or deleting a version id of a
    suspended bucket, are not served alike by every emulator), not AWS behaviour.
    """
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Suspended":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
            removed += 1
    return removed


def delete_bucket(ctx: Deletion) -> tuple[str, str]:
    s3, bucket = ctx.client("s3"), ctx.inputs["bucket"]
    emptied = empty_bucket(s3, bucket) if ctx.inputs.get("forceDestroy") else 0
    try:
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return bucket, "already gone"
        if error_code(exc) == "BucketNotEmpty":
            raise DeleteRefused(
                f"{ctx.what} ({bucket}): S3 refuses, the bucket holds objects and force_destroy is off"
            ) from exc
        raise
    return bucket, f"emptied ({emptied} object versions) and deleted" if emptied else "deleted"


def _setting(method: str, done: str, **extra: Any) -> DeleteFn:
    def delete(ctx: Deletion) -> tuple[str, str]:
        bucket = ctx.inputs["bucket"]
        return ctx.unless_gone(lambda: getattr(ctx.client("s3"), method)(Bucket=bucket, **extra), bucket, done)

    return delete


def remaining_bucket(ctx: Deletion) -> list[str]:
    bucket = str(ctx.inputs["bucket"])
    return [bucket] if ctx.exists(lambda: ctx.client("s3").head_bucket(Bucket=bucket)) else []


TYPES = (
    ResourceType(
        BUCKET,
        outputs=bucket_outputs,
        create=create_bucket,
        delete=delete_bucket,
        kind="buckets",
        remaining=remaining_bucket,
    ),
    ResourceType(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        create=create_public_access_block,
        delete=_setting("delete_public_access_block", "removed"),
    ),
    ResourceType(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        create=create_ownership_controls,
        delete=_setting("delete_bucket_ownership_controls", "removed"),
    ),
    ResourceType(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        create=create_encryption,
        delete=_setting("delete_bucket_encryption", "removed"),
    ),
    # The provider suspends versioning (a bucket cannot go back to unversioned); the bucket goes next.
    ResourceType(
        "aws:s3/bucketVersioning:BucketVersioning",
        create=create_versioning,
        delete=_setting(
            "put_bucket_versioning", "versioning suspended", VersioningConfiguration={"Status": "Suspended"}
        ),
    ),
    ResourceType(
        "aws:s3/bucketPolicy:BucketPolicy",
        create=create_bucket_policy,
        delete=_setting("delete_bucket_policy", "removed"),
    ),
    ResourceType(
        WEBSITE, outputs=website_outputs, create=create_website, delete=_setting("delete_bucket_website", "removed")
    ),
    ResourceType(
        "aws:s3/bucketNotification:BucketNotification",
        create=create_notification,
        delete=_setting("put_bucket_notification_configuration", "removed", NotificationConfiguration={}),
    ),
)
