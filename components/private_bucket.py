"""The hardening every private bucket of the stack gets, written once.

Not a component of its own: the resources are parented to the tier that owns the bucket, so each tier
keeps its bucket in its own part of the graph. Public access blocked, ACLs disabled, SSE-S3 with bucket
keys, TLS-only bucket policy (after the public access block, which it must not trip).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext


def tls_only_bucket_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


@dataclass(frozen=True)
class PrivateBucket:
    bucket: aws.s3.Bucket
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    policy: aws.s3.BucketPolicy


def private_bucket(
    logical_name: str,
    *,
    bucket_name: pulumi.Input[str],
    bucket_arn: pulumi.Output[str],
    ctx: AwsContext,
    parent: pulumi.Resource,
    force_destroy: bool,
    versioned: bool = False,
    protect: bool = False,
) -> PrivateBucket:
    """A bucket and its hardening, all named `logical_name` and parented to `parent`.

    `force_destroy` lets `pulumi destroy` empty the bucket (every object version) before deleting it;
    without it S3 refuses to delete a bucket that holds objects. `protect` makes Pulumi refuse to delete
    or replace the bucket at all (docs/operations.md, "Destroying a stack").
    """
    bucket = aws.s3.Bucket(
        logical_name, bucket=bucket_name, force_destroy=force_destroy, opts=ctx.opts(parent, protect=protect)
    )
    child = ctx.opts(parent, depends_on=[bucket])
    public_block = _block_public_access(logical_name, bucket, child)
    _disable_acls(logical_name, bucket, child)
    encryption = _encrypt(logical_name, bucket, child)
    if versioned:
        aws.s3.BucketVersioning(
            logical_name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
    policy = aws.s3.BucketPolicy(
        logical_name,
        bucket=bucket.id,
        policy=bucket_arn.apply(tls_only_bucket_policy),
        opts=ctx.opts(parent, depends_on=[public_block]),
    )
    return PrivateBucket(bucket=bucket, encryption=encryption, policy=policy)


def _block_public_access(
    logical_name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions
) -> aws.s3.BucketPublicAccessBlock:
    """Every public path closed: public ACLs and public policies are refused and ignored."""
    return aws.s3.BucketPublicAccessBlock(
        logical_name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )


def _disable_acls(logical_name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> None:
    """The bucket owner owns every object: ACLs no longer grant anything."""
    aws.s3.BucketOwnershipControls(
        logical_name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )


def _encrypt(
    logical_name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions
) -> aws.s3.BucketServerSideEncryptionConfiguration:
    """Default encryption of every new object with S3-managed keys (SSE-S3)."""
    return aws.s3.BucketServerSideEncryptionConfiguration(
        logical_name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=opts,
    )
