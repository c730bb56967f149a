"""The fan-out consumers (worker/topology.py's registry: shipping, analytics), each as a Lambda function or an
ECS Fargate Spot service.

Every consumer is built from its registry entry: its name, the database it writes (which gives its environment,
its grants, and whether it runs in the VPC: `DATABASE_ACCESS` here, once per database) and the config key of
its runtime. Nothing here names a consumer.

Lambda (default): the function code is an `AssetArchive` of the `worker` package built here (only what
the consumers import); third-party dependencies come from one layer built by `make lambda-layer`
(manylinux wheels for the Lambda runtime, `worker/requirements.txt`), so code deploys stay small and
the layer changes only when the pins do. Each function is fed by an SQS event source mapping with
`ReportBatchItemFailures` and a maximum concurrency (which also caps database connections). A consumer of
the shipping database (RDS) runs in the private subnets with the database's client security group; one of
the warehouse calls the Redshift Data API, a public AWS endpoint, so it needs no VPC.

ECS (per consumer, by config): the same code as `python -m worker consume <name>` in a Fargate service
on the FARGATE_SPOT capacity provider, in the private subnets; it reaches AWS through interface
endpoints (added here for the services the network does not already serve).

Roles are least privilege: receive/delete on the consumer's own queue, GetObject on the invoice prefix,
the database secret (shipping database) or the Data API on its workgroup (warehouse), and its own log group.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.aws_context import AwsContext
from components.config import ConsumersConfig
from components.databases import SHIPPING_DB_NAME, WAREHOUSE_DB_NAME, DatabaseRefs
from components.iam import RoleWithPolicy, policy_document, role_with_policy, statement
from components.monitoring import AlarmSpec, MetricWidget, metric_widget
from components.network import HTTPS, INTERFACE_SERVICES, NetworkRefs
from components.queue import QueueRef
from worker import topology

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_RUNTIME = "python3.11"
"""The Python the tests run on and the layer is built for (`scripts/build_lambda_layer.sh`)."""
LAMBDA_ARCH = "x86_64"
HANDLER = "worker.consumers.lambda_handlers.{consumer}_handler"
"""Every consumer's handler by its name (worker/consumers/lambda_handlers.py answers `<name>_handler`)."""

PACKAGED = (
    "worker/__init__.py",
    "worker/__main__.py",
    "worker/access.py",
    "worker/model.py",
    "worker/topology.py",
    "worker/consumers",
)
"""What the function archive holds: the consumers, the shared model and the AccessDenied logging their clients
use (worker/access.py), not the FIFO worker or local tools."""

SQS_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
INVOICE_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
"""GetObjectVersion: the bucket is versioned, and the event's versionId is what the consumer fetches."""
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
DATA_API_ACTIONS = ("redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement")
DATA_API_OWN_STATEMENTS = (
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",
)
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
"""What a Lambda function in a VPC needs for its ENIs (the content of AWSLambdaVPCAccessExecutionRole minus logs)."""


@dataclass(frozen=True)
class DatabaseAccess:
    """How a consumer reaches one database (`topology.ConsumerDatabase`) in AWS: the variables the program sets
    (worker/consumers/processing.py reads them) and the statements its role gets (from the resolved ARNs)."""

    environment: Callable[[DatabaseRefs], dict[str, pulumi.Input[str]]]
    statements: Callable[..., list[dict[str, Any]]]
    """(secret_arn=, workgroup_arn=) -> the statements."""


def _shipping_database_env(dbs: DatabaseRefs) -> dict[str, pulumi.Input[str]]:
    return {
        "ORDERS_DB_SECRET_ARN": dbs.db_secret_arn,
        "ORDERS_DB_HOST": dbs.db_address,
        "ORDERS_DB_PORT": pulumi.Output.from_input(dbs.db_port).apply(str),
        "ORDERS_DB_NAME": SHIPPING_DB_NAME,
    }


def _shipping_database_statements(*, secret_arn: str, workgroup_arn: str) -> list[dict[str, Any]]:
    return [statement("ReadDatabaseSecret", ("secretsmanager:GetSecretValue",), [secret_arn])]


def _warehouse_env(dbs: DatabaseRefs) -> dict[str, pulumi.Input[str]]:
    return {"ORDERS_WAREHOUSE_WORKGROUP": dbs.workgroup_name, "ORDERS_WAREHOUSE_DATABASE": WAREHOUSE_DB_NAME}


