"""Every physical name the program gives AWS is valid for its service, for any project, stack and region.

The rules below are written from the AWS documentation of each name (API reference "Constraints" /
"Pattern", and the AWS provider's validation), independently of `components/naming.py`, which builds the
names: the test would catch a wrong limit there. Two property-based tests (hypothesis):

- the naming helper alone, over many project names, stack names (what Pulumi allows: [A-Za-z0-9_.-], up
  to 100 characters) and every commercial region, for every kind of name;
- the whole program under the mock runtime (a few examples: building the graph takes seconds), reading
  every name out of the registered resources, with and without a domain and with ECS consumers.

Plus the user's report: a stack `production-europe` in eu-central-1 deploys, and short stacks keep the
names they always had (nothing is replaced on upgrade).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import string
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from components import naming
from offline import graph as offline_graph
from offline.graph import UNKNOWN, Graph, Resource, run_program
from offline.mocks import ACCOUNT_ID

COMMERCIAL_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
)
"""Every commercial (aws partition) region, as of 2025."""

PULUMI_NAME_CHARS = string.ascii_letters + string.digits + "_.-"
stack_names = st.text(alphabet=PULUMI_NAME_CHARS, min_size=1, max_size=100)
"""`pulumi stack init` accepts [A-Za-z0-9_.-], up to 100 characters."""
project_names = st.one_of(st.just("orders"), st.text(alphabet=PULUMI_NAME_CHARS, min_size=1, max_size=100))
regions = st.sampled_from(COMMERCIAL_REGIONS)

# --- what AWS accepts, per kind of name -----------------------------------------------------------------

Check = Callable[[str], str | None]
"""A name -> None when valid, else why not."""


def rule(
    max_len: int,
    chars: str,
    *,
    min_len: int = 1,
    first: str | None = None,
    forbid: tuple[str, ...] = (),
    prefixes: tuple[str, ...] = (),
    suffixes: tuple[str, ...] = (),
    extra: Callable[[str], str | None] | None = None,
) -> Check:
    """Length, a full-match character pattern, an optional first-character pattern, forbidden substrings,
    prefixes and suffixes."""

    def check(name: str) -> str | None:
        if not min_len <= len(name) <= max_len:
            return f"length {len(name)} outside {min_len}..{max_len}"
        if not re.fullmatch(chars, name):
            return f"does not match {chars}"
        if first and not re.match(first, name):
            return f"must start with {first}"
        for bad in forbid:
            if bad in name:
                return f"contains {bad!r}"
        if name.startswith(prefixes) or name.endswith(suffixes):
            return "reserved prefix or suffix"
        return extra(name) if extra else None

    return check


def _not_an_ip(name: str) -> str | None:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return "formatted as an IP address"


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
S3_BUCKET = rule(
    63,
    r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
    min_len=3,
    forbid=("..",),
    prefixes=("xn--", "sthree-", "amzn-s3-demo-"),
    suffixes=("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"),
    extra=_not_an_ip,
)
IAM_ROLE = rule(64, r"[\w+=,.@-]+")  # IAM API: RoleName, Pattern [\w+=,.@-]+, 1-64
IAM_INSTANCE_PROFILE = rule(128, r"[\w+=,.@-]+")
LAMBDA_FUNCTION = rule(64, r"[a-zA-Z0-9_-]+")  # a plain name (ARNs may be longer)
LAMBDA_LAYER = rule(140, r"[a-zA-Z0-9_-]+")
RDS_IDENTIFIER = rule(63, r"[a-z][a-z0-9-]*", forbid=("--",), suffixes=("-",))  # lower-case: the provider's check
RDS_SNAPSHOT = rule(255, r"[A-Za-z][A-Za-z0-9-]*", forbid=("--",), suffixes=("-",))
RDS_PARAMETER_GROUP = rule(255, r"[a-z][a-z0-9-]*", forbid=("--",), suffixes=("-",))  # DBParameterGroupName
RDS_SUBNET_GROUP = rule(255, r"[a-z0-9 ._-]+", extra=lambda name: "reserved" if name == "default" else None)
REDSHIFT_SERVERLESS = rule(64, r"[a-z0-9-]+", min_len=3)  # namespaceName / workgroupName
SQS_QUEUE = rule(80, r"[A-Za-z0-9_-]+(\.fifo)?")
SNS_TOPIC = rule(256, r"[A-Za-z0-9_-]+")
DYNAMODB_TABLE = rule(255, r"[a-zA-Z0-9_.-]+", min_len=3)
LOG_GROUP = rule(512, r"[\.\-_/#A-Za-z0-9]+")
ALARM = rule(255, r"[\x20-\x7e]+")
DASHBOARD = rule(255, r"[A-Za-z0-9_-]+")
SECURITY_GROUP = rule(255, r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+", prefixes=("sg-",))
LAUNCH_TEMPLATE = rule(128, r"[a-zA-Z0-9().\-/_]+", min_len=3)
ASG = rule(255, r"[^:]+")  # ARNs are built from it, so no ':'
ASG_POLICY = rule(255, r"[^:]+")
LIFECYCLE_HOOK = rule(255, r"[A-Za-z0-9\-_/]+")
REST_API = rule(128, r"[ -~]+")  # AWS documents no limit; the console's is 128
ECS = rule(255, r"[a-zA-Z0-9_-]+")
KMS_ALIAS = rule(256, r"alias/[a-zA-Z0-9/_-]+", prefixes=("alias/aws/",))
WAF = rule(128, r"[\w-]+")
TAG_VALUE = rule(256, r"[\w .:/=+@-]*", min_len=0)

NAMES: dict[str, dict[str, Check]] = {
    "aws:s3/bucket:Bucket": {"bucket": S3_BUCKET},
    "aws:s3/bucketV2:BucketV2": {"bucket": S3_BUCKET},
    "aws:iam/role:Role": {"name": IAM_ROLE, "namePrefix": rule(38, r"[\w+=,.@-]+")},
    "aws:iam/instanceProfile:InstanceProfile": {"name": IAM_INSTANCE_PROFILE},
    "aws:lambda/function:Function": {"name": LAMBDA_FUNCTION},
    "aws:lambda/eventSourceMapping:EventSourceMapping": {"functionName": LAMBDA_FUNCTION},
    "aws:lambda/layerVersion:LayerVersion": {"layerName": LAMBDA_LAYER},
    "aws:rds/instance:Instance": {"identifier": RDS_IDENTIFIER, "finalSnapshotIdentifier": RDS_SNAPSHOT},
    "aws:rds/subnetGroup:SubnetGroup": {"name": RDS_SUBNET_GROUP},
    "aws:rds/parameterGroup:ParameterGroup": {"name": RDS_PARAMETER_GROUP},
    "aws:redshiftserverless/namespace:Namespace": {"namespaceName": REDSHIFT_SERVERLESS},
    "aws:redshiftserverless/workgroup:Workgroup": {
        "workgroupName": REDSHIFT_SERVERLESS,
        "namespaceName": REDSHIFT_SERVERLESS,
    },
    "aws:sqs/queue:Queue": {"name": SQS_QUEUE},
    "aws:sns/topic:Topic": {"name": SNS_TOPIC},
    "aws:dynamodb/table:Table": {"name": DYNAMODB_TABLE},
    "aws:cloudwatch/logGroup:LogGroup": {"name": LOG_GROUP},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {"name": ALARM},
    "aws:cloudwatch/dashboard:Dashboard": {"dashboardName": DASHBOARD},
    "aws:ec2/securityGroup:SecurityGroup": {"name": SECURITY_GROUP},
    "aws:ec2/launchTemplate:LaunchTemplate": {"name": LAUNCH_TEMPLATE},
    "aws:autoscaling/group:Group": {"name": ASG},
    "aws:autoscaling/policy:Policy": {"name": ASG_POLICY},
    "aws:apigateway/restApi:RestApi": {"name": REST_API},
    "aws:apigateway/usagePlan:UsagePlan": {"name": REST_API},
    "aws:apigateway/apiKey:ApiKey": {"name": REST_API},
    "aws:ecs/cluster:Cluster": {"name": ECS},
    "aws:ecs/service:Service": {"name": ECS},
    "aws:ecs/taskDefinition:TaskDefinition": {"family": ECS},
    "aws:kms/alias:Alias": {"name": KMS_ALIAS},
    "aws:wafv2/webAcl:WebAcl": {"name": WAF},
    "aws:wafv2/ruleGroup:RuleGroup": {"name": WAF},
    "aws:wafv2/ipSet:IpSet": {"name": WAF},
    "aws:wafv2/regexPatternSet:RegexPatternSet": {"name": WAF},
}
"""(resource type -> name input -> AWS rule). Every name-like input must be covered (see NOT_PHYSICAL_NAMES)."""

NAME_KEYS = {
    "name",
    "namePrefix",
    "bucket",
    "bucketPrefix",
    "functionName",
    "layerName",
    "identifier",
    "identifierPrefix",
    "finalSnapshotIdentifier",
    "namespaceName",
    "workgroupName",
    "dashboardName",
    "family",
}
NOT_PHYSICAL_NAMES = {
    # Fixed strings, or references to another resource's name or id (checked where that resource is).
    ("aws:apigateway/model:Model", "name"),
    ("aws:apigateway/requestValidator:RequestValidator", "name"),
    ("aws:rds/parameterGroup:ParameterGroup", "family"),  # the engine family (postgres16), not a name
    ("aws:route53/record:Record", "name"),  # the configured domain (validated at config load) or ACM's record
    ("pulumi:providers:aws", "name"),
}


def is_bucket_reference(resource: Resource, key: str) -> bool:
    """`bucket` of a bucket's settings, objects and notification: the id of the bucket (checked on the bucket)."""
    return key == "bucket" and resource.type.startswith("aws:s3/") and resource.type not in NAMES


