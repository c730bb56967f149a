"""The consumers' databases: RDS PostgreSQL (shipments, inventory) and Redshift Serverless (sales facts).

RDS sits in the private subnets, encrypted, never public, with its master password created and
rotated by AWS in Secrets Manager (`manage_master_user_password`): no password ever passes through
the program or its state. Its security group admits PostgreSQL only from the consumers' security
group, which this component also creates so the consumers can attach it (and nothing else gets it).

The warehouse is a Redshift Serverless namespace (always encrypted) and a workgroup in the private
subnets, not publicly accessible. The analytics consumer reaches it through the Redshift Data API
(IAM-authenticated HTTPS), so its security group admits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.config import DatabaseConfig
from components.monitoring import AlarmSpec, MetricWidget, metric_widget
from components.network import HTTPS, NetworkRefs

POSTGRES_PORT = 5432
SHIPPING_DB_NAME = "orders"
"""The database the shipping consumer migrates and writes (ORDERS_DB_NAME)."""
SHIPPING_DB_ADMIN = "orders_admin"
RDS_LOG_EXPORTS = ("postgresql", "upgrade")
"""What RDS for PostgreSQL can export to CloudWatch Logs (iam-db-auth-error only with IAM auth, which is off)."""
WAREHOUSE_DB_NAME = "sales"
"""The warehouse database (ORDERS_WAREHOUSE_DATABASE)."""


@dataclass(frozen=True, kw_only=True)
class DatabasesArgs:
    ctx: AwsContext
    network: NetworkRefs
    settings: DatabaseConfig
    log_retention_days: int = 30
    slow_statement_ms: int = 500


@dataclass(frozen=True, kw_only=True)
class DatabaseRefs:
    """What the consumers need from the databases: where they are and how to get in."""

    client_security_group_id: pulumi.Input[str]
    db_address: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_secret_arn: pulumi.Input[str]
    workgroup_name: str
    workgroup_arn: pulumi.Input[str]


class ConsumerDatabases(pulumi.ComponentResource):
    client_security_group_id: pulumi.Output[str]
    """Attach to whatever must reach the shipping database (the shipping consumer); the only way in."""
    db_address: pulumi.Output[str]
    db_port: pulumi.Output[int]
    db_secret_arn: pulumi.Output[str]
    db_identifier: str
    workgroup_name: str
    workgroup_arn: pulumi.Output[str]
    namespace_name: str
    refs: DatabaseRefs
    alarms: list[AlarmSpec]
    widgets: list[MetricWidget]

    def __init__(self, name: str, args: DatabasesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:data:ConsumerDatabases", name, None, opts)
        ctx = args.ctx
        client_sg, db_sg = self._security_groups(args)
        self._shipping_db(args, db_sg)
        self._warehouse(args)
        self.client_security_group_id = client_sg.id
        self.refs = DatabaseRefs(
            client_security_group_id=self.client_security_group_id,
            db_address=self.db_address,
            db_port=self.db_port,
            db_secret_arn=self.db_secret_arn,
            workgroup_name=self.workgroup_name,
            workgroup_arn=self.workgroup_arn,
        )
        self.alarms = database_alarms(self.db_identifier, args.settings)
        self.widgets = [
            metric_widget(
                "Shipping database",
                ctx.region,
                [
                    ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", self.db_identifier],
                    ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", self.db_identifier, {"yAxis": "right"}],
                ],
            )
        ]
        self.register_outputs(
            {
                "dbAddress": self.db_address,
                "dbSecretArn": self.db_secret_arn,
                "workgroupName": self.workgroup_name,
                "clientSecurityGroupId": self.client_security_group_id,
            }
        )

    def _security_groups(self, args: DatabasesArgs) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """The consumers' client group and the database's group: 5432 between them, HTTPS to the endpoints."""
        ctx, net = args.ctx, args.network
        client_sg = aws.ec2.SecurityGroup(
            "consumer-db-client",
            name=ctx.name("consumer-db-client", kind="security-group"),
            description="Consumers that may reach the shipping database; admits nothing inbound",
            vpc_id=net.vpc_id,
            opts=ctx.opts(self),
        )
        db_sg = self._database_group(args, client_sg)
        self._client_egress(args, client_sg, db_sg)
        return client_sg, db_sg

    def _database_group(self, args: DatabasesArgs, client_sg: aws.ec2.SecurityGroup) -> aws.ec2.SecurityGroup:
        """The database's group: PostgreSQL in from the client group, nothing else."""
        ctx = args.ctx
        db_sg = aws.ec2.SecurityGroup(
            "shipping-db",
            name=ctx.name("shipping-db", kind="security-group"),
            description="Shipping PostgreSQL: port 5432 from the consumer security group only",
            vpc_id=args.network.vpc_id,
            opts=ctx.opts(self),
        )
        aws.vpc.SecurityGroupIngressRule(
            "shipping-db-from-consumers",
            security_group_id=db_sg.id,
            referenced_security_group_id=client_sg.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            description="PostgreSQL from the shipping consumer",
            opts=ctx.opts(self),
        )
        return db_sg

    def _client_egress(
        self, args: DatabasesArgs, client_sg: aws.ec2.SecurityGroup, db_sg: aws.ec2.SecurityGroup
    ) -> None:
        """The client group's egress: the database, HTTPS to the VPC's interface endpoints, S3 via its gateway.

        The endpoints' own group already admits HTTPS from the whole VPC range (components/network.py).
        """
        net = args.network
        rules: list[tuple[str, pulumi.Input[str] | None, pulumi.Input[str] | None, int, str]] = [
            ("consumers-to-shipping-db", db_sg.id, None, POSTGRES_PORT, "PostgreSQL to the shipping database"),
            (
                "consumers-to-endpoints",
                net.endpoint_security_group_id,
                None,
                HTTPS,
                "HTTPS to the VPC interface endpoints (Secrets Manager, SQS, logs...)",
            ),
            (
                "consumers-to-s3",
                None,
                net.s3_prefix_list_id,
                HTTPS,
                "HTTPS to S3 through the gateway endpoint (invoices)",
            ),
        ]
        for rule_name, group, prefix_list, port, description in rules:
            aws.vpc.SecurityGroupEgressRule(
                rule_name,
                security_group_id=client_sg.id,
                referenced_security_group_id=group,
                prefix_list_id=prefix_list,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=description,
                opts=args.ctx.opts(self),
            )

    def _shipping_db(self, args: DatabasesArgs, db_sg: aws.ec2.SecurityGroup) -> None:
        """RDS PostgreSQL in the private subnets; AWS creates and rotates the master password."""
        ctx, cfg = args.ctx, args.settings
        subnets = self._subnet_group(args)
        self.db_identifier = ctx.name("shipping", kind="rds")
        log_groups, parameters = self._logging(args)
        db = aws.rds.Instance(
            "shipping-db",
            identifier=self.db_identifier,
            engine="postgres",
            engine_version=cfg.engine_version,
            instance_class=cfg.instance_class,
            allocated_storage=cfg.allocated_storage_gb,
            max_allocated_storage=cfg.allocated_storage_gb * 4,
            storage_type="gp3",
            storage_encrypted=True,
            multi_az=cfg.multi_az,
            publicly_accessible=False,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[db_sg.id],
            db_name=SHIPPING_DB_NAME,
            username=SHIPPING_DB_ADMIN,
            manage_master_user_password=True,
            backup_retention_period=cfg.backup_retention_days,
            copy_tags_to_snapshot=True,
            # Protected (orders:dbDeletionProtection): RDS refuses deletion, a deliberate delete leaves a final
            # snapshot and the automated backups, and Pulumi refuses to delete or replace the instance.
            # Unprotected (dev): nothing blocks `pulumi destroy` and nothing is left behind.
            deletion_protection=cfg.deletion_protection,
            skip_final_snapshot=not cfg.deletion_protection,
            final_snapshot_identifier=ctx.name("shipping-final", kind="rds-snapshot")
            if cfg.deletion_protection
            else None,
            delete_automated_backups=not cfg.deletion_protection,
            performance_insights_enabled=True,
            auto_minor_version_upgrade=True,
            parameter_group_name=parameters.name,
            enabled_cloudwatch_logs_exports=list(RDS_LOG_EXPORTS),
            # PostgreSQL 15+ on RDS defaults rds.force_ssl=1: the consumer connects with sslmode=require.
            # The log groups exist first, so RDS does not create them itself without retention.
            opts=ctx.opts(self, depends_on=log_groups, protect=cfg.deletion_protection),
        )
        self.db_address = db.address
        self.db_port = db.port
        self.db_secret_arn = db.master_user_secrets.apply(lambda secrets: secrets[0]["secret_arn"] if secrets else "")

    def _subnet_group(self, args: DatabasesArgs) -> aws.rds.SubnetGroup:
        ctx = args.ctx
        return aws.rds.SubnetGroup(
            "shipping-db",
            name=ctx.name("shipping-db", kind="rds-subnet-group"),
            description="Private subnets of the shipping database",
            subnet_ids=args.network.private_subnet_ids,
            opts=ctx.opts(self),
        )

    def _logging(self, args: DatabasesArgs) -> tuple[list[aws.cloudwatch.LogGroup], aws.rds.ParameterGroup]:
        """The exported log groups (owned by the stack, retention-bounded) and the logging parameters.

        `log_connections` logs every connection attempt and its authentication; a failed login is a
        FATAL ("password authentication failed for user ...") that PostgreSQL 16 logs at the default
        `log_min_messages` (WARNING) anyway. `log_min_duration_statement` logs slow statements with
        their duration (bind values included: keep the threshold high enough that order data stays rare).
        """
        ctx, cfg = args.ctx, args.settings
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"shipping-db-{kind}",
                name=f"/aws/rds/instance/{self.db_identifier}/{kind}",
                retention_in_days=args.log_retention_days,
                opts=ctx.opts(self),
            )
            for kind in RDS_LOG_EXPORTS
        ]
        parameters = aws.rds.ParameterGroup(
            "shipping-db",
            name=ctx.name("shipping-db", kind="rds-parameter-group"),
            family=parameter_group_family(cfg.engine_version),
            description="Shipping PostgreSQL: log connections, disconnections and slow statements",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=key, value=value, apply_method="immediate")
                for key, value in logging_parameters(args.slow_statement_ms).items()
            ],
            opts=ctx.opts(self),
        )
        return log_groups, parameters

    def _warehouse(self, args: DatabasesArgs) -> None:
        """Redshift Serverless namespace and workgroup in the private subnets; reached through the Data API."""
        ctx, net = args.ctx, args.network
        self.namespace_name = ctx.name("sales", kind="redshift-serverless")
        namespace = aws.redshiftserverless.Namespace(
            "sales",
            namespace_name=self.namespace_name,
            db_name=WAREHOUSE_DB_NAME,
            manage_admin_password=True,
            log_exports=["userlog", "connectionlog", "useractivitylog"],
            # The provider has no final-snapshot input for a namespace (pulumi-aws 7.x): Pulumi's `protect` is
            # the only guard against `pulumi destroy` or a replacement deleting the warehouse's data.
            opts=ctx.opts(self, protect=args.settings.deletion_protection),
        )
        warehouse_sg = aws.ec2.SecurityGroup(
            "sales-warehouse",
            name=ctx.name("sales-warehouse", kind="security-group"),
            description="Redshift Serverless workgroup: nothing inbound (consumers use the Data API)",
            vpc_id=net.vpc_id,
            opts=ctx.opts(self),
        )
        self.workgroup_name = ctx.name("sales", kind="redshift-serverless")
        workgroup = aws.redshiftserverless.Workgroup(
            "sales",
            workgroup_name=self.workgroup_name,
            namespace_name=namespace.namespace_name,
            base_capacity=args.settings.warehouse_base_capacity,
            publicly_accessible=False,
            enhanced_vpc_routing=True,
            subnet_ids=net.private_subnet_ids,
            security_group_ids=[warehouse_sg.id],
            opts=ctx.opts(self),
        )
        self.workgroup_arn = workgroup.arn


