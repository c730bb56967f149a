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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.aws_context import AwsContext
from components.config import FleetConfig
from components.iam import policy_document, role_with_policy, statement
from components.monitoring import AlarmSpec, MetricWidget, metric_widget
from components.network import HTTPS, NetworkRefs
from components.private_bucket import private_bucket
from worker import topology

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

METRIC_NAMESPACE = topology.METRIC_NAMESPACE
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
    return policy_document(statements)


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


def backlog_metrics(
    queue_name: str, asg_name: str
) -> list[aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricArgs]:
    """Metric math for target tracking: visible FIFO messages / in-service instances (AWS's backlog-per-instance)."""
    metric = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricArgs
    stat = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricMetricStatArgs
    spec = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs
    dim = aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs
    return [
        metric(
            id="visible",
            label="Visible messages in the FIFO queue",
            metric_stat=stat(
                metric=spec(
                    namespace="AWS/SQS",
                    metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions=[dim(name="QueueName", value=queue_name)],
                ),
                stat="Sum",
            ),
            return_data=False,
        ),
        metric(
            id="inservice",
            label="In-service instances",
            metric_stat=stat(
                metric=spec(
                    namespace="AWS/AutoScaling",
                    metric_name="GroupInServiceInstances",
                    dimensions=[dim(name="AutoScalingGroupName", value=asg_name)],
                ),
                stat="Average",
            ),
            return_data=False,
        ),
        metric(id="backlog", label="Backlog per instance", expression="visible / inservice", return_data=True),
    ]


def egress_rules(net: NetworkRefs) -> list[aws.ec2.SecurityGroupEgressArgs]:
    """HTTPS to the interface endpoints, to S3/DynamoDB through the gateways and, with NAT, to the internet."""
    rules = [
        aws.ec2.SecurityGroupEgressArgs(
            description="HTTPS to the interface endpoints",
            protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_blocks=[net.vpc_cidr],
        ),
        aws.ec2.SecurityGroupEgressArgs(
            description="HTTPS to S3 and DynamoDB through the gateway endpoints",
            protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            prefix_list_ids=[net.s3_prefix_list_id, net.dynamodb_prefix_list_id],
        ),
    ]
    if net.nat_enabled:
        rules.append(
            aws.ec2.SecurityGroupEgressArgs(
                description="HTTPS to the internet through the NAT gateway (orders:enableNat)",
                protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                cidr_blocks=["0.0.0.0/0"],
            )
        )
    return rules


def fleet_alarms(asg_name: str, cfg: FleetConfig, name: str) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            name=f"{name}-cpu",
            description=(
                f"The Spot worker fleet {asg_name} averaged over {cfg.cpu_alarm_percent}% CPU for 3 minutes: "
                "if the backlog also grows, raise orders:fleetMaxSize or pick larger orders:instanceTypes."
            ),
            namespace="AWS/EC2",
            metric="CPUUtilization",
            dimensions={"AutoScalingGroupName": asg_name},
            threshold=cfg.cpu_alarm_percent,
            statistic="Average",
            evaluation_periods=3,
        )
    ]


def fleet_widget(region: str, queue_name: str, asg_name: str) -> MetricWidget:
    return metric_widget(
        "Spot worker fleet",
        region,
        [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name],
            ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", asg_name],
            ["AWS/AutoScaling", "GroupDesiredCapacity", "AutoScalingGroupName", asg_name],
            ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", asg_name, {"yAxis": "right"}],
        ],
        stat="Average",
    )


@dataclass(frozen=True, kw_only=True)
class WorkerFleetArgs:
    ctx: AwsContext
    network: NetworkRefs
    queue_name: str
    queue_arn: pulumi.Input[str]
    table_name: str
    table_arn: pulumi.Input[str]
    invoices_bucket_name: pulumi.Input[str]
    invoices_bucket_arn: pulumi.Input[str]
    invoice_prefix: str
    settings: FleetConfig


def worker_ami(ctx: AwsContext) -> pulumi.Output[aws.ec2.GetAmiResult]:
    """The newest Amazon Linux 2023 x86_64 HVM EBS image of the stack's region."""
    return aws.ec2.get_ami_output(
        most_recent=True,
        owners=["amazon"],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[AMI_NAME]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            aws.ec2.GetAmiFilterArgs(name="virtualization-type", values=["hvm"]),
            aws.ec2.GetAmiFilterArgs(name="root-device-type", values=["ebs"]),
        ],
        opts=pulumi.InvokeOutputOptions(provider=ctx.provider),
    )