def names_in(graph: Graph) -> Iterator[tuple[Resource, str, str]]:
    """(resource, what, name) for every physical name the graph holds (known values only)."""
    for resource in graph.resources:
        inputs = resource.inputs
        for key, value in inputs.items():
            if key in NAME_KEYS and isinstance(value, str) and value != UNKNOWN:
                if key in NAMES.get(resource.type, {}):
                    yield resource, key, value
                elif (resource.type, key) not in NOT_PHYSICAL_NAMES and not is_bucket_reference(resource, key):
                    raise AssertionError(
                        f"{resource.type} {resource.name}: input {key}={value!r} looks like a physical name "
                        "but tests/test_names.py has no AWS rule for it; add one to NAMES"
                    )
        for hook in inputs.get("initialLifecycleHooks") or []:
            yield resource, "initialLifecycleHooks.name", hook["name"]
        tags = inputs.get("tags")
        pairs = tags.items() if isinstance(tags, dict) else [(t["key"], t["value"]) for t in tags or []]
        for tag, value in pairs:
            if isinstance(value, str) and value != UNKNOWN:
                yield resource, f"tags.{tag}", value


def check_for(resource: Resource, what: str) -> Check:
    if what == "initialLifecycleHooks.name":
        return LIFECYCLE_HOOK
    if what.startswith("tags."):
        return TAG_VALUE
    return NAMES[resource.type][what]