def parameter_group_family(engine_version: str) -> str:
    """`16` or `16.4` -> `postgres16` (PostgreSQL 10+ families are named after the major version)."""
    major = engine_version.split(".", 1)[0]
    if not major.isdigit() or int(major) < 10:
        raise ValueError(f"orders:dbEngineVersion = {engine_version!r}: expected a PostgreSQL major version >= 10")
    return f"postgres{major}"


def logging_parameters(slow_statement_ms: int) -> dict[str, str]:
    return {
        "log_connections": "1",
        "log_disconnections": "1",
        "log_min_duration_statement": str(slow_statement_ms),
    }


def database_alarms(db_identifier: str, cfg: DatabaseConfig) -> list[AlarmSpec]:
    dims = {"DBInstanceIdentifier": db_identifier}
    return [
        AlarmSpec(
            name="shipping-db-cpu",
            description=f"Shipping database CPU above {cfg.cpu_alarm_percent}% for 5 minutes: consumers will slow down.",
            namespace="AWS/RDS",
            metric="CPUUtilization",
            dimensions=dims,
            threshold=cfg.cpu_alarm_percent,
            statistic="Average",
            evaluation_periods=5,
        ),
        AlarmSpec(
            name="shipping-db-connections",
            description=(
                f"More than {cfg.connections_alarm} connections to the shipping database: lower the consumers' "
                "maximum concurrency or add RDS Proxy."
            ),
            namespace="AWS/RDS",
            metric="DatabaseConnections",
            dimensions=dims,
            threshold=cfg.connections_alarm,
            evaluation_periods=3,
        ),
    ]
