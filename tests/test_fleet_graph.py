"""The network and Spot worker fleet, proven on the resource graph the real program registers under mocks."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore import xform_name

from components.network import public_subnet_cidr, subnet_cidrs
from components.worker_fleet import METRIC_NAMESPACE, artifact_files, content_digest
from offline.graph import ROOT, UNKNOWN, Graph, Resource, run_program
from offline.mocks import ACCOUNT_ID
from offline.policy_client import Diagnostic
from policy.guardrails.compute import check_spot_only
from policy.guardrails.core import Res

SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
CONFIG = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return run_program(CONFIG, stack="test", preview=request.param)


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def nat_graph(request: pytest.FixtureRequest) -> Graph:
    return run_program({**CONFIG, "orders:enableNat": "true"}, stack="test", preview=request.param)


def test_private_subnets_in_distinct_zones_of_the_primary_region(graph: Graph) -> None:
    subnets = graph.of_type(SUBNET)
    assert len(subnets) == 3
    assert {graph.region_of(s) for s in subnets} == {"eu-west-1"}
    zones = [s.inputs["availabilityZone"] for s in subnets]
    assert len(set(zones)) == 3 and all(z.startswith("eu-west-1") for z in zones)
    vpc = ipaddress.IPv4Network(graph.one("aws:ec2/vpc:Vpc", "network").inputs["cidrBlock"])
    nets = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def assert_no_public_ips(graph: Graph) -> None:
    subnets = graph.of_type(SUBNET)
    assert subnets
    for subnet in subnets:
        assert subnet.inputs.get("mapPublicIpOnLaunch") is False, subnet.name


def test_no_subnet_maps_public_ips(graph: Graph) -> None:
    assert_no_public_ips(graph)


def test_no_subnet_maps_public_ips_with_nat(nat_graph: Graph) -> None:
    assert_no_public_ips(nat_graph)


def test_endpoints_reach_aws_services_without_nat(graph: Graph) -> None:
    counts = graph.counts()
    for t in ("aws:ec2/natGateway:NatGateway", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/eip:Eip"):
        assert counts[t] == 0, t
    endpoints = {e.inputs["serviceName"].rsplit(".", 1)[-1]: e.inputs for e in graph.of_type(ENDPOINT)}
    assert {k for k, v in endpoints.items() if v["vpcEndpointType"] == "Gateway"} == {"s3", "dynamodb"}
    interface = {k for k, v in endpoints.items() if v["vpcEndpointType"] == "Interface"}
    assert {"sqs", "logs", "monitoring", "autoscaling", "ssm", "ssmmessages", "ec2messages"} <= interface
    for name in interface:
        assert endpoints[name]["privateDnsEnabled"] is True
        assert endpoints[name]["serviceName"] == f"com.amazonaws.eu-west-1.{name}"
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "network-endpoints").inputs
    [rule] = sg["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["cidrBlocks"]) == (443, 443, ["10.20.0.0/16"])


def test_nat_flag_adds_one_public_subnet_and_a_nat_route(nat_graph: Graph) -> None:
    counts = nat_graph.counts()
    assert counts["aws:ec2/natGateway:NatGateway"] == 1
    assert counts["aws:ec2/internetGateway:InternetGateway"] == 1
    public = [s for s in nat_graph.of_type(SUBNET) if s.inputs["tags"]["tier"] == "public"]
    assert len(public) == 1 and counts[SUBNET] == 4
    [route] = nat_graph.of_type("aws:ec2/route:Route")
    assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
    assert "natGatewayId" in route.inputs


# --- the Spot worker fleet -----------------------------------------------------------------------------

ASG = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
REGION = "eu-west-1"
QUEUE_NAME = "orders-test-orders.fifo"
TABLE_NAME = "orders-test-orders"
INVOICES = f"orders-test-invoices-{ACCOUNT_ID}-{REGION}"
ARTIFACTS = f"orders-test-workers-artifacts-{ACCOUNT_ID}-{REGION}"


def fleet_children(graph: Graph) -> list[Resource]:
    [component] = graph.of_type("orders:fleet:WorkerFleet")
    return graph.children(component)


def user_data(graph: Graph) -> str:
    encoded = graph.one(TEMPLATE, "workers").inputs["userData"]
    assert encoded != UNKNOWN, f"user data unknown (preview={graph.preview})"
    return base64.b64decode(encoded).decode()


def boot_vars(graph: Graph) -> dict[str, Any]:
    match = re.search(r"<<'ORDERS_VARS'\n(.*?)\nORDERS_VARS\n", user_data(graph), re.S)
    assert match, "user data writes no playbook variables"
    return dict(json.loads(match.group(1)))


def test_group_is_spot_only_as_the_policy_pack_requires(graph: Graph) -> None:
    asg = graph.one(ASG, "workers").inputs
    dist = asg["mixedInstancesPolicy"]["instancesDistribution"]
    assert dist == {
        "onDemandBaseCapacity": 0,
        "onDemandPercentageAboveBaseCapacity": 0,
        "spotAllocationStrategy": "price-capacity-optimized",
    }
    assert "launchTemplate" not in asg and "launchConfiguration" not in asg  # the mixed policy is the only source
    types = [o["instanceType"] for o in asg["mixedInstancesPolicy"]["launchTemplate"]["overrides"]]
    assert len(types) >= 6 and len(set(types)) == len(types)
    assert not any(re.match(r"^[a-z]+\d+g", t) for t in types), "Graviton type with an x86_64 AMI"
    assert asg["capacityRebalance"] is True
    # The pack's own mandatory rule, on the resources as the pack receives them: a real verdict, not "unknown".
    resources = [Res(type=r.type, name=r.name, urn=r.urn, props=r.inputs) for r in graph.resources]
    verdict = check_spot_only(resources, {})
    assert verdict.violations == [] and verdict.unchecked == []


def test_group_sizes_hook_and_subnets_follow_the_config(graph: Graph) -> None:
    asg = graph.one(ASG, "workers").inputs
    assert (asg["minSize"], asg["desiredCapacity"], asg["maxSize"]) == (1, 2, 20)
    [hook] = asg["initialLifecycleHooks"]
    assert hook["lifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["defaultResult"] == "CONTINUE"
    drain = boot_vars(graph)["orders_worker_drain_seconds"]
    assert hook["heartbeatTimeout"] >= drain + 30 and drain < 120
    assert "GroupInServiceInstances" in asg["enabledMetrics"]
    if not graph.preview:
        subnet_ids = {s.id for s in graph.of_type(SUBNET)}
        assert len(asg["vpcZoneIdentifiers"]) == 3 and set(asg["vpcZoneIdentifiers"]) == subnet_ids


def test_sizes_and_instance_types_come_from_config() -> None:
    types = ["c6i.large", "c6a.large", "c7i.large", "m6i.large", "m6a.large", "m7i.large", "r6i.large"]
    graph = run_program(
        {
            **CONFIG,
            "orders:instanceTypes": json.dumps(types),
            "orders:fleetMinSize": "2",
            "orders:fleetDesiredCapacity": "3",
            "orders:fleetMaxSize": "9",
            "orders:backlogPerInstance": "250",
        },
        stack="test",
        preview=True,
    )
    asg = graph.one(ASG, "workers").inputs
    assert (asg["minSize"], asg["desiredCapacity"], asg["maxSize"]) == (2, 3, 9)
    assert [o["instanceType"] for o in asg["mixedInstancesPolicy"]["launchTemplate"]["overrides"]] == types
    policy = graph.one("aws:autoscaling/policy:Policy", "workers-backlog").inputs
    assert policy["targetTrackingConfiguration"]["targetValue"] == 250


def test_launch_template_requires_imdsv2_encrypts_and_has_no_public_ip(graph: Graph) -> None:
    lt = graph.one(TEMPLATE, "workers").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["metadataOptions"]["httpEndpoint"] == "enabled"
    assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
    [disk] = lt["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
    [nic] = lt["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false"
    assert "vpcSecurityGroupIds" not in lt  # security groups live on the interface
    assert lt["imageId"] == "ami-0a1b2c3d4e5f60718"  # from the get_ami invoke, answered in preview too
    assert "iamInstanceProfile" in lt
    for res in fleet_children(graph):
        assert graph.region_of(res) == REGION, res.name


def test_worker_security_group_admits_nothing_and_only_https_out(graph: Graph) -> None:
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "workers-instances").inputs
    assert sg.get("ingress", []) == []
    assert {(r["protocol"], r["fromPort"], r["toPort"]) for r in sg["egress"]} == {("tcp", 443, 443)}
    assert not any("0.0.0.0/0" in r.get("cidrBlocks", []) for r in sg["egress"]), "internet egress without NAT"


def test_nat_stack_lets_workers_reach_the_internet(nat_graph: Graph) -> None:
    sg = nat_graph.one("aws:ec2/securityGroup:SecurityGroup", "workers-instances").inputs
    assert any(r.get("cidrBlocks") == ["0.0.0.0/0"] and r["fromPort"] == 443 for r in sg["egress"])


EXPECTED_GRANTS = {
    ("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}"),
    ("sqs:DeleteMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}"),
    ("sqs:ChangeMessageVisibility", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}"),
    ("sqs:GetQueueAttributes", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}"),
    ("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{TABLE_NAME}"),
    ("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{TABLE_NAME}"),
    ("s3:PutObject", f"arn:aws:s3:::{INVOICES}/invoices/*"),
    ("cloudwatch:PutMetricData", "*"),
    (
        "autoscaling:CompleteLifecycleAction",
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/orders-test-workers",
    ),
} | {
    (action, arn)
    for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
    for arn in (
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/orders/test/workers",
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/orders/test/workers:log-stream:*",
    )
}


def test_instance_role_grants_exactly_the_expected_actions_on_the_expected_arns(graph: Graph) -> None:
    text = graph.one("aws:iam/rolePolicy:RolePolicy", "workers-instance").inputs["policy"]
    assert text != UNKNOWN, f"instance policy unknown (preview={graph.preview})"
    statements = json.loads(text)["Statement"]
    grants = set()
    for st in statements:
        assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st
        for action in st["Action"]:
            assert "*" not in action, f"wildcard action {action}"
            grants |= {(action, arn) for arn in st["Resource"]}
        if "*" in st["Resource"]:
            assert st["Action"] == ["cloudwatch:PutMetricData"]
            assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}
    artifact = [g for g in grants if g[0] == "s3:GetObject" and g[1].startswith(f"arn:aws:s3:::{ARTIFACTS}/")]
    assert len(artifact) == 1 and re.fullmatch(rf"arn:aws:s3:::{ARTIFACTS}/worker/[0-9a-f]{{20}}\.zip", artifact[0][1])
    assert grants - set(artifact) == EXPECTED_GRANTS
    assume = json.loads(graph.one("aws:iam/role:Role", "workers-instance").inputs["assumeRolePolicy"])
    assert assume["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    [attachment] = [r for r in fleet_children(graph) if r.type.endswith("rolePolicyAttachment:RolePolicyAttachment")]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def test_user_data_runs_the_playbook_with_the_stacks_real_names(graph: Graph) -> None:
    script = user_data(graph)
    assert "ansible-playbook -c local -i localhost," in script
    assert "/opt/orders-worker/artifact/worker/ansible/playbook.yml" in script
    assert re.search(rf"aws s3 cp .* s3://{ARTIFACTS}/worker/[0-9a-f]{{20}}\.zip ", script)
    assert "{{" not in script and "UNKNOWN" not in script
    variables = boot_vars(graph)
    queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{QUEUE_NAME}"
    assert variables["orders_worker_queue_url"] == queue_url
    assert variables["orders_worker_table"] == TABLE_NAME
    assert variables["orders_worker_bucket"] == INVOICES
    assert variables["orders_worker_region"] == REGION
    assert variables["orders_worker_asg_name"] == graph.one(ASG, "workers").inputs["name"]
    assert (
        variables["orders_worker_lifecycle_hook"]
        == graph.one(ASG, "workers").inputs["initialLifecycleHooks"][0]["name"]
    )
    if not graph.preview:  # the derived URL is the one the queue really has
        assert graph.exports["orderQueueUrl"] == queue_url
        assert graph.exports["orderTableName"] == TABLE_NAME
    # Every variable the program renders is one the role declares (and documents) in its defaults.
    defaults = yaml.safe_load((ROOT / "worker/ansible/roles/orders_worker/defaults/main.yml").read_text())
    assert set(variables) <= set(defaults)


def test_scaling_policy_tracks_fifo_backlog_per_in_service_instance(graph: Graph) -> None:
    policy = graph.one("aws:autoscaling/policy:Policy", "workers-backlog").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    tracking = policy["targetTrackingConfiguration"]
    assert tracking["targetValue"] == 1000
    metrics = {m["id"]: m for m in tracking["customizedMetricSpecification"]["metrics"]}
    visible = metrics["visible"]["metricStat"]["metric"]
    assert (visible["namespace"], visible["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    fifo = graph.one("aws:sqs/queue:Queue", "orders").inputs["name"]
    assert visible["dimensions"] == [{"name": "QueueName", "value": fifo}] and fifo == QUEUE_NAME
    inservice = metrics["inservice"]["metricStat"]["metric"]
    assert inservice["metricName"] == "GroupInServiceInstances"
    assert inservice["dimensions"] == [{"name": "AutoScalingGroupName", "value": "orders-test-workers"}]
    assert metrics["backlog"]["expression"] == "visible / inservice"
    assert [m["id"] for m in metrics.values() if m.get("returnData")] == ["backlog"]


def test_cpu_alarm_and_dashboard_widget(graph: Graph) -> None:
    alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "workers-cpu").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/EC2", "CPUUtilization")
    assert alarm["dimensions"] == {"AutoScalingGroupName": "orders-test-workers"}
    assert alarm["threshold"] == 80
    body = json.loads(graph.of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs["dashboardBody"])
    assert any(w["properties"]["title"] == "Spot worker fleet" for w in body["widgets"])


def test_artifact_is_private_encrypted_and_holds_worker_and_playbook(graph: Graph) -> None:
    bucket = graph.one("aws:s3/bucket:Bucket", "workers-artifacts").inputs
    assert bucket["bucket"] == ARTIFACTS
    block = graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "workers-artifacts").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    sse = graph.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "workers-artifacts"
    ).inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    obj = graph.one("aws:s3/bucketObjectv2:BucketObjectv2", "workers-artifact").inputs
    names = set(obj["source"]["assets"])
    assert {"worker/__main__.py", "worker/requirements.txt", "worker/ansible/playbook.yml"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_policy_pack_reports_no_mandatory_violation_on_the_full_stack(
    graph: Graph, no_mandatory_violation: Callable[..., list[Diagnostic]]
) -> None:
    diagnostics = no_mandatory_violation(graph)
    fleet_rules = {"asg-spot-only", "launch-template-imdsv2", "ec2-no-public-ip"}
    assert not [d for d in diagnostics if d.cannot_run and d.policy in fleet_rules]
    # Not even an advisory on this tier's resources.
    components = [*graph.of_type("orders:fleet:WorkerFleet"), *graph.of_type("orders:network:Network")]
    ours = {r.urn for c in components for r in graph.children(c)}
    assert [(d.policy, d.message) for d in diagnostics if d.urn in ours] == []


def test_wheelhouse_ships_in_the_artifact_and_installs_offline(tmp_path: Path) -> None:
    (tmp_path / "example-1.0-py3-none-any.whl").write_bytes(b"not read by the program")
    graph = run_program({**CONFIG, "orders:workerWheelhouse": str(tmp_path)}, stack="test", preview=True)
    obj = graph.one("aws:s3/bucketObjectv2:BucketObjectv2", "workers-artifact").inputs
    assert "wheelhouse/example-1.0-py3-none-any.whl" in obj["source"]["assets"]
    script = user_data(graph)
    assert "pip install --quiet --no-index --find-links /opt/orders-worker/artifact/wheelhouse ansible-core==" in script
    assert boot_vars(graph)["orders_worker_wheelhouse"] == "/opt/orders-worker/artifact/wheelhouse"


def test_artifact_digest_follows_content(tmp_path: Path) -> None:
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "a.py").write_text("A = 1\n")
    (tmp_path / "worker" / "__pycache__").mkdir()
    (tmp_path / "worker" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    files = list(artifact_files(tmp_path / "worker"))
    assert [name for name, _ in files] == ["worker/a.py"]
    before = content_digest(files)
    assert content_digest(list(artifact_files(tmp_path / "worker"))) == before
    (tmp_path / "worker" / "a.py").write_text("A = 2\n")
    assert content_digest(list(artifact_files(tmp_path / "worker"))) != before


def test_tier_resource_counts(graph: Graph, nat_graph: Graph) -> None:
    """The figures the README and the report quote: network 23 (30 with NAT; 4 of them the flow log, its group, role and policy), fleet 15 plus its CPU alarm."""

    def children(g: Graph, component: str) -> int:
        [c] = g.of_type(component)
        return len(g.children(c))

    assert children(graph, "orders:network:Network") == 23
    assert children(nat_graph, "orders:network:Network") == 30
    assert children(graph, "orders:fleet:WorkerFleet") == 15
    assert len([r for r in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if r.name == "workers-cpu"]) == 1


def test_group_carries_the_stack_tags_to_its_instances(graph: Graph) -> None:
    tags = {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in graph.one(ASG, "workers").inputs["tags"]}
    assert tags["project"] == ("orders", True) and tags["stack"] == ("test", True)


def test_group_waits_for_what_a_booting_instance_needs(graph: Graph) -> None:
    """Instances launch as soon as the group exists: their permissions and the artifact must already be there."""
    deps = set(graph.one(ASG, "workers").dependencies)
    for type_, name in [
        ("aws:iam/rolePolicy:RolePolicy", "workers-instance"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "workers-ssm"),
        ("aws:s3/bucketObjectv2:BucketObjectv2", "workers-artifact"),
        ("aws:cloudwatch/logGroup:LogGroup", "workers-logs"),
    ]:
        assert graph.one(type_, name).urn in deps, name


def test_user_data_fits_the_ec2_limit(graph: Graph) -> None:
    assert len(graph.one(TEMPLATE, "workers").inputs["userData"]) < 16 * 1024  # base64-encoded limit


def test_subnet_ranges_are_carved_in_sixteenths_with_the_last_kept_for_nat() -> None:
    assert subnet_cidrs("10.20.0.0/16", 3) == ["10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20"]
    assert public_subnet_cidr("10.20.0.0/16") == "10.20.240.0/20"
    assert subnet_cidrs("192.168.4.0/24", 2) == ["192.168.4.0/28", "192.168.4.16/28"]
    with pytest.raises(ValueError, match="at most 15"):
        subnet_cidrs("10.20.0.0/16", 16)


IAM_ACTION_OF = {"DeleteMessageBatch": "DeleteMessage", "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
"""SQS batch operations are authorised as their single-message action."""


def worker_aws_calls() -> set[str]:
    """IAM actions of every AWS API call in the FIFO worker's source (clients from worker/fifo/aws.py)."""
    source_dir = ROOT / "worker" / "fifo"
    services = set(re.findall(r'session\.client\(\s*"([a-z0-9-]+)"', (source_dir / "aws.py").read_text()))
    assert {"sqs", "dynamodb", "s3", "autoscaling"} <= services
    session = botocore.session.get_session()
    operations = {
        xform_name(op): (service, op)
        for service in services
        for op in session.get_service_model(service).operation_names
    }
    called = {name for path in source_dir.glob("*.py") for name in re.findall(r"\.([a-z_]+)\(", path.read_text())}
    actions = set()
    for name in called & set(operations):
        service, op = operations[name]
        actions.add(f"{service}:{IAM_ACTION_OF.get(op, 'GetObject' if op == 'HeadObject' else op)}")
    return actions


def test_instance_role_grants_every_call_the_worker_makes(graph: Graph) -> None:
    """The least-privilege list must still cover the worker: a missing grant is an AccessDenied on AWS only."""
    calls = worker_aws_calls()
    assert {"sqs:ReceiveMessage", "dynamodb:PutItem", "s3:PutObject", "autoscaling:CompleteLifecycleAction"} <= calls
    granted = {
        action
        for st in json.loads(graph.one("aws:iam/rolePolicy:RolePolicy", "workers-instance").inputs["policy"])[
            "Statement"
        ]
        for action in st["Action"]
    }
    assert calls <= granted, f"the worker calls {sorted(calls - granted)} but the instance role does not grant them"