def imdsv2_only() -> aws.ec2.LaunchTemplateMetadataOptionsArgs:
    return aws.ec2.LaunchTemplateMetadataOptionsArgs(
        http_endpoint="enabled",  # the worker watches spot/instance-action and its lifecycle state
        http_tokens="required",  # IMDSv2 only
        http_put_response_hop_limit=1,  # no containers: tokens never leave the instance
        instance_metadata_tags="disabled",
    )


def encrypted_root_volume(size_gb: int) -> aws.ec2.LaunchTemplateBlockDeviceMappingArgs:
    return aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
        device_name="/dev/xvda",
        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
            volume_size=size_gb, volume_type="gp3", encrypted="true", delete_on_termination="true"
        ),
    )


def private_interface(security_group_id: pulumi.Input[str]) -> aws.ec2.LaunchTemplateNetworkInterfaceArgs:
    """The primary interface: no public IP, only the fleet's security group."""
    return aws.ec2.LaunchTemplateNetworkInterfaceArgs(
        device_index=0,
        associate_public_ip_address="false",
        delete_on_termination="true",
        security_groups=[security_group_id],
    )


GROUP_METRICS = (
    aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
    aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
    aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
    aws.autoscaling.Metric.GROUP_TERMINATING_INSTANCES,
)
"""GroupInServiceInstances feeds the backlog-per-instance metric math; it exists only when collected."""


def spot_only_mix(
    template: aws.ec2.LaunchTemplate, instance_types: Sequence[str]
) -> aws.autoscaling.GroupMixedInstancesPolicyArgs:
    """No On-Demand at all; Spot price-capacity-optimized over every listed instance type."""
    asg = aws.autoscaling
    return asg.GroupMixedInstancesPolicyArgs(
        instances_distribution=asg.GroupMixedInstancesPolicyInstancesDistributionArgs(
            on_demand_base_capacity=0,
            on_demand_percentage_above_base_capacity=0,
            spot_allocation_strategy="price-capacity-optimized",
        ),
        launch_template=asg.GroupMixedInstancesPolicyLaunchTemplateArgs(
            launch_template_specification=asg.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                launch_template_id=template.id, version=template.latest_version.apply(str)
            ),
            overrides=[
                asg.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t) for t in instance_types
            ],
        ),
    )


def drain_hook(hook_name: str, heartbeat_seconds: int) -> aws.autoscaling.GroupInitialLifecycleHookArgs:
    """Holds a terminating instance until the worker has drained and completed the hook (or the heartbeat ends)."""
    return aws.autoscaling.GroupInitialLifecycleHookArgs(
        name=hook_name,
        lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
        heartbeat_timeout=heartbeat_seconds,
        default_result="CONTINUE",
    )


@dataclass(frozen=True)
class _Artifact:
    bucket_arn: pulumi.Output[str]
    obj: aws.s3.BucketObjectv2
    wheelhouse: bool


@dataclass(frozen=True)
class _Identity:
    profile: aws.iam.InstanceProfile
    log_group: aws.cloudwatch.LogGroup
    grants: list[pulumi.Resource]
    """The role's policies: the group waits for them so a booting instance already has its permissions."""


