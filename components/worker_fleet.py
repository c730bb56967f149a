"""The Spot worker fleet: artifact bucket, instance role, launch template, Spot-only Auto Scaling group.

An instance boots a current Amazon Linux 2023, downloads one artifact (the worker package, its Ansible
playbook and a wheelhouse) from a private bucket through the S3 gateway endpoint, installs Ansible from
that wheelhouse and runs the playbook locally with the stack's real names, so a boot needs neither the
internet nor a NAT gateway. The group is Spot only across many instance types and zones
(price-capacity-optimized, capacity rebalance), scales on FIFO backlog per in-service instance, and
holds a terminating instance in a lifecycle hook until the worker has drained and completed it.

Policy documents and the user data are pure functions of plain values, so tests check them directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.config import FleetConfig
from components.monitoring import Monitoring, metric_widget
from components.network import HTTPS, Network
from components.private_bucket import private_bucket
from worker.fifo import telemetry

ROOT = Path(__file__).resolve().parent.parent
WORKER_DIR = ROOT / "worker"
PLAYBOOK = "worker/ansible/playbook.yml"
"""Path of the playbook inside the artifact (and the repository)."""

INSTALL_DIR = "/opt/orders-worker"
ARTIFACT_DIR = f"{INSTALL_DIR}/artifact"
ANSIBLE_VENV = f"{INSTALL_DIR}/ansible"
BOOT_VARS = "/etc/orders-worker/bootstrap.json"
HOST_PYTHON = "/usr/bin/python3.11"
"""AL2023 ships Python 3.9 as `python3`; ansible-core 2.19 and the worker need 3.11, a stock AL2023 package."""

METRIC_NAMESPACE = telemetry.NAMESPACE
"""The only CloudWatch namespace the instance role may publish to: the worker's. The worker emits its
counters as embedded-metric-format log lines (shipped by the CloudWatch agent, extracted by CloudWatch
Logs), so PutMetricData is only the direct-API path for the same namespace."""

SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"
"""AWS-managed: Session Manager, the only way onto an instance that admits nothing inbound."""

AMI_NAME = "al2023-ami-2023.*-kernel-*-x86_64"

SQS_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
"""GetQueueAttributes: the worker reads the queue's own VisibilityTimeout at start (worker/fifo/runner.py)."""
TABLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem")
"""What worker/fifo/order_writer.py calls: a conditional PutItem, and a consistent GetItem to recognise a redelivery."""
INVOICE_ACTIONS = ("s3:PutObject",)
"""The worker creates each invoice with a conditional put (If-None-Match: *), which needs nothing but PutObject:
an invoice that already exists answers 412 without the worker ever reading the bucket."""
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def ansible_core_pin() -> str:
    """`ansible-core==X` as pinned (once) in requirements-dev.txt, so the instance runs the linted version."""
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.strip().startswith("ansible-core=="):
            return line.strip()
    raise RuntimeError("requirements-dev.txt pins no ansible-core== version")


def statement(sid: str, actions: tuple[str, ...], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources, **extra}


