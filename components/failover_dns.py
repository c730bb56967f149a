"""Route 53 failover: the intake API while its health check passes, the static error page when it fails.

Only the primary is health-checked. The health check calls the API's own execute-api endpoint
(`/<stage>/health`, which asks SQS for the queue's attributes), never the failover name itself: that
name resolves to the error page during an outage and would report the page's health. The SECONDARY
record aliases the S3 website endpoint with the bucket's own hosted zone id; S3 website endpoints cannot
be health-evaluated, so `evaluate_target_health` is off there.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.config import FrontDoorConfig


def hosted_zone_id(settings: FrontDoorConfig, ctx: AwsContext) -> pulumi.Output[str]:
    """The configured zone id, or the id of the public zone named `hostedZoneName` (an invoke, known at preview)."""
    if settings.hosted_zone_id:
        return pulumi.Output.from_input(settings.hosted_zone_id)
    zone = aws.route53.get_zone_output(
        name=settings.hosted_zone_name, private_zone=False, opts=pulumi.InvokeOutputOptions(provider=ctx.provider)
    )
    return zone.zone_id


@dataclass(frozen=True, kw_only=True)
class FailoverDnsArgs:
    ctx: AwsContext
    record_name: str
    zone_id: pulumi.Input[str]
    primary_alias_name: pulumi.Input[str]
    """The API custom domain's regional domain name (d-xxxx.execute-api.<region>.amazonaws.com)."""
    primary_alias_zone_id: pulumi.Input[str]
    health_fqdn: pulumi.Input[str]
    health_path: str
    secondary_alias_name: pulumi.Input[str]
    """The S3 website domain of the error-page bucket's region (s3-website-<region>.amazonaws.com)."""
    secondary_alias_zone_id: pulumi.Input[str]
    health_check_interval_seconds: int = 30
    health_check_failure_threshold: int = 3


class FailoverDns(pulumi.ComponentResource):
    health_check: aws.route53.HealthCheck
    primary: aws.route53.Record
    secondary: aws.route53.Record

    def __init__(self, name: str, args: FailoverDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:frontdoor:FailoverDns", name, None, opts)
        ctx = args.ctx
        self.health_check = aws.route53.HealthCheck(
            f"{name}-primary",
            type="HTTPS",
            fqdn=args.health_fqdn,
            port=443,
            resource_path=args.health_path,
            enable_sni=True,
            request_interval=args.health_check_interval_seconds,
            failure_threshold=args.health_check_failure_threshold,
            tags={"Name": ctx.name("intake-health", kind="tag")},
            opts=ctx.opts(self),
        )
        self.primary = aws.route53.Record(
            f"{name}-primary",
            zone_id=args.zone_id,
            name=args.record_name,
            type="A",
            set_identifier="primary",
            failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type="PRIMARY")],
            health_check_id=self.health_check.id,
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.primary_alias_name, zone_id=args.primary_alias_zone_id, evaluate_target_health=True
                )
            ],
            opts=ctx.opts(self),
        )
        self.secondary = aws.route53.Record(
            f"{name}-secondary",
            zone_id=args.zone_id,
            name=args.record_name,
            type="A",
            set_identifier="secondary",
            failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type="SECONDARY")],
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.secondary_alias_name, zone_id=args.secondary_alias_zone_id, evaluate_target_health=False
                )
            ],
            opts=ctx.opts(self),
        )
        self.register_outputs(
            {"healthCheckId": self.health_check.id, "recordName": args.record_name, "healthPath": args.health_path}
        )