class WorkerFleet(pulumi.ComponentResource):
    asg_name: str
    lifecycle_hook_name: str
    artifact_bucket_name: pulumi.Output[str]
    artifact_key: str
    role_name: str
    log_group_name: str
    queue_url: pulumi.Output[str]
    user_data: pulumi.Output[str]
    group: aws.autoscaling.Group
    alarms: list[AlarmSpec]
    widgets: list[MetricWidget]

    def __init__(self, name: str, args: WorkerFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:fleet:WorkerFleet", name, None, opts)
        ctx = args.ctx
        self.asg_name = ctx.name(name, kind="asg")
        self.lifecycle_hook_name = ctx.name(f"{name}-drain", kind="lifecycle-hook")
        self.role_name = ctx.name(f"{name}-instance", kind="iam-role")  # also the instance profile's (128)
        self.log_group_name = naming.fit("log-group", f"/{ctx.project}/{ctx.stack}/{name}")
        # The queue URL has the documented form https://sqs.<region>.amazonaws.com/<account>/<name>; deriving it
        # keeps the user data a known value in the preview of a fresh stack.
        self.queue_url = ctx.account_id.apply(
            lambda account: f"https://sqs.{ctx.region}.amazonaws.com/{account}/{args.queue_name}"
        )
        artifact = self._artifact(name, args)
        identity = self._identity(name, args, artifact.bucket_arn)
        security_group = self._security_group(name, args)
        self.user_data = self._user_data(args, artifact.wheelhouse)
        template = self._launch_template(name, args, identity.profile, security_group)
        self.group = self._group(name, args, template, depends_on=[*identity.grants, artifact.obj, identity.log_group])
        self._scale_on_backlog(name, args)
        self.alarms = fleet_alarms(self.asg_name, args.settings, name)
        self.widgets = [fleet_widget(ctx.region, args.queue_name, self.asg_name)]
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

    def _artifact(self, name: str, args: WorkerFleetArgs) -> _Artifact:
        """The worker package, its playbook and the wheelhouse: one content-addressed object in a private bucket."""
        ctx = args.ctx
        wheelhouse = ROOT / args.settings.wheelhouse_dir
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
            lambda account: ctx.name(f"{name}-artifacts", account, ctx.region, kind="s3")
        )
        bucket_arn = pulumi.Output.all(ctx.partition, self.artifact_bucket_name).apply(
            lambda pb: f"arn:{pb[0]}:s3:::{pb[1]}"
        )
        bucket = private_bucket(
            f"{name}-artifacts",
            bucket_name=self.artifact_bucket_name,
            bucket_arn=bucket_arn,
            ctx=ctx,
            parent=self,
            force_destroy=True,
        )
        obj = aws.s3.BucketObjectv2(
            f"{name}-artifact",
            bucket=bucket.bucket.id,
            key=self.artifact_key,
            source=pulumi.AssetArchive({arc: pulumi.FileAsset(str(path)) for arc, path in files}),
            content_type="application/zip",
            server_side_encryption="AES256",
            opts=ctx.opts(self, depends_on=[bucket.encryption]),
        )
        return _Artifact(bucket_arn=bucket_arn, obj=obj, wheelhouse=bool(wheels))

    def _identity(self, name: str, args: WorkerFleetArgs, artifact_bucket_arn: pulumi.Output[str]) -> _Identity:
        """The instance's log group, role (inline least-privilege policy + SSM core) and instance profile."""
        ctx = args.ctx
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=self.log_group_name, retention_in_days=30, opts=ctx.opts(self)
        )
        policy = pulumi.Output.all(
            args.queue_arn,
            args.table_arn,
            args.invoices_bucket_arn,
            artifact_bucket_arn,
            ctx.arn("logs", f"log-group:{self.log_group_name}"),
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
        instance = role_with_policy(
            f"{name}-instance",
            ctx,
            self,
            role_name=self.role_name,
            service="ec2.amazonaws.com",
            description="Spot order worker: its FIFO queue, order table, invoice prefix, artifact, logs and lifecycle hook",
            policy=policy,
            managed_policies={f"{name}-ssm": SSM_CORE_POLICY},
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-instance", name=self.role_name, role=instance.role.name, opts=ctx.opts(self)
        )
        return _Identity(profile=profile, log_group=log_group, grants=instance.grants)

    def _security_group(self, name: str, args: WorkerFleetArgs) -> aws.ec2.SecurityGroup:
        ctx = args.ctx
        return aws.ec2.SecurityGroup(
            f"{name}-instances",
            name=ctx.name(f"{name}-instances", kind="security-group"),
            description="Spot order workers: nothing inbound, HTTPS out to AWS endpoints only",
            vpc_id=args.network.vpc_id,
            ingress=[],
            egress=egress_rules(args.network),
            opts=ctx.opts(self),
        )

    def _scale_on_backlog(self, name: str, args: WorkerFleetArgs) -> None:
        """Target tracking on FIFO backlog per in-service instance (the metric math of `backlog_metrics`)."""
        ctx = args.ctx
        aws.autoscaling.Policy(
            f"{name}-backlog",
            name=ctx.name(f"{name}-backlog-per-instance", kind="asg-policy"),
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                target_value=args.settings.backlog_per_instance,
                customized_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationCustomizedMetricSpecificationArgs(
                    metrics=backlog_metrics(args.queue_name, self.asg_name)
                ),
            ),
            opts=ctx.opts(self),
        )

    def _user_data(self, args: WorkerFleetArgs, wheelhouse: bool) -> pulumi.Output[str]:
        """The boot script with the stack's real names (known at preview: every name is derived)."""
        ctx = args.ctx
        variables = pulumi.Output.all(self.queue_url, args.invoices_bucket_name).apply(
            lambda v: playbook_vars(
                queue_url=v[0],
                table=args.table_name,
                bucket=v[1],
                region=ctx.region,
                invoice_prefix=args.invoice_prefix,
                drain_seconds=args.settings.drain_seconds,
                asg_name=self.asg_name,
                lifecycle_hook=self.lifecycle_hook_name,
                log_group=self.log_group_name,
                wheelhouse=wheelhouse,
            )
        )
        return pulumi.Output.all(self.artifact_bucket_name, variables).apply(
            lambda v: render_user_data(
                artifact_uri=f"s3://{v[0]}/{self.artifact_key}",
                region=ctx.region,
                variables=v[1],
                ansible_pin=ansible_core_pin(),
            )
        )

    def _launch_template(
        self,
        name: str,
        args: WorkerFleetArgs,
        profile: aws.iam.InstanceProfile,
        security_group: aws.ec2.SecurityGroup,
    ) -> aws.ec2.LaunchTemplate:
        """Current AL2023 x86_64, IMDSv2 only, encrypted gp3 root, no public IP, the rendered user data."""
        ctx = args.ctx
        tags = self._instance_tags()
        return aws.ec2.LaunchTemplate(
            name,
            name=ctx.name(name, kind="launch-template"),
            description="Spot order worker (Amazon Linux 2023 x86_64, bootstrapped by Ansible)",
            image_id=worker_ami(ctx).id,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=imdsv2_only(),
            block_device_mappings=[encrypted_root_volume(args.settings.root_volume_gb)],
            network_interfaces=[private_interface(security_group.id)],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),  # 1-minute EC2 metrics for the CPU alarm
            user_data=self.user_data.apply(lambda text: base64.b64encode(text.encode()).decode()),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags),
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags=tags),
            ],
            update_default_version=True,
            opts=ctx.opts(self),
        )

    def _instance_tags(self) -> dict[str, str]:
        return {"Name": self.asg_name, "orders:tier": "worker"}

    def _group(
        self, name: str, args: WorkerFleetArgs, template: aws.ec2.LaunchTemplate, depends_on: list[pulumi.Resource]
    ) -> aws.autoscaling.Group:
        """Spot only, price-capacity-optimized over every instance type; a lifecycle hook holds terminations."""
        ctx, cfg = args.ctx, args.settings
        asg = aws.autoscaling
        # Provider default tags do not reach a group's own tags (or, through them, its instances): name them here.
        tags = {**self._instance_tags(), "project": ctx.project, "stack": ctx.stack}
        return asg.Group(
            name,
            name=self.asg_name,
            min_size=cfg.min_size,
            max_size=cfg.max_size,
            desired_capacity=cfg.desired_capacity,
            vpc_zone_identifiers=args.network.private_subnet_ids,
            capacity_rebalance=True,
            default_instance_warmup=180,  # boot + dnf + playbook before an instance counts for scaling
            health_check_type="EC2",
            health_check_grace_period=300,
            metrics_granularity="1Minute",
            enabled_metrics=list(GROUP_METRICS),
            mixed_instances_policy=spot_only_mix(template, cfg.instance_types),
            initial_lifecycle_hooks=[drain_hook(self.lifecycle_hook_name, cfg.lifecycle_hook_seconds)],
            instance_refresh=asg.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=asg.GroupInstanceRefreshPreferencesArgs(min_healthy_percentage=50, instance_warmup="180"),
            ),
            tags=[asg.GroupTagArgs(key=k, value=v, propagate_at_launch=True) for k, v in tags.items()],
            # The scaling policy owns the desired capacity once the group exists.
            opts=ctx.opts(self, depends_on=depends_on, ignore_changes=["desiredCapacity"]),
        )