def instance_policy(
    *,
    queue_arn: str,
    table_arn: str,
    invoices_bucket_arn: str,
    invoice_prefix: str,
    artifact_object_arn: str,
    log_group_arn: str,
    asg_arn_pattern: str,
) -> str:
    """The worker instance's inline policy: the FIFO queue, the order table, its invoice prefix, its artifact."""
    statements = [
        statement("ConsumeOrderQueue", SQS_ACTIONS, [queue_arn]),
        statement("WriteOrderTable", TABLE_ACTIONS, [table_arn]),
        statement("WriteInvoices", INVOICE_ACTIONS, [f"{invoices_bucket_arn}/{invoice_prefix}*"]),
        statement("ReadWorkerArtifact", ("s3:GetObject",), [artifact_object_arn]),
        statement("WriteWorkerLogs", LOG_ACTIONS, [log_group_arn, f"{log_group_arn}:log-stream:*"]),
        # PutMetricData has no resource type: "*" is required; the namespace condition narrows it.
        statement(
            "PutWorkerMetrics",
            ("cloudwatch:PutMetricData",),
            ["*"],
            Condition={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
        ),
        # The group's ARN embeds a UUID assigned at creation; the name pins it to this group.
        statement("CompleteOwnLifecycleAction", ("autoscaling:CompleteLifecycleAction",), [asg_arn_pattern]),
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def assume_role_policy(service: str = "ec2.amazonaws.com") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def artifact_files(worker_dir: Path = WORKER_DIR) -> Iterator[tuple[str, Path]]:
    """(archive path, file) for the worker package and its playbook; caches and bytecode stay behind."""
    for path in sorted(worker_dir.rglob("*")):
        rel = path.relative_to(worker_dir.parent)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in {".pyc", ".pyo"}:
            yield rel.as_posix(), path


def wheel_files(wheelhouse: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(wheelhouse.glob("*.whl")):
        yield f"wheelhouse/{path.name}", path


def content_digest(files: list[tuple[str, Path]]) -> str:
    """Digest over names and bytes: a changed worker gives a new object key, a new launch template
    version and an instance refresh; an unchanged one changes nothing."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:20]


def playbook_vars(
    *,
    queue_url: str,
    table: str,
    bucket: str,
    region: str,
    invoice_prefix: str,
    drain_seconds: int,
    asg_name: str,
    lifecycle_hook: str,
    log_group: str,
    wheelhouse: bool,
) -> dict[str, Any]:
    """The playbook's variables (worker/ansible/roles/orders_worker/defaults/main.yml documents each)."""
    return {
        "orders_worker_queue_url": queue_url,
        "orders_worker_table": table,
        "orders_worker_bucket": bucket,
        "orders_worker_region": region,
        "orders_worker_invoice_prefix": invoice_prefix,
        "orders_worker_drain_seconds": drain_seconds,
        "orders_worker_asg_name": asg_name,
        "orders_worker_lifecycle_hook": lifecycle_hook,
        "orders_worker_log_group": log_group,
        "orders_worker_artifact_dir": ARTIFACT_DIR,
        "orders_worker_wheelhouse": f"{ARTIFACT_DIR}/wheelhouse" if wheelhouse else "",
        "orders_worker_python": HOST_PYTHON,
    }


def render_user_data(*, artifact_uri: str, region: str, variables: Mapping[str, Any], ansible_pin: str) -> str:
    """Boot script: fetch the artifact, install Ansible (from the wheelhouse when shipped), run the playbook."""
    wheelhouse = str(variables.get("orders_worker_wheelhouse") or "")
    pip_source = f"--no-index --find-links {shlex.quote(wheelhouse)}" if wheelhouse else ""
    vars_json = json.dumps(dict(variables), indent=2, sort_keys=True)
    if "ORDERS_VARS" in vars_json:
        raise ValueError("playbook variables must not contain the heredoc delimiter ORDERS_VARS")
    return f"""#!/bin/bash
# Rendered by components/worker_fleet.py. Logs: /var/log/orders-bootstrap.log and the journal.
set -euo pipefail
exec > >(tee -a /var/log/orders-bootstrap.log | logger -t orders-bootstrap) 2>&1
dnf install -y python3.11 python3.11-pip
install -d -m 0755 {INSTALL_DIR} /etc/orders-worker
aws s3 cp --only-show-errors --region {shlex.quote(region)} {shlex.quote(artifact_uri)} {INSTALL_DIR}/artifact.zip
rm -rf {ARTIFACT_DIR}
{HOST_PYTHON} -m zipfile -e {INSTALL_DIR}/artifact.zip {ARTIFACT_DIR}
{HOST_PYTHON} -m venv {ANSIBLE_VENV}
{ANSIBLE_VENV}/bin/pip install --quiet {pip_source} {shlex.quote(ansible_pin)}
cat > {BOOT_VARS} <<'ORDERS_VARS'
{vars_json}
ORDERS_VARS
chmod 0600 {BOOT_VARS}
{ANSIBLE_VENV}/bin/ansible-playbook -c local -i localhost, -e ansible_python_interpreter={ANSIBLE_VENV}/bin/python \\
  -e @{BOOT_VARS} {ARTIFACT_DIR}/{PLAYBOOK}
"""


def backlog_metrics(queue_name: str, asg_name: str) -> list[dict[str, Any]]:
    """Metric math for target tracking: visible FIFO messages / in-service instances (AWS's backlog-per-instance)."""
    return [
        {
            "id": "visible",
            "label": "Visible messages in the FIFO queue",
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/SQS",
                    "metric_name": "ApproximateNumberOfMessagesVisible",
                    "dimensions": [{"name": "QueueName", "value": queue_name}],
                },
                "stat": "Sum",
            },
            "return_data": False,
        },
        {
            "id": "inservice",
            "label": "In-service instances",
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/AutoScaling",
                    "metric_name": "GroupInServiceInstances",
                    "dimensions": [{"name": "AutoScalingGroupName", "value": asg_name}],
                },
                "stat": "Average",
            },
            "return_data": False,
        },
        {"id": "backlog", "label": "Backlog per instance", "expression": "visible / inservice", "return_data": True},
    ]