def invalid_names(graph: Graph) -> list[str]:
    problems = []
    for resource, what, name in names_in(graph):
        why = check_for(resource, what)(name)
        if why:
            problems.append(f"{resource.type} {resource.name} {what}={name!r}: {why}")
    return problems


# --- the helper, over many names ------------------------------------------------------------------------

KIND_CHECKS: dict[naming.Kind, Check] = {
    "s3": S3_BUCKET,
    "iam-role": IAM_ROLE,
    "iam-instance-profile": IAM_INSTANCE_PROFILE,
    "lambda": LAMBDA_FUNCTION,
    "lambda-layer": LAMBDA_LAYER,
    "rds": RDS_IDENTIFIER,
    "rds-snapshot": RDS_SNAPSHOT,
    "rds-subnet-group": RDS_SUBNET_GROUP,
    "rds-parameter-group": RDS_PARAMETER_GROUP,
    "redshift-serverless": REDSHIFT_SERVERLESS,
    "sqs": SQS_QUEUE,
    "sns": SNS_TOPIC,
    "dynamodb": DYNAMODB_TABLE,
    "log-group": LOG_GROUP,
    "alarm": ALARM,
    "dashboard": DASHBOARD,
    "security-group": SECURITY_GROUP,
    "launch-template": LAUNCH_TEMPLATE,
    "asg": ASG,
    "asg-policy": ASG_POLICY,
    "lifecycle-hook": LIFECYCLE_HOOK,
    "api": REST_API,
    "waf": WAF,
    "ecs": ECS,
    "kms-alias": lambda name: KMS_ALIAS(f"alias/{name}"),
    "tag": TAG_VALUE,
}


