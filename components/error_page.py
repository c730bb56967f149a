"""The failover target: a static "we'll be right back" page served by S3 website hosting in the failover region.

Route 53 can alias a record to an S3 website endpoint only when the bucket is named exactly as the
record, so the bucket name is the domain name. It is the one public resource of the stack: its logical
name is `error-page`, which the policy pack exempts by name, and anonymous read is granted by a bucket
policy on the page objects only (no listing, no other key). The public access block stays on for ACLs.
S3 website endpoints speak HTTP only; docs/front-door.md ("HTTPS for the error page: CloudFront") explains
how to put CloudFront in front for HTTPS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext

RESOURCE_NAME = "error-page"
"""Logical name of every resource of the page; the policy pack's public-bucket exemption matches it."""
SITE_DIR = Path(__file__).resolve().parent.parent / "site" / "error-page"
PAGES = ("index.html", "error.html")
CACHE_CONTROL = "public, max-age=60"
"""Short: when the primary recovers, nobody should keep seeing the outage page from a cache."""


def public_read_policy(partition: str, bucket: str, keys: tuple[str, ...]) -> str:
    """Anonymous s3:GetObject on exactly these keys; everything else in the bucket stays private."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadOfTheErrorPageOnly",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": [f"arn:{partition}:s3:::{bucket}/{key}" for key in keys],
                }
            ],
        }
    )


@dataclass(frozen=True, kw_only=True)
class ErrorPageArgs:
    ctx: AwsContext
    """The failover region's context."""
    bucket_name: str
    """Must equal the Route 53 record name (S3 website hosting resolves the bucket from the Host header)."""
    site_dir: Path = SITE_DIR


class ErrorPage(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_name: str
    hosted_zone_id: pulumi.Output[str]
    """The S3 website endpoint's hosted zone for the bucket's region: the alias target zone."""
    website_endpoint: pulumi.Output[str]
    website_domain: pulumi.Output[str]

    def __init__(self, name: str, args: ErrorPageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """`name` is the logical name of the component and of its resources (the program passes RESOURCE_NAME)."""
        super().__init__("orders:frontdoor:ErrorPage", name, None, opts)
        self._name, self._ctx = name, args.ctx
        pages = {page: (args.site_dir / page).read_text(encoding="utf-8") for page in PAGES}
        self.bucket_name = args.bucket_name
        self.bucket = aws.s3.Bucket(name, bucket=args.bucket_name, force_destroy=True, opts=self._ctx.opts(self))
        child = self._ctx.opts(self, depends_on=[self.bucket])
        access_block = self._lock_down(child)
        website = self._website(child)
        objects = self._pages(pages, child)
        self._public_read(depends_on=[access_block, *objects])
        self.hosted_zone_id = self.bucket.hosted_zone_id
        self.website_endpoint = website.website_endpoint
        self.website_domain = website.website_domain
        self.register_outputs(
            {
                "bucket": args.bucket_name,
                "hostedZoneId": self.hosted_zone_id,
                "websiteEndpoint": self.website_endpoint,
                "websiteDomain": self.website_domain,
            }
        )

    def _lock_down(self, child: pulumi.ResourceOptions) -> aws.s3.BucketPublicAccessBlock:
        """Access block (ACLs never public), owner-enforced ownership, default encryption; returns the block."""
        name = self._name
        # Relaxed only for policies: a policy may grant public read; ACLs can never make anything public.
        access_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            ignore_public_acls=True,
            block_public_policy=False,
            restrict_public_buckets=False,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        return access_block

    def _website(self, child: pulumi.ResourceOptions) -> aws.s3.BucketWebsiteConfiguration:
        return aws.s3.BucketWebsiteConfiguration(
            self._name,
            bucket=self.bucket.id,
            index_document=aws.s3.BucketWebsiteConfigurationIndexDocumentArgs(suffix="index.html"),
            error_document=aws.s3.BucketWebsiteConfigurationErrorDocumentArgs(key="error.html"),
            opts=child,
        )

    def _pages(self, pages: dict[str, str], child: pulumi.ResourceOptions) -> list[aws.s3.BucketObjectv2]:
        """The two pages, short-cached so a recovered primary is seen at once."""
        return [
            aws.s3.BucketObjectv2(
                f"{self._name}-{page.removesuffix('.html')}",
                bucket=self.bucket.id,
                key=page,
                content=body,
                content_type="text/html; charset=utf-8",
                cache_control=CACHE_CONTROL,
                opts=child,
            )
            for page, body in pages.items()
        ]

    def _public_read(self, depends_on: list[pulumi.Resource]) -> None:
        """Anonymous read of the pages only; S3 rejects a public policy while the access block still blocks it."""
        bucket_name = self.bucket_name
        aws.s3.BucketPolicy(
            self._name,
            bucket=self.bucket.id,
            policy=self._ctx.partition.apply(lambda p: public_read_policy(p, bucket_name, PAGES)),
            opts=self._ctx.opts(self, depends_on=depends_on),
        )