def _warehouse_statements(*, secret_arn: str, workgroup_arn: str) -> list[dict[str, Any]]:
    return [
        statement("RunStatementsOnWarehouse", DATA_API_ACTIONS, [workgroup_arn]),
        statement("TemporaryWarehouseCredentials", ("redshift-serverless:GetCredentials",), [workgroup_arn]),
        # Statement ids are not resources: "*" is required; the condition limits it to our own statements.
        statement(
            "FollowOwnStatements",
            DATA_API_OWN_STATEMENTS,
            ["*"],
            Condition={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
        ),
    ]


DATABASE_ACCESS: dict[str, DatabaseAccess] = {
    topology.SHIPPING_DATABASE.name: DatabaseAccess(_shipping_database_env, _shipping_database_statements),
    topology.WAREHOUSE.name: DatabaseAccess(_warehouse_env, _warehouse_statements),
}
"""Per database (`topology.ConsumerDatabase.name`): written once, whatever the number of its consumers."""


def _access(consumer: str) -> DatabaseAccess:
    database = topology.fanout_consumer(consumer).database
    if database.name not in DATABASE_ACCESS:
        raise KeyError(f"consumer {consumer!r} writes {database.name!r}, which DATABASE_ACCESS does not describe")
    return DATABASE_ACCESS[database.name]


def endpoint_services(runtimes: Mapping[str, str]) -> list[str]:
    """Interface endpoints the consumers (name -> runtime) need that the network does not already provide: the
    APIs of each database a consumer in the VPC calls (the shipping secret, the Data API from an ECS task), and
    what every ECS task needs."""
    needed: set[str] = set()
    for name, runtime in runtimes.items():
        consumer = topology.fanout_consumer(name)
        if consumer.needs_vpc or runtime == "ecs":  # it runs in the private subnets
            needed |= set(consumer.database.apis)
    if "ecs" in runtimes.values():
        needed |= {"ecr.api", "ecr.dkr", "logs", "sqs"}  # image pull, awslogs driver, the poller's queue
    return sorted(needed - set(INTERFACE_SERVICES))


def consumer_policy(
    consumer: str,
    *,
    queue_arn: str,
    bucket_arn: str,
    invoice_prefix: str,
    log_group_arn: str,
    secret_arn: str = "",
    workgroup_arn: str = "",
    in_vpc: bool = False,
) -> str:
    """The consumer's inline policy: its queue, the invoices prefix, its database access, its log group."""
    statements = [
        statement("ConsumeOwnQueue", SQS_ACTIONS, [queue_arn]),
        statement("ReadInvoices", INVOICE_ACTIONS, [f"{bucket_arn}/{invoice_prefix}*"]),
        statement("WriteOwnLogs", LOG_ACTIONS, [f"{log_group_arn}:*"]),
        *_access(consumer).statements(secret_arn=secret_arn, workgroup_arn=workgroup_arn),
    ]
    if in_vpc:
        # ENI management has no resource-level scoping for Describe*: "*" is what AWS documents.
        statements.append(statement("ManageFunctionEnis", VPC_ENI_ACTIONS, ["*"]))
    return policy_document(statements)


def packaged_files(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(archive path, file) of the function code; bytecode and caches stay behind."""
    for entry in PACKAGED:
        path = root / entry
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(root)
            if file.is_file() and "__pycache__" not in rel.parts and file.suffix in {".py", ".sql"}:
                yield rel.as_posix(), file


def function_archive(root: Path = ROOT) -> pulumi.AssetArchive:
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in packaged_files(root)})


def poller_container(
    consumer: str, *, image: str, environment: Mapping[str, object], log_group: str, region: str
) -> dict[str, object]:
    """The ECS poller's container definition: the consumer's command, its environment and the awslogs driver."""
    return {
        "name": f"{consumer}-poller",
        "image": image,
        "essential": True,
        "command": ["python", "-m", "worker", "consume", consumer],
        "environment": [{"name": k, "value": str(value)} for k, value in environment.items()],
        # SIGTERM -> the poller finishes its batch; 30 s is a batch of 10 at the Lambda timeout.
        "stopTimeout": 30,
        "readonlyRootFilesystem": True,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": consumer},
        },
    }


@dataclass(frozen=True, kw_only=True)
class ConsumersArgs:
    ctx: AwsContext
    network: NetworkRefs
    databases: DatabaseRefs
    queues: Mapping[str, QueueRef]
    """One per fan-out consumer (`topology.fanout_consumers()`), by its name."""
    invoices_bucket_arn: pulumi.Input[str]
    settings: ConsumersConfig


class FanoutConsumers(pulumi.ComponentResource):
    functions: dict[str, aws.lambda_.Function]
    services: dict[str, aws.ecs.Service]
    function_names: dict[str, str]

    def __init__(self, name: str, args: ConsumersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:consumers:FanoutConsumers", name, None, opts)
        ctx = self._ctx = args.ctx
        self._args = args
        self.functions, self.services, self.function_names = {}, {}, {}
        self.alarms: list[AlarmSpec] = []
        self.widgets: list[MetricWidget] = []
        runtimes = args.settings.runtimes

        for service in endpoint_services(runtimes):
            aws.ec2.VpcEndpoint(
                f"consumers-{service}",
                vpc_id=args.network.vpc_id,
                service_name=f"com.amazonaws.{ctx.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=args.network.private_subnet_ids,
                security_group_ids=[args.network.endpoint_security_group_id],
                tags={"Name": ctx.name(f"consumers-{service}", kind="tag")},
                opts=ctx.opts(self),
            )

        self._layer: aws.lambda_.LayerVersion | None = None
        self._cluster: aws.ecs.Cluster | None = None
        self._cluster_name = ctx.name("consumers", kind="ecs")
        self._egress_sg: aws.ec2.SecurityGroup | None = None
        for consumer, runtime in runtimes.items():
            if runtime == "lambda":
                self._lambda(consumer, args.queues[consumer])
            else:
                self._ecs(consumer, args.queues[consumer])

        self.register_outputs(
            {
                "functions": {c: f.name for c, f in self.functions.items()},
                "services": {c: s.name for c, s in self.services.items()},
            }
        )

    # -- shared pieces -----------------------------------------------------------------------------

    def _environment(self, consumer: str) -> dict[str, pulumi.Input[str]]:
        """The service name, and the variables of the database it writes."""
        env: dict[str, pulumi.Input[str]] = {"POWERTOOLS_SERVICE_NAME": f"orders-{consumer}"}
        return env | _access(consumer).environment(self._args.databases)

    def _role(self, consumer: str, service: str, log_group: aws.cloudwatch.LogGroup, *, in_vpc: bool) -> RoleWithPolicy:
        """The function's or the task's role, with `consumer_policy` inline."""
        ctx, args = self._ctx, self._args
        policy = pulumi.Output.all(
            args.queues[consumer].arn,
            args.invoices_bucket_arn,
            log_group.arn,
            args.databases.db_secret_arn,
            args.databases.workgroup_arn,
        ).apply(
            lambda v: consumer_policy(
                consumer,
                queue_arn=v[0],
                bucket_arn=v[1],
                invoice_prefix=topology.INVOICE_PREFIX,
                log_group_arn=v[2],
                secret_arn=v[3],
                workgroup_arn=v[4],
                in_vpc=in_vpc,
            )
        )
        return role_with_policy(
            f"{consumer}-consumer",
            ctx,
            self,
            role_name=ctx.name(f"{consumer}-consumer", kind="iam-role"),
            service=service,
            policy=policy,
        )

    # -- Lambda ------------------------------------------------------------------------------------

    def _dependency_layer(self) -> aws.lambda_.LayerVersion:
        if self._layer is None:
            layer_dir = ROOT / self._args.settings.layer_dir
            if not (layer_dir / "python").is_dir():
                pulumi.log.warn(
                    f"{layer_dir}/python does not exist: run `make lambda-layer` before `pulumi up` "
                    "(the consumers' dependency layer is built from worker/requirements.txt)"
                )
            self._layer = aws.lambda_.LayerVersion(
                "consumer-deps",
                layer_name=self._ctx.name("consumer-deps", kind="lambda-layer"),
                description="worker/requirements.txt for the fan-out consumers (make lambda-layer)",
                code=pulumi.FileArchive(str(layer_dir)),
                compatible_runtimes=[LAMBDA_RUNTIME],
                compatible_architectures=[LAMBDA_ARCH],
                opts=self._ctx.opts(self),
            )
        return self._layer

    def _lambda(self, consumer: str, queue: QueueRef) -> None:
        ctx, args, cfg = self._ctx, self._args, self._args.settings
        function_name = ctx.name(f"{consumer}-consumer", kind="lambda")
        in_vpc = topology.fanout_consumer(consumer).needs_vpc
        log_group = aws.cloudwatch.LogGroup(
            f"{consumer}-consumer",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=cfg.log_retention_days,
            opts=ctx.opts(self),
        )
        role = self._role(consumer, "lambda.amazonaws.com", log_group, in_vpc=in_vpc)
        vpc_config = (
            aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.network.private_subnet_ids,
                security_group_ids=[args.databases.client_security_group_id],
            )
            if in_vpc
            else None
        )
        function = aws.lambda_.Function(
            f"{consumer}-consumer",
            name=function_name,
            description=f"Fan-out consumer: {consumer} (worker.consumers)",
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCH],
            handler=HANDLER.format(consumer=consumer),
            code=function_archive(),
            layers=[self._dependency_layer().arn],
            role=role.role.arn,
            timeout=cfg.timeout_seconds,
            memory_size=cfg.memory_mb,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=self._environment(consumer)),
            vpc_config=vpc_config,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            opts=ctx.opts(self, depends_on=[log_group, *role.grants]),
        )
        aws.lambda_.EventSourceMapping(
            f"{consumer}-consumer",
            event_source_arn=queue.arn,
            function_name=function_name,
            batch_size=cfg.batch_size,
            maximum_batching_window_in_seconds=cfg.batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=cfg.max_concurrency),
            enabled=True,
            opts=ctx.opts(self, depends_on=[function, *role.grants]),
        )
        self.functions[consumer] = function
        self.function_names[consumer] = function_name
        self._watch_function(consumer, function_name)

    def _watch_function(self, consumer: str, function_name: str) -> None:
        dims = {"FunctionName": function_name}
        self.alarms += [
            AlarmSpec(
                name=f"{consumer}-consumer-errors",
                description=(
                    f"{function_name} invocations failed (timeouts, crashes, init errors). Failed records are "
                    "reported per item and are not counted here: watch the DLQ alarm for those."
                ),
                namespace="AWS/Lambda",
                metric="Errors",
                dimensions=dims,
                threshold=0,
                statistic="Sum",
                evaluation_periods=3,
            ),
            AlarmSpec(
                name=f"{consumer}-consumer-throttles",
                description=f"{function_name} was throttled: the account's concurrency is exhausted by other functions.",
                namespace="AWS/Lambda",
                metric="Throttles",
                dimensions=dims,
                threshold=0,
                statistic="Sum",
                evaluation_periods=3,
            ),
        ]
        self.widgets.append(
            metric_widget(
                f"Consumer {consumer} (Lambda)",
                self._ctx.region,
                [
                    ["AWS/Lambda", "Invocations", "FunctionName", function_name],
                    ["AWS/Lambda", "Errors", "FunctionName", function_name],
                    ["AWS/Lambda", "Throttles", "FunctionName", function_name],
                    ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", function_name, {"stat": "Maximum"}],
                    ["AWS/Lambda", "Duration", "FunctionName", function_name, {"yAxis": "right", "stat": "p95"}],
                ],
                stat="Sum",
            )
        )

    # -- ECS Fargate Spot --------------------------------------------------------------------------

    def _ecs_cluster(self) -> aws.ecs.Cluster:
        if self._cluster is None:
            ctx = self._ctx
            self._cluster = aws.ecs.Cluster(
                "consumers",
                name=self._cluster_name,
                settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
                opts=ctx.opts(self),
            )
            aws.ecs.ClusterCapacityProviders(
                "consumers",
                cluster_name=self._cluster.name,
                capacity_providers=["FARGATE_SPOT", "FARGATE"],
                default_capacity_provider_strategies=[
                    aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                        capacity_provider="FARGATE_SPOT", weight=1
                    )
                ],
                opts=ctx.opts(self),
            )
        return self._cluster

    def _egress_only_group(self) -> aws.ec2.SecurityGroup:
        """For pollers that need no database: HTTPS to the endpoints and S3, nothing inbound."""
        if self._egress_sg is None:
            ctx, net = self._ctx, self._args.network
            self._egress_sg = aws.ec2.SecurityGroup(
                "consumer-egress",
                name=ctx.name("consumer-egress", kind="security-group"),
                description="Fan-out pollers without database access: HTTPS out to AWS endpoints only",
                vpc_id=net.vpc_id,
                opts=ctx.opts(self),
            )
            aws.vpc.SecurityGroupEgressRule(
                "consumer-egress-endpoints",
                security_group_id=self._egress_sg.id,
                referenced_security_group_id=net.endpoint_security_group_id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                opts=ctx.opts(self),
            )
            aws.vpc.SecurityGroupEgressRule(
                "consumer-egress-s3",
                security_group_id=self._egress_sg.id,
                prefix_list_id=net.s3_prefix_list_id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                opts=ctx.opts(self),
            )
        return self._egress_sg

    def _ecs(self, consumer: str, queue: QueueRef) -> None:
        """A Fargate Spot service running `python -m worker consume <consumer>` against its queue."""
        poller = self._ctx.name(f"{consumer}-poller", kind="ecs")
        log_group = aws.cloudwatch.LogGroup(
            f"{consumer}-poller",
            name=naming.fit("log-group", f"/ecs/{poller}"),
            retention_in_days=self._args.settings.log_retention_days,
            opts=self._ctx.opts(self),
        )
        task_role = self._role(consumer, "ecs-tasks.amazonaws.com", log_group, in_vpc=False)
        task = self._task_definition(
            consumer,
            poller,
            task_role.role,
            self._execution_role(consumer),
            self._container_definitions(consumer, queue, log_group),
        )
        self.services[consumer] = self._service(consumer, poller, task, task_role)
        self._watch_service(consumer, poller)

    def _execution_role(self, consumer: str) -> aws.iam.Role:
        """The role ECS itself uses for the task: pull the image, write the awslogs stream."""
        name = f"{consumer}-poller-execution"
        # AWS-managed: pull from ECR and write the awslogs stream; the task's own permissions are task_role's.
        return role_with_policy(
            name,
            self._ctx,
            self,
            role_name=self._ctx.name(name, kind="iam-role"),
            service="ecs-tasks.amazonaws.com",
            managed_policies={name: "service-role/AmazonECSTaskExecutionRolePolicy"},
        ).role

    def _container_definitions(
        self, consumer: str, queue: QueueRef, log_group: aws.cloudwatch.LogGroup
    ) -> pulumi.Output[str]:
        """The task's one container, as the JSON document ECS takes, once the log group and environment resolve."""
        ctx = self._ctx
        env = {**self._environment(consumer), "ORDERS_CONSUMER_QUEUE_URL": queue.url, "AWS_REGION": ctx.region}
        return pulumi.Output.all(log_group.name, *(pulumi.Output.from_input(v) for v in env.values())).apply(
            lambda v: json.dumps(
                [
                    poller_container(
                        consumer,
                        image=self._args.settings.image,
                        environment=dict(zip(env.keys(), v[1:], strict=True)),
                        log_group=v[0],
                        region=ctx.region,
                    )
                ]
            )
        )

    def _task_definition(
        self,
        consumer: str,
        poller: str,
        task_role: aws.iam.Role,
        execution_role: aws.iam.Role,
        containers: pulumi.Output[str],
    ) -> aws.ecs.TaskDefinition:
        cfg = self._args.settings
        return aws.ecs.TaskDefinition(
            f"{consumer}-poller",
            family=poller,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cfg.ecs_cpu),
            memory=str(cfg.ecs_memory_mb),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=containers,
            opts=self._ctx.opts(self),
        )

    def _service(
        self, consumer: str, poller: str, task: aws.ecs.TaskDefinition, task_role: RoleWithPolicy
    ) -> aws.ecs.Service:
        """On FARGATE_SPOT in the private subnets; a consumer of a database in the VPC gets the database's client
        group, any other egress only."""
        args = self._args
        in_vpc = topology.fanout_consumer(consumer).needs_vpc
        group = args.databases.client_security_group_id if in_vpc else self._egress_only_group().id
        return aws.ecs.Service(
            f"{consumer}-poller",
            name=poller,
            cluster=self._ecs_cluster().arn,
            task_definition=task.arn,
            desired_count=args.settings.ecs_desired_count,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=1)
            ],
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.network.private_subnet_ids, security_groups=[group], assign_public_ip=False
            ),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            propagate_tags="SERVICE",
            opts=self._ctx.opts(self, depends_on=task_role.grants),
        )

    def _watch_service(self, consumer: str, poller: str) -> None:
        self.widgets.append(
            metric_widget(
                f"Consumer {consumer} (ECS Fargate Spot)",
                self._ctx.region,
                [
                    ["AWS/ECS", metric, "ClusterName", self._cluster_name, "ServiceName", poller]
                    for metric in ("CPUUtilization", "MemoryUtilization")
                ],
                stat="Average",
            )
        )