def test_every_kind_of_name_has_an_independent_aws_rule() -> None:
    assert set(KIND_CHECKS) == set(naming.RULES)


BASES = ("orders", "workers-artifacts", "shipping-consumer-errors", "intake-cloudwatch", "sales")


@settings(max_examples=400, deadline=None, database=None)
@given(
    project=project_names,
    stack=stack_names,
    other_stack=stack_names,
    region=regions,
    base=st.sampled_from(BASES),
    kind=st.sampled_from(sorted(naming.RULES)),
    fifo=st.booleans(),
)
def test_the_naming_helper_makes_valid_stable_distinct_names(
    project: str, stack: str, other_stack: str, region: str, base: str, kind: naming.Kind, fifo: bool
) -> None:
    suffix = ".fifo" if fifo and kind == "sqs" else ""
    parts = (base, ACCOUNT_ID, region) if kind == "s3" else (base, region)
    name = naming.physical_name(kind, project, stack, *parts, suffix=suffix)
    assert KIND_CHECKS[kind](name) is None, (kind, name, KIND_CHECKS[kind](name))
    assert name.endswith(suffix)
    assert naming.physical_name(kind, project, stack, *parts, suffix=suffix) == name, "stable"
    raw = "-".join((project, stack, *parts)) + suffix
    if KIND_CHECKS[kind](raw) is None:
        assert name == raw, "a name that is already valid is never changed"
    else:
        assert naming.digest(raw) in name, "a changed name carries the hash of the original"
    if other_stack != stack:
        assert naming.physical_name(kind, project, other_stack, *parts, suffix=suffix) != name, "stacks never collide"


def test_names_shortened_for_a_long_stack_keep_the_resource_part_readable() -> None:
    name = naming.physical_name("sqs", "orders", "x" * 100, "orders-dlq", suffix=".fifo")
    assert len(name) == 80 and name.endswith("-orders-dlq.fifo") and name.startswith("orders-xxx")
    bucket = naming.physical_name("s3", "orders", "production-europe", "workers-artifacts", ACCOUNT_ID, "eu-central-1")
    assert bucket.endswith(f"-workers-artifacts-{ACCOUNT_ID}-eu-central-1") and len(bucket) <= 63
    # Case and characters a service refuses are changed, and the hash keeps `Prod` apart from `prod`.
    assert naming.physical_name("rds", "orders", "Prod", "shipping") != naming.physical_name(
        "rds", "orders", "prod", "shipping"
    )
    assert naming.physical_name("rds", "orders", "prod", "shipping") == "orders-prod-shipping"


# --- the whole program ------------------------------------------------------------------------------------


def build(project: str, stack: str, primary: str, failover: str, *, domain: bool, ecs: bool) -> Graph:
    config = {f"{project}:primaryRegion": primary, f"{project}:failoverRegion": failover}
    if domain:
        config |= {f"{project}:domainName": "orders.example.com", f"{project}:hostedZoneId": "Z0123456789ABCDEFGHIJ"}
    if ecs:
        config |= {
            f"{project}:shippingConsumerRuntime": "ecs",
            f"{project}:analyticsConsumerRuntime": "ecs",
            f"{project}:consumerImage": f"{ACCOUNT_ID}.dkr.ecr.{primary}.amazonaws.com/orders-consumer:1",
        }
    # The harness names the project after offline.graph.PROJECT (and reads Pulumi.yaml's defaults into its
    # config namespace), as the CLI names it after Pulumi.yaml's `name`.
    with mock.patch.object(offline_graph, "PROJECT", project):
        return run_program(config, stack=stack)


# No shrinking: each example builds the whole graph (seconds), and the failure names every invalid name anyway.
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    project=project_names,
    stack=stack_names,
    regions_=st.lists(regions, min_size=2, max_size=2, unique=True),
    domain=st.booleans(),
    ecs=st.booleans(),
)
def test_every_name_in_the_graph_is_valid_for_any_project_stack_and_region(
    project: str, stack: str, regions_: list[str], domain: bool, ecs: bool
) -> None:
    graph = build(project, stack, regions_[0], regions_[1], domain=domain, ecs=ecs)
    assert invalid_names(graph) == []
    assert graph.of_type("aws:ecs/service:Service") if ecs else graph.of_type("aws:lambda/function:Function")


