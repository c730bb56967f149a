"""Each rule of the policy pack as a pure function: a passing and a violating input per rule, hand-built in
the camelCase shape the engine sends, plus the preview cases (unknown values) where a rule must still decide."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline.graph import Graph, run_program, stack_config
from policy.guardrails import BY_ID, RULES, UNKNOWN, Res, Verdict

ARN = "arn:aws:sqs:us-east-1:123456789012:"
Q = "aws:sqs/queue:Queue"


def run(rule_id: str, target: Any, **config: Any) -> Verdict:
    return BY_ID[rule_id].run(target, config)


def res(type_: str, name: str, props: dict[str, Any] | None = None, **kw: Any) -> Res:
    return Res(type=type_, name=name, urn=f"urn:pulumi:dev::orders::{type_}::{name}", props=props or {}, **kw)


def redrive(target: str, count: Any = 3) -> str:
    return json.dumps({"deadLetterTargetArn": ARN + target, "maxReceiveCount": count})


def queue(name: str, physical: str, **props: Any) -> Res:
    return res(Q, name, {"name": physical, "sqsManagedSseEnabled": True, **props})


def pair(fifo: bool = False, count: Any = 3) -> list[Res]:
    suffix = ".fifo" if fifo else ""
    extra = {"fifoQueue": True} if fifo else {}
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [ARN + "work" + suffix]})
    return [
        queue("work", "work" + suffix, redrivePolicy=redrive("work-dlq" + suffix, count), **extra),
        queue("work-dlq", "work-dlq" + suffix, redriveAllowPolicy=allow, **extra),
    ]


def test_the_pack_has_the_two_mandatory_rules_and_at_least_15_advisory_ones() -> None:
    levels = [r.level for r in RULES]
    assert {r.id for r in RULES if r.level == "mandatory"} == {
        "sqs-redrive-max-receive-count",
        "sqs-queue-has-dlq",
        "sqs-dlq-same-kind",
        "asg-spot-only",
        "apigateway-method-authorized",
        "vpc-flow-logs",
        "rds-log-exports",
    }
    assert levels.count("advisory") >= 15
    for rule in RULES:
        assert rule.description and rule.control, rule.id
        assert "exemptResources" in rule.schema()
        for key, spec in rule.schema().items():
            assert "default" in spec and "type" in spec, (rule.id, key)


# --- SQS: the mandatory DLQ rule ---------------------------------------------------------------------------


def test_max_receive_count_passes_at_3_and_fails_at_5_naming_the_fix() -> None:
    good, _ = pair()
    assert run("sqs-redrive-max-receive-count", good) == Verdict()
    bad, _ = pair(count=5)
    verdict = run("sqs-redrive-max-receive-count", bad)
    assert verdict.messages == [
        "Queue 'work': redrivePolicy.maxReceiveCount is 5; set it to 3 (a message moves to the DLQ after 3 receives)"
    ]


def test_max_receive_count_is_configurable_and_accepts_a_numeric_string() -> None:
    five, _ = pair(count="5")
    assert run("sqs-redrive-max-receive-count", five, maxReceiveCount=5) == Verdict()
    assert run("sqs-redrive-max-receive-count", five).violations


def test_max_receive_count_checks_a_separate_redrive_policy_resource_and_bad_json() -> None:
    separate = res(
        "aws:sqs/redrivePolicy:RedrivePolicy", "work", {"queueUrl": UNKNOWN, "redrivePolicy": redrive("x", 10)}
    )
    assert "is 10" in run("sqs-redrive-max-receive-count", separate).messages[0]
    broken = queue("work", "work", redrivePolicy="{not json")
    assert "not valid JSON" in run("sqs-redrive-max-receive-count", broken).messages[0]
    not_sqs = queue(
        "work", "work", redrivePolicy=json.dumps({"deadLetterTargetArn": "arn:aws:sns:x", "maxReceiveCount": 3})
    )
    assert "is not an SQS queue ARN" in run("sqs-redrive-max-receive-count", not_sqs).messages[0]


def test_max_receive_count_reports_an_unknown_policy_as_unchecked_not_as_a_pass_or_crash() -> None:
    verdict = run("sqs-redrive-max-receive-count", queue("work", "work", redrivePolicy=UNKNOWN))
    assert verdict.violations == [] and "redrivePolicy" in verdict.unchecked[0]


def test_queue_has_dlq_passes_for_a_pair_and_exempts_the_dlq() -> None:
    assert run("sqs-queue-has-dlq", pair()) == Verdict()
    assert run("sqs-queue-has-dlq", pair(fifo=True)) == Verdict()


def test_a_queue_without_redrive_policy_violates_on_its_own_urn() -> None:
    lone = queue("lone", "lone")
    verdict = run("sqs-queue-has-dlq", [*pair(), lone])
    assert [(v.urn, "has no dead-letter queue" in v.message) for v in verdict.violations] == [(lone.urn, True)]


def test_a_dlq_named_only_by_the_redrive_policy_needs_no_redrive_allow_policy() -> None:
    work, dlq = pair()
    plain_dlq = queue("work-dlq", "work-dlq")  # no redriveAllowPolicy: exempt because work names it
    assert run("sqs-queue-has-dlq", [work, plain_dlq]) == Verdict()
    assert dlq.props["redriveAllowPolicy"]


def test_a_redrive_target_missing_from_the_stack_violates() -> None:
    work, _ = pair()
    verdict = run("sqs-queue-has-dlq", [work])
    assert verdict.violations[0].urn == work.urn
    assert "work-dlq is not a queue in this stack" in verdict.violations[0].message


def test_a_separate_redrive_policy_resource_counts_via_its_property_dependency() -> None:
    work = queue("work", "work")
    dlq = queue("work-dlq", "work-dlq")
    separate = res(
        "aws:sqs/redrivePolicy:RedrivePolicy",
        "work",
        {"queueUrl": UNKNOWN, "redrivePolicy": redrive("work-dlq")},
        property_dependencies={"queueUrl": [work.urn]},
    )
    assert run("sqs-queue-has-dlq", [work, dlq, separate]) == Verdict()
    assert run("sqs-queue-has-dlq", [work, dlq]).violations[0].urn == work.urn


def test_an_unknown_redrive_target_is_decided_through_its_property_dependency() -> None:
    work, dlq = pair()
    unknown_but_linked = Res(
        **{
            **work.__dict__,
            "props": {**work.props, "redrivePolicy": UNKNOWN},
            "property_dependencies": {"redrivePolicy": [dlq.urn]},
        }
    )
    assert run("sqs-queue-has-dlq", [unknown_but_linked, dlq]) == Verdict()
    unknown = Res(**{**work.__dict__, "props": {**work.props, "redrivePolicy": UNKNOWN}})
    verdict = run("sqs-queue-has-dlq", [unknown, dlq])
    assert verdict.violations == [] and verdict.unchecked == ["Queue 'work': redrive target (unknown until apply)"]


def test_dlq_same_kind_passes_for_matching_kinds_and_fails_fifo_with_standard_dlq() -> None:
    assert run("sqs-dlq-same-kind", pair(fifo=True)) == Verdict()
    fifo = queue("orders", "orders.fifo", fifoQueue=True, redrivePolicy=redrive("std-dlq"))
    std_dlq = queue("std-dlq", "std-dlq")
    verdict = run("sqs-dlq-same-kind", [fifo, std_dlq])
    assert [v.urn for v in verdict.violations] == [fifo.urn]
    assert "a FIFO queue's DLQ must be FIFO" in verdict.messages[0]
    std = queue("std", "std", redrivePolicy=redrive("f-dlq.fifo"))
    assert (
        "must be a standard queue"
        in run("sqs-dlq-same-kind", [std, queue("f", "f-dlq.fifo", fifoQueue=True)]).messages[0]
    )


def test_sqs_encrypted() -> None:
    assert run("sqs-encrypted", queue("a", "a")) == Verdict()
    assert run("sqs-encrypted", res(Q, "b", {"kmsMasterKeyId": "alias/k"})) == Verdict()
    assert "not encrypted" in run("sqs-encrypted", res(Q, "c", {"sqsManagedSseEnabled": False})).messages[0]


def scoped_policy(service: str, conditions: dict[str, Any]) -> str:
    stmt = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "*",
        "Resource": "*",
        "Condition": conditions,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def test_sqs_policy_scoped() -> None:
    policy_type = "aws:sqs/queuePolicy:QueuePolicy"
    good = scoped_policy("sns.amazonaws.com", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}})
    assert run("sqs-policy-scoped", res(policy_type, "p", {"policy": good})) == Verdict()
    unscoped = scoped_policy("sns.amazonaws.com", {})
    assert "aws:SourceArn" in run("sqs-policy-scoped", res(policy_type, "p", {"policy": unscoped})).messages[0]
    public = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:*"}]})
    assert "any principal" in run("sqs-policy-scoped", res(policy_type, "p", {"policy": public})).messages[0]
    assert run("sqs-policy-scoped", res(policy_type, "p", {"policy": UNKNOWN})).unchecked


# --- SNS and S3 -------------------------------------------------------------------------------------------


def test_sns_encrypted() -> None:
    topic = "aws:sns/topic:Topic"
    assert run("sns-encrypted", res(topic, "t", {"kmsMasterKeyId": "arn:aws:kms:x"})) == Verdict()
    assert run("sns-encrypted", res(topic, "t", {"kmsMasterKeyId": UNKNOWN})) == Verdict()  # key not created yet
    assert "not encrypted" in run("sns-encrypted", res(topic, "t", {})).messages[0]


def test_sns_policy_needs_source_account_for_s3() -> None:
    policy_type = "aws:sns/topicPolicy:TopicPolicy"
    both = {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b"}, "StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert (
        run("sns-policy-scoped", res(policy_type, "p", {"policy": scoped_policy("s3.amazonaws.com", both)}))
        == Verdict()
    )
    arn_only = {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b"}}
    verdict = run("sns-policy-scoped", res(policy_type, "p", {"policy": scoped_policy("s3.amazonaws.com", arn_only)}))
    assert len(verdict.violations) == 1 and "aws:SourceAccount" in verdict.messages[0]


BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
TLS = json.dumps(
    {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
)


def bucket_with(name: str, *, flags: bool = True, policy: str | None = TLS) -> list[Res]:
    bucket = res(BUCKET, name, {"bucket": f"{name}-physical"})
    found = [bucket]
    all_flags = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    if flags:
        pab = {**all_flags, "bucket": UNKNOWN, "restrictPublicBuckets": flags}
        found.append(res(PAB, name, pab, property_dependencies={"bucket": [bucket.urn]}))
    if policy is not None:
        found.append(res("aws:s3/bucketPolicy:BucketPolicy", name, {"bucket": f"{name}-physical", "policy": policy}))
    return found


def test_s3_public_access_block_with_the_error_page_exempt_by_default() -> None:
    assert run("s3-public-access-block", bucket_with("invoices")) == Verdict()
    naked = bucket_with("reports", flags=False)
    assert "has no public access block" in run("s3-public-access-block", naked).messages[0]
    error_page = bucket_with("error-page", flags=False, policy=None)
    assert run("s3-public-access-block", error_page) == Verdict()
    assert run("s3-public-access-block", error_page, exemptResources=[]).violations


def test_s3_public_access_block_flags_a_setting_left_off() -> None:
    stack = bucket_with("invoices")
    off = Res(**{**stack[1].__dict__, "props": {**stack[1].props, "ignorePublicAcls": False}})
    assert "leaves ignorePublicAcls off" in run("s3-public-access-block", [stack[0], off]).messages[0]


def test_s3_tls_only_with_the_error_page_exempt() -> None:
    assert run("s3-tls-only", bucket_with("invoices")) == Verdict()
    verdict = run("s3-tls-only", bucket_with("reports", policy=None))
    assert "accepts plain HTTP" in verdict.messages[0]
    assert run("s3-tls-only", bucket_with("error-page", policy=None)) == Verdict()
    assert run("s3-tls-only", bucket_with("reports", policy=UNKNOWN)).unchecked


def test_both_s3_rules_leave_a_bare_bucket_unchecked_while_an_attachment_cannot_be_placed() -> None:
    """In preview a block or policy whose bucket is an unknown id with no dependency may be the bare bucket's:
    both rules (one shared per-bucket shape) then list it as unchecked instead of failing it."""
    bare = res(BUCKET, "reports", {"bucket": "reports-physical"})
    block = res(PAB, "somewhere", dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True) | {"bucket": UNKNOWN})  # fmt: skip
    policy = res("aws:s3/bucketPolicy:BucketPolicy", "somewhere", {"bucket": UNKNOWN, "policy": TLS})
    pab = run("s3-public-access-block", [bare, block])
    assert pab.violations == [] and pab.unchecked == [
        "Bucket 'reports': which bucket BucketPublicAccessBlock 'somewhere' blocks"
    ]
    tls = run("s3-tls-only", [bare, policy])
    assert tls.violations == [] and tls.unchecked == [
        "Bucket 'reports': which bucket BucketPolicy 'somewhere' belongs to"
    ]


# --- the Spot fleet ----------------------------------------------------------------------------------------

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def spot_asg(**dist: Any) -> dict[str, Any]:
    distribution = {"onDemandBaseCapacity": 0, "onDemandPercentageAboveBaseCapacity": 0, **dist}
    overrides = [{"instanceType": t} for t in ("m7i.large", "m6i.large", "m5.large")]
    return {
        "mixedInstancesPolicy": {
            "instancesDistribution": {"spotAllocationStrategy": "price-capacity-optimized", **distribution},
            "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": UNKNOWN}, "overrides": overrides},
        },
        "vpcZoneIdentifiers": [UNKNOWN, UNKNOWN],
        "capacityRebalance": True,
    }


def test_asg_spot_only_passes_for_a_zero_on_demand_mixed_policy_even_with_unknown_ids() -> None:
    assert run("asg-spot-only", [res(ASG, "workers", spot_asg())]) == Verdict()


def test_asg_spot_only_fails_at_20_percent_on_demand_and_on_a_missing_distribution() -> None:
    asg = res(ASG, "workers", spot_asg(onDemandPercentageAboveBaseCapacity=20))
    verdict = run("asg-spot-only", [asg])
    assert [v.urn for v in verdict.violations] == [asg.urn]
    assert "onDemandPercentageAboveBaseCapacity is 20; set it to 0" in verdict.messages[0]
    no_dist = res(ASG, "workers", {"mixedInstancesPolicy": {"launchTemplate": {}}})
    assert "AWS launches 100% On-Demand" in run("asg-spot-only", [no_dist]).messages[0]
    defaulted = res(ASG, "workers", {"mixedInstancesPolicy": {"instancesDistribution": {"onDemandBaseCapacity": 0}}})
    assert "AWS defaults it to 100" in run("asg-spot-only", [defaulted]).messages[0]
    base = res(ASG, "workers", spot_asg(onDemandBaseCapacity=1))
    assert "onDemandBaseCapacity is 1" in run("asg-spot-only", [base]).messages[0]


def test_asg_spot_only_reads_the_launch_template_market_type_from_the_stack() -> None:
    spot_lt = res(LT, "workers", {"name": "workers-lt", "instanceMarketOptions": {"marketType": "spot"}})
    asg = res(
        ASG, "workers", {"launchTemplate": {"id": UNKNOWN}}, property_dependencies={"launchTemplate": [spot_lt.urn]}
    )
    assert run("asg-spot-only", [spot_lt, asg]) == Verdict()
    on_demand_lt = res(LT, "workers", {"name": "workers-lt"})
    by_name = res(ASG, "workers", {"launchTemplate": {"name": "workers-lt"}})
    assert (
        "launches On-Demand instances from LaunchTemplate 'workers'"
        in run("asg-spot-only", [on_demand_lt, by_name]).messages[0]
    )
    elsewhere = res(ASG, "workers", {"launchTemplate": {"id": "lt-0123"}})
    assert "not defined in this stack" in run("asg-spot-only", [elsewhere]).messages[0]


def test_asg_spot_only_rejects_a_launch_configuration_without_spot_price() -> None:
    lc = res(
        "aws:ec2/launchConfiguration:LaunchConfiguration", "workers", {"name": "workers-lc", "instanceType": "m5.large"}
    )
    asg = res(ASG, "workers", {"launchConfiguration": "workers-lc"})
    verdict = run("asg-spot-only", [lc, asg])
    assert verdict.violations[0].urn == asg.urn and "sets no spotPrice" in verdict.messages[0]
    priced = Res(**{**lc.__dict__, "props": {**lc.props, "spotPrice": "0.05"}})
    assert run("asg-spot-only", [priced, asg]) == Verdict()


def test_asg_spot_only_reports_an_unknown_percentage_as_unchecked() -> None:
    verdict = run("asg-spot-only", [res(ASG, "workers", spot_asg(onDemandPercentageAboveBaseCapacity=UNKNOWN))])
    assert verdict.violations == [] and "onDemandPercentageAboveBaseCapacity" in verdict.unchecked[0]


def test_asg_hygiene_rules_pass_for_the_reference_group_and_fail_when_weakened() -> None:
    good = res(ASG, "workers", spot_asg())
    for rule in (
        "asg-uses-launch-template",
        "asg-multi-az",
        "asg-capacity-rebalance",
        "asg-spot-allocation-strategy",
        "asg-instance-type-diversity",
    ):
        assert run(rule, good) == Verdict(), rule
    weak = res(
        ASG,
        "workers",
        {
            "launchConfiguration": "lc",
            "vpcZoneIdentifiers": ["subnet-1"],
            "mixedInstancesPolicy": {"launchTemplate": {"overrides": [{"instanceType": "m5.large"}]}},
        },
    )
    assert "launch configuration" in run("asg-uses-launch-template", weak).messages[0]
    assert "spans 1 subnet(s)" in run("asg-multi-az", weak).messages[0]
    assert "capacityRebalance is off" in run("asg-capacity-rebalance", weak).messages[0]
    assert "'lowest-price' (the AWS default)" in run("asg-spot-allocation-strategy", weak).messages[0]
    assert "allows 1 instance type(s); list at least 3" in run("asg-instance-type-diversity", weak).messages[0]
    assert run("asg-instance-type-diversity", weak, minInstanceTypes=1) == Verdict()
    assert run("asg-multi-az", res(ASG, "w", {"vpcZoneIdentifiers": UNKNOWN})).unchecked


def test_imdsv2_required_and_endpoint_enabled() -> None:
    good = res(LT, "w", {"metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled"}})
    assert run("ec2-imdsv2", good) == Verdict()
    assert "set it to required" in run("ec2-imdsv2", res(LT, "w", {})).messages[0]
    off = res(LT, "w", {"metadataOptions": {"httpTokens": "required", "httpEndpoint": "disabled"}})
    assert "httpEndpoint is disabled" in run("ec2-imdsv2", off).messages[0]


def test_no_public_ip() -> None:
    assert (
        run("ec2-no-public-ip", res(LT, "w", {"networkInterfaces": [{"associatePublicIpAddress": "false"}]}))
        == Verdict()
    )
    bad = res(LT, "w", {"networkInterfaces": [{"associatePublicIpAddress": "true"}]})
    assert "associates a public IP" in run("ec2-no-public-ip", bad).messages[0]
    instance = res("aws:ec2/instance:Instance", "i", {"associatePublicIpAddress": True})
    assert "gets a public IP" in run("ec2-no-public-ip", instance).messages[0]


# --- data stores ------------------------------------------------------------------------------------------


def test_dynamodb_pitr() -> None:
    table = "aws:dynamodb/table:Table"
    assert run("dynamodb-pitr", res(table, "t", {"pointInTimeRecovery": {"enabled": True}})) == Verdict()
    assert "pointInTimeRecovery.enabled is unset" in run("dynamodb-pitr", res(table, "t", {})).messages[0]


@pytest.mark.parametrize("type_", ["aws:rds/instance:Instance", "aws:rds/cluster:Cluster"])
def test_rds_encrypted(type_: str) -> None:
    assert run("rds-encrypted", res(type_, "db", {"storageEncrypted": True})) == Verdict()
    assert "storageEncrypted" in run("rds-encrypted", res(type_, "db", {})).messages[0]


def test_rds_not_public() -> None:
    db = "aws:rds/instance:Instance"
    assert run("rds-not-public", res(db, "db", {"publiclyAccessible": False})) == Verdict()
    assert "publicly accessible" in run("rds-not-public", res(db, "db", {"publiclyAccessible": True})).messages[0]


def test_redshift_encrypted_and_not_public() -> None:
    cluster = "aws:redshift/cluster:Cluster"
    assert run("redshift-encrypted", res(cluster, "wh", {"encrypted": True})) == Verdict()
    assert "encrypted is false" in run("redshift-encrypted", res(cluster, "wh", {"encrypted": False})).messages[0]
    assert run("redshift-encrypted", res("aws:redshiftserverless/namespace:Namespace", "ns", {})) == Verdict()
    workgroup = "aws:redshiftserverless/workgroup:Workgroup"
    assert run("redshift-not-public", res(workgroup, "wg", {})) == Verdict()
    assert run("redshift-not-public", res(workgroup, "wg", {"publiclyAccessible": True})).violations


# --- Lambda consumers -------------------------------------------------------------------------------------

ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
FN = "aws:lambda/function:Function"


def test_lambda_sqs_batch_item_failures() -> None:
    good = res(ESM, "m", {"eventSourceArn": ARN + "shipping", "functionResponseTypes": ["ReportBatchItemFailures"]})
    assert run("lambda-sqs-batch-item-failures", good) == Verdict()
    assert (
        "lacks ReportBatchItemFailures"
        in run("lambda-sqs-batch-item-failures", res(ESM, "m", {"eventSourceArn": ARN + "s"})).messages[0]
    )
    stream = res(ESM, "m", {"eventSourceArn": UNKNOWN, "startingPosition": "LATEST"})
    assert run("lambda-sqs-batch-item-failures", stream) == Verdict()


def test_lambda_sqs_visibility_timeout_is_six_times_the_function_timeout() -> None:
    fn = res(FN, "shipping", {"name": "orders-dev-shipping", "timeout": 30})
    mapping = res(
        ESM,
        "shipping",
        {"eventSourceArn": ARN + "orders-dev-shipping", "functionName": UNKNOWN},
        property_dependencies={"functionName": [fn.urn]},
    )
    ok = queue("shipping", "orders-dev-shipping", visibilityTimeoutSeconds=180)
    assert run("lambda-sqs-visibility-timeout", [fn, mapping, ok]) == Verdict()
    short = queue("shipping", "orders-dev-shipping", visibilityTimeoutSeconds=60)
    verdict = run("lambda-sqs-visibility-timeout", [fn, mapping, short])
    assert verdict.violations[0].urn == short.urn
    assert "set visibilityTimeoutSeconds >= 180 (6x the function timeout)" in verdict.messages[0]


# --- tags -------------------------------------------------------------------------------------------------


def test_required_tags_count_provider_default_tags_except_for_asgs() -> None:
    provider = {"defaultTags": json.dumps({"tags": {"project": "orders", "stack": "dev"}})}
    assert run("required-tags", res(Q, "q", {}, provider=provider)) == Verdict()
    assert "lacks required tag(s) ['project', 'stack']" in run("required-tags", res(Q, "q", {})).messages[0]
    assert run("required-tags", res(ASG, "w", {}, provider=provider)).violations  # default_tags skip ASGs
    asg_tags = [{"key": "project", "value": "orders", "propagateAtLaunch": True}, {"key": "stack", "value": "dev"}]
    assert run("required-tags", res(ASG, "w", {"tags": asg_tags})) == Verdict()
    assert (
        run("required-tags", res(Q, "q", {}), requiredTags=["team"])
        .messages[0]
        .endswith("lacks required tag(s) ['team']; set them in tags, or defaultTags on its provider")
    )


def test_exempt_resources_skip_a_resource_rule_by_logical_name() -> None:
    bad = res(Q, "legacy", {"sqsManagedSseEnabled": False})
    assert run("sqs-encrypted", bad).violations
    assert run("sqs-encrypted", bad, exemptResources=["legacy"]) == Verdict()


# --- never crash on unknowns ------------------------------------------------------------------------------


def _unknown_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unknown_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknown_leaves(v) for v in value]
    return UNKNOWN


@pytest.fixture(scope="module")
def dev_graph() -> Graph:
    return run_program(stack_config("dev"))


@pytest.mark.parametrize("shape", ["every leaf unknown", "every input unknown"])
def test_no_rule_crashes_or_blames_on_a_stack_where_nothing_is_known(dev_graph: Graph, shape: str) -> None:
    """The real program's resources with their values replaced by unknowns: every rule answers, and no
    mandatory rule reports a violation it cannot know about; what it skipped is listed instead."""
    graph = dev_graph
    blank = _unknown_leaves if shape == "every leaf unknown" else (lambda props: dict.fromkeys(props, UNKNOWN))
    resources = [
        Res(r.type, r.name, r.urn, blank(r.inputs), property_dependencies=r.property_dependencies)
        for r in graph.resources
    ]
    unchecked = 0
    for rule in RULES:
        verdicts = [rule.run(resources)] if rule.scope == "stack" else [rule.run(r) for r in resources]
        for verdict in verdicts:
            unchecked += len(verdict.unchecked)
            if rule.level == "mandatory":
                assert verdict.violations == [], (rule.id, verdict.violations)
    assert unchecked > 0