@dataclass(frozen=True)
class WorkerFleetArgs:
    network: Network
    queue_name: str
    queue_arn: pulumi.Input[str]
    table_name: str
    table_arn: pulumi.Input[str]
    invoices_bucket_name: pulumi.Input[str]
    invoices_bucket_arn: pulumi.Input[str]
    invoice_prefix: str
    settings: FleetConfig
    monitoring: Monitoring


class WorkerFleet(pulumi.ComponentResource):
    asg_name: str
    lifecycle_hook_name: str
    artifact_bucket_name: pulumi.Output[str]
    artifact_key: str
    role_name: str
    queue_url: pulumi.Output[str]
    user_data: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkerFleetArgs, ctx: AwsContext, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("orders:fleet:WorkerFleet", name, None, opts)
        cfg = args.settings
        self.asg_name = ctx.name(name)
        self.lifecycle_hook_name = ctx.name(f"{name}-drain")
        self.role_name = ctx.name(f"{name}-instance")
        log_group_name = f"/{ctx.project}/{ctx.stack}/{name}"
        # The queue URL has the documented form https://sqs.<region>.amazonaws.com/<account>/<name>; deriving it
        # keeps the user data a known value in the preview of a fresh stack.
        self.queue_url = ctx.account_id.apply(
            lambda account: f"https://sqs.{ctx.region}.amazonaws.com/{account}/{args.queue_name}"
        )

        # --- the artifact: worker package + playbook + wheelhouse, one content-addressed object ---------
        wheelhouse = ROOT / cfg.wheelhouse_dir
        wheels = list(wheel_files(wheelhouse)) if wheelhouse.is_dir() else []
        if not wheels:
            pulumi.log.warn(
                f"{wheelhouse} holds no wheels: run `make wheelhouse` before `pulumi up`, or instances without "
                "internet access (orders:enableNat false) cannot install the worker's Python packages",
                resource=self,
            )
        files = list(artifact_files()) + wheels
        self.artifact_key = f"worker/{content_digest(files)}.zip"
        self.artifact_bucket_name = ctx.account_id.apply(
            lambda account: f"{ctx.name(f'{name}-artifacts')}-{account}-{ctx.region}"
        )
        artifact_bucket_arn = pulumi.Output.all(ctx.partition, self.artifact_bucket_name).apply(
            lambda pb: f"arn:{pb[0]}:s3:::{pb[1]}"
        )
        artifacts = private_bucket(
            f"{name}-artifacts",
            bucket_name=self.artifact_bucket_name,
            bucket_arn=artifact_bucket_arn,
            ctx=ctx,
            parent=self,
            force_destroy=True,
        )
        bucket, encryption = artifacts.bucket, artifacts.encryption
        artifact = aws.s3.BucketObjectv2(
            f"{name}-artifact",
            bucket=bucket.id,
            key=self.artifact_key,
            source=pulumi.AssetArchive({arc: pulumi.FileAsset(str(path)) for arc, path in files}),
            content_type="application/zip",
            server_side_encryption="AES256",
            opts=ctx.opts(self, depends_on=[encryption]),
        )

        # --- identity ---------------------------------------------------------------------------------
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=log_group_name, retention_in_days=30, opts=ctx.opts(self)
        )
        role = aws.iam.Role(
            f"{name}-instance",
            name=self.role_name,
            assume_role_policy=assume_role_policy(),
            description="Spot order worker: its FIFO queue, order table, invoice prefix, artifact, logs and lifecycle hook",
            opts=ctx.opts(self),
        )
        policy_document = pulumi.Output.all(
            args.queue_arn,
            args.table_arn,
            args.invoices_bucket_arn,
            artifact_bucket_arn,
            ctx.arn("logs", f"log-group:{log_group_name}"),
            ctx.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{self.asg_name}"),
        ).apply(
            lambda v: instance_policy(
                queue_arn=v[0],
                table_arn=v[1],
                invoices_bucket_arn=v[2],
                invoice_prefix=args.invoice_prefix,
                artifact_object_arn=f"{v[3]}/{self.artifact_key}",
                log_group_arn=v[4],
                asg_arn_pattern=v[5],
            )
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-instance", role=role.name, policy=policy_document, opts=ctx.opts(self)
        )
        ssm = aws.iam.RolePolicyAttachment(
            f"{name}-ssm",
            role=role.name,
            policy_arn=ctx.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{SSM_CORE_POLICY}"),
            opts=ctx.opts(self),
        )
        profile = aws.iam.InstanceProfile(f"{name}-instance", name=self.role_name, role=role.name, opts=ctx.opts(self))

        # --- network ------------------------------------------------------------------------------------
        net = args.network
        egress: list[Any] = [
            {
                "description": "HTTPS to the interface endpoints",
                "protocol": "tcp",
                "from_port": HTTPS,
                "to_port": HTTPS,
                "cidr_blocks": [net.vpc_cidr],
            },
            {
                "description": "HTTPS to S3 and DynamoDB through the gateway endpoints",
                "protocol": "tcp",
                "from_port": HTTPS,
                "to_port": HTTPS,
                "prefix_list_ids": [net.s3_prefix_list_id, net.dynamodb_prefix_list_id],
            },
        ]
        if net.nat_enabled:
            egress.append(
                {
                    "description": "HTTPS to the internet through the NAT gateway (orders:enableNat)",
                    "protocol": "tcp",
                    "from_port": HTTPS,
                    "to_port": HTTPS,
                    "cidr_blocks": ["0.0.0.0/0"],
                }
            )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-instances",
            name=ctx.name(f"{name}-instances"),
            description="Spot order workers: nothing inbound, HTTPS out to AWS endpoints only",
            vpc_id=net.vpc_id,
            ingress=[],
            egress=egress,
            opts=ctx.opts(self),
        )

        # --- launch template ----------------------------------------------------------------------------
        ami = aws.ec2.get_ami_output(
            most_recent=True,
            owners=["amazon"],
            filters=[
                {"name": "name", "values": [AMI_NAME]},
                {"name": "architecture", "values": ["x86_64"]},
                {"name": "virtualization-type", "values": ["hvm"]},
                {"name": "root-device-type", "values": ["ebs"]},
            ],
            opts=pulumi.InvokeOutputOptions(provider=ctx.provider),
        )
        variables = pulumi.Output.all(self.queue_url, args.invoices_bucket_name).apply(
            lambda v: playbook_vars(
                queue_url=v[0],
                table=args.table_name,
                bucket=v[1],
                region=ctx.region,
                invoice_prefix=args.invoice_prefix,
                drain_seconds=cfg.drain_seconds,
                asg_name=self.asg_name,
                lifecycle_hook=self.lifecycle_hook_name,
                log_group=log_group_name,
                wheelhouse=bool(wheels),
            )
        )
        self.user_data = pulumi.Output.all(self.artifact_bucket_name, variables).apply(
            lambda v: render_user_data(
                artifact_uri=f"s3://{v[0]}/{self.artifact_key}",
                region=ctx.region,
                variables=v[1],
                ansible_pin=ansible_core_pin(),
            )
        )
        tags = {"Name": self.asg_name, "orders:tier": "worker"}
        template = aws.ec2.LaunchTemplate(
            name,
            name=ctx.name(name),
            description="Spot order worker (Amazon Linux 2023 x86_64, bootstrapped by Ansible)",
            image_id=ami.id,
            iam_instance_profile={"arn": profile.arn},
            metadata_options={
                "http_endpoint": "enabled",  # the worker watches spot/instance-action and its lifecycle state
                "http_tokens": "required",  # IMDSv2 only
                "http_put_response_hop_limit": 1,  # no containers: tokens never leave the instance
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": cfg.root_volume_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            network_interfaces=[
                {
                    "device_index": 0,
                    "associate_public_ip_address": "false",
                    "delete_on_termination": "true",
                    "security_groups": [security_group.id],
                }
            ],
            monitoring={"enabled": True},  # 1-minute EC2 metrics for the CPU alarm
            user_data=self.user_data.apply(lambda text: base64.b64encode(text.encode()).decode()),
            tag_specifications=[
                {"resource_type": "instance", "tags": tags},
                {"resource_type": "volume", "tags": tags},
            ],
            update_default_version=True,
            opts=ctx.opts(self),
        )

        # --- the group ----------------------------------------------------------------------------------
        mixed: Any = {
            "instances_distribution": {
                "on_demand_base_capacity": 0,
                "on_demand_percentage_above_base_capacity": 0,
                "spot_allocation_strategy": "price-capacity-optimized",
            },
            "launch_template": {
                "launch_template_specification": {
                    "launch_template_id": template.id,
                    "version": template.latest_version.apply(str),
                },
                "overrides": [{"instance_type": t} for t in cfg.instance_types],
            },
        }
        refresh: Any = {"strategy": "Rolling", "preferences": {"min_healthy_percentage": 50, "instance_warmup": "180"}}
        # GroupInServiceInstances feeds the backlog-per-instance metric math; it exists only when collected.
        group_metrics: Any = [
            "GroupInServiceInstances",
            "GroupDesiredCapacity",
            "GroupPendingInstances",
            "GroupTerminatingInstances",
        ]
        # Provider default tags do not reach a group's own tags (or, through them, its instances): name them here.
        group_tags: Any = [
            {"key": k, "value": v, "propagate_at_launch": True}
            for k, v in {**tags, "project": ctx.project, "stack": ctx.stack}.items()
        ]
        self.group = aws.autoscaling.Group(
            name,
            name=self.asg_name,
            min_size=cfg.min_size,
            max_size=cfg.max_size,
            desired_capacity=cfg.desired_capacity,
            vpc_zone_identifiers=net.private_subnet_ids,
            capacity_rebalance=True,
            default_instance_warmup=180,  # boot + dnf + playbook before an instance counts for scaling
            health_check_type="EC2",
            health_check_grace_period=300,
            metrics_granularity="1Minute",
            enabled_metrics=group_metrics,
            mixed_instances_policy=mixed,
            initial_lifecycle_hooks=[
                {
                    "name": self.lifecycle_hook_name,
                    "lifecycle_transition": "autoscaling:EC2_INSTANCE_TERMINATING",
                    "heartbeat_timeout": cfg.lifecycle_hook_seconds,
                    "default_result": "CONTINUE",
                }
            ],
            instance_refresh=refresh,
            tags=group_tags,
            # The scaling policy owns the desired capacity once the group exists.
            opts=ctx.opts(self, depends_on=[role_policy, ssm, artifact, log_group], ignore_changes=["desiredCapacity"]),
        )
        tracking: Any = {
            "target_value": cfg.backlog_per_instance,
            "customized_metric_specification": {"metrics": backlog_metrics(args.queue_name, self.asg_name)},
        }
        aws.autoscaling.Policy(
            f"{name}-backlog",
            name=ctx.name(f"{name}-backlog-per-instance"),
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=tracking,
            opts=ctx.opts(self),
        )

        args.monitoring.alarm(
            f"{name}-cpu",
            description=(
                f"The Spot worker fleet {self.asg_name} averaged over {cfg.cpu_alarm_percent}% CPU for 3 minutes: "
                "if the backlog also grows, raise orders:fleetMaxSize or pick larger orders:instanceTypes."
            ),
            namespace="AWS/EC2",
            metric="CPUUtilization",
            dimensions={"AutoScalingGroupName": self.asg_name},
            threshold=cfg.cpu_alarm_percent,
            statistic="Average",
            evaluation_periods=3,
        )
        args.monitoring.add_widget(
            metric_widget(
                "Spot worker fleet",
                ctx.region,
                [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.queue_name],
                    ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", self.asg_name],
                    ["AWS/AutoScaling", "GroupDesiredCapacity", "AutoScalingGroupName", self.asg_name],
                    ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", self.asg_name, {"yAxis": "right"}],
                ],
                stat="Average",
            )
        )
        self.register_outputs(
            {
                "asgName": self.asg_name,
                "lifecycleHookName": self.lifecycle_hook_name,
                "artifactBucket": self.artifact_bucket_name,
                "artifactKey": self.artifact_key,
                "roleName": self.role_name,
                "launchTemplateId": template.id,
            }
        )