def test_the_reported_stack_production_europe_in_eu_central_1_deploys() -> None:
    graph = build("orders", "production-europe", "eu-central-1", "eu-west-1", domain=False, ecs=False)
    assert invalid_names(graph) == []
    artifacts = graph.one("aws:s3/bucket:Bucket", "workers-artifacts").inputs["bucket"]
    assert len(artifacts) <= 63 and artifacts.endswith("-workers-artifacts-123456789012-eu-central-1")
    # The names the program derives ARNs, policies and user data from are the ones it gives the resources.
    role = graph.one("aws:iam/role:Role", "intake-send").inputs["name"]
    credentials = graph.one("aws:apigateway/integration:Integration", "orders-post").inputs["credentials"]
    assert credentials.endswith(f":role/{role}")
    user_data = base64.b64decode(graph.one("aws:ec2/launchTemplate:LaunchTemplate", "workers").inputs["userData"])
    assert f"s3://{artifacts}/" in user_data.decode()


def test_a_one_hundred_character_upper_case_dotted_stack_deploys() -> None:
    stack = ("Black.Friday_" * 8)[:100]
    graph = build("orders", stack, "ap-southeast-7", "ap-northeast-3", domain=True, ecs=True)
    assert invalid_names(graph) == []
    queue = graph.one("aws:sqs/queue:Queue", "orders")
    dlq = graph.one("aws:sqs/queue:Queue", "orders-dlq")
    assert queue.inputs["name"].endswith("-orders.fifo") and dlq.inputs["name"].endswith("-orders-dlq.fifo")
    assert json.loads(queue.inputs["redrivePolicy"])["deadLetterTargetArn"].endswith(":" + dlq.inputs["name"])


def dev_names() -> dict[tuple[str, str, str], Any]:
    graph = run_program({})
    return {(r.type, r.name, what): name for r, what, name in names_in(graph)}


def test_short_stacks_keep_the_names_they_always_had() -> None:
    """Shortening applies only where a name would be invalid: `dev` is not replaced on upgrade."""
    names = dev_names()
    expected = {
        ("aws:sqs/queue:Queue", "orders", "name"): "orders-dev-orders.fifo",
        ("aws:sqs/queue:Queue", "orders-dlq", "name"): "orders-dev-orders-dlq.fifo",
        ("aws:s3/bucket:Bucket", "invoices", "bucket"): f"orders-dev-invoices-{ACCOUNT_ID}-us-east-1",
        ("aws:s3/bucket:Bucket", "workers-artifacts", "bucket"): f"orders-dev-workers-artifacts-{ACCOUNT_ID}-us-east-1",
        ("aws:iam/role:Role", "intake-send", "name"): "orders-dev-intake-send-us-east-1",
        ("aws:iam/role:Role", "intake-cloudwatch", "name"): "orders-dev-intake-cloudwatch-us-east-1",
        ("aws:rds/instance:Instance", "shipping-db", "identifier"): "orders-dev-shipping",
        ("aws:cloudwatch/logGroup:LogGroup", "workers-logs", "name"): "/orders/dev/workers",
        ("aws:dynamodb/table:Table", "orders", "name"): "orders-dev-orders",
    }
    assert {key: names[key] for key in expected} == expected
    for (_type, _name, what), name in names.items():
        if not what.startswith("tags.") and name.startswith("orders-dev-"):
            assert not re.search(r"-[0-9a-f]{8}(\.fifo)?$", name.removesuffix(f"-{ACCOUNT_ID}-us-east-1")), name


@pytest.mark.parametrize("kind", sorted(naming.RULES))
def test_an_impossible_input_still_gets_a_valid_name(kind: naming.Kind) -> None:
    """Nothing but separators: sanitizing leaves an empty name, which becomes `x<hash>`."""
    name = naming.physical_name(kind, "-", ".", "_")
    assert KIND_CHECKS[kind](name) is None, name
