"""The intake stage's WAF v2 web ACL: managed rules, a per-IP rate limit and the order model's body size.

Rules, in priority order (the first terminating match wins):
0. `AWSManagedRulesCommonRuleSet` (OWASP-style XSS, LFI, bad bots...). Its `SizeRestrictions_BODY` rule
   blocks bodies over 8 KB, below the order model's 64 KiB: that one rule is set to COUNT and rule 3
   enforces the model's own limit instead.
1. `AWSManagedRulesKnownBadInputsRuleSet` (Log4Shell, Java deserialisation, host-header tricks).
2. A rate-based rule per client IP: more than `orders:wafRateLimit` requests in 5 minutes blocks that IP
   until its rate drops, so one client cannot spend the stage throttle that every customer shares.
3. Bodies larger than `worker.model.MAX_ORDER_BYTES` are blocked. API Gateway forwards only the first
   `KB_64` of a body to WAF (association_config), and `oversize_handling = MATCH` makes a larger body match.

Every rule and the ACL emit CloudWatch metrics and sampled requests; full logs go to a
retention-bounded `aws-waf-logs-` log group (the prefix WAF requires), with the credentials
headers (`authorization`, `x-api-key`) redacted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.aws_context import AwsContext
from worker.model import MAX_ORDER_BYTES

W = aws.wafv2
RATE_WINDOW_SECONDS = 300
BODY_INSPECTION_LIMIT = "KB_64"
"""API Gateway sends WAF up to 64 KB of the body: exactly the order model's limit (inspection above 16 KB is billed extra)."""
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
COUNT_ONLY_MANAGED_RULES = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
"""Managed rules that would block valid orders (8 KB body limit); rule `body-size` enforces the real limit."""
REDACTED_HEADERS = ("authorization", "x-api-key")


@dataclass(frozen=True, kw_only=True)
class IntakeWafArgs:
    ctx: AwsContext
    stage_arn: pulumi.Input[str]
    rate_limit: int
    log_retention_days: int


def _visibility(metric: str) -> W.WebAclVisibilityConfigArgs:
    return W.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _rule_visibility(metric: str) -> W.WebAclRuleVisibilityConfigArgs:
    return W.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _managed_rule(priority: int, group: str) -> W.WebAclRuleArgs:
    overrides = [
        W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=rule,
            action_to_use=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for rule in COUNT_ONLY_MANAGED_RULES.get(group, ())
    ]
    return W.WebAclRuleArgs(
        name=group,
        priority=priority,
        override_action=W.WebAclRuleOverrideActionArgs(none=W.WebAclRuleOverrideActionNoneArgs()),
        statement=W.WebAclRuleStatementArgs(
            managed_rule_group_statement=W.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_rule_visibility(group),
    )


def _block() -> W.WebAclRuleActionArgs:
    return W.WebAclRuleActionArgs(block=W.WebAclRuleActionBlockArgs())


def web_acl_rules(rate_limit: int) -> list[W.WebAclRuleArgs]:
    managed = [_managed_rule(priority, group) for priority, group in enumerate(MANAGED_RULE_GROUPS)]
    rate = W.WebAclRuleArgs(
        name="rate-per-ip",
        priority=len(managed),
        action=_block(),
        statement=W.WebAclRuleStatementArgs(
            rate_based_statement=W.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=RATE_WINDOW_SECONDS
            )
        ),
        visibility_config=_rule_visibility("rate-per-ip"),
    )
    body = W.WebAclRuleArgs(
        name="body-size",
        priority=len(managed) + 1,
        action=_block(),
        statement=W.WebAclRuleStatementArgs(
            size_constraint_statement=W.WebAclRuleStatementSizeConstraintStatementArgs(
                comparison_operator="GT",
                size=MAX_ORDER_BYTES,
                field_to_match=W.WebAclRuleStatementSizeConstraintStatementFieldToMatchArgs(
                    body=W.WebAclRuleStatementSizeConstraintStatementFieldToMatchBodyArgs(oversize_handling="MATCH")
                ),
                text_transformations=[
                    W.WebAclRuleStatementSizeConstraintStatementTextTransformationArgs(priority=0, type="NONE")
                ],
            )
        ),
        visibility_config=_rule_visibility("body-size"),
    )
    return [*managed, rate, body]


class IntakeWaf(pulumi.ComponentResource):
    web_acl: aws.wafv2.WebAcl
    log_group_name: str

    def __init__(self, name: str, args: IntakeWafArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:frontdoor:IntakeWaf", name, None, opts)
        ctx = args.ctx
        acl_name = ctx.name(name, kind="waf")
        self.web_acl = aws.wafv2.WebAcl(
            name,
            name=acl_name,
            description="Order intake: managed rules, per-IP rate limit, order body size",
            scope="REGIONAL",
            default_action=W.WebAclDefaultActionArgs(allow=W.WebAclDefaultActionAllowArgs()),
            rules=web_acl_rules(args.rate_limit),
            association_config=W.WebAclAssociationConfigArgs(
                request_bodies=[
                    W.WebAclAssociationConfigRequestBodyArgs(
                        api_gateway=W.WebAclAssociationConfigRequestBodyApiGatewayArgs(
                            default_size_inspection_limit=BODY_INSPECTION_LIMIT
                        )
                    )
                ]
            ),
            visibility_config=_visibility(acl_name),
            opts=ctx.opts(self),
        )
        self.log_group_name = naming.fit("log-group", f"aws-waf-logs-{ctx.project}-{ctx.stack}-intake")
        group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=self.log_group_name,
            retention_in_days=args.log_retention_days,
            opts=ctx.opts(self),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            name,
            resource_arn=self.web_acl.arn,
            # The log group's ARN without the `:*` suffix, as WAF requires.
            log_destination_configs=[ctx.arn("logs", f"log-group:{self.log_group_name}")],
            redacted_fields=[
                W.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=W.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            opts=ctx.opts(self, depends_on=[group]),
        )
        aws.wafv2.WebAclAssociation(
            name, resource_arn=args.stage_arn, web_acl_arn=self.web_acl.arn, opts=ctx.opts(self)
        )
        self.register_outputs({"webAclArn": self.web_acl.arn, "logGroup": self.log_group_name})
