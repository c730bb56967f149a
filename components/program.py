"""The order pipeline's stack, as a function: `build(config)` creates every tier and returns the stack outputs.

`__main__.py` loads the config from the stack and exports what this returns; tests call `build` under
Pulumi's mock runtime (`offline/graph.py`). Tiers are wired through plain inputs (names, ARNs, ids);
each declares its alarms and dashboard widgets, and `Monitoring` is built last from all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.config import FrontDoorConfig, SecurityConfig, StackConfig
from components.consumers import ConsumersArgs, FanoutConsumers
from components.databases import ConsumerDatabases, DatabasesArgs
from components.error_page import RESOURCE_NAME as ERROR_PAGE
from components.error_page import ErrorPage, ErrorPageArgs
from components.failover_dns import FailoverDns, FailoverDnsArgs, hosted_zone_id
from components.fanout import FanoutArgs, OrderEventsFanout
from components.game_day import GameDay, GameDayArgs
from components.health_alarm import UsEast1Alarms, UsEast1AlarmsArgs, health_check_alarm, metrics_context
from components.intake_api import IntakeApi, IntakeApiArgs
from components.intake_waf import IntakeWaf, IntakeWafArgs
from components.messaging_key import MessagingKey, MessagingKeyArgs
from components.monitoring import AlarmSpec, MetricWidget, Monitoring, MonitoringArgs, Watched
from components.network import Network, NetworkArgs
from components.operator_role import DlqOperator, DlqOperatorArgs
from components.order_table import OrderTable, OrderTableArgs
from components.queue import QueueArgs, QueueWithDlq, dlq_alarm_name
from components.worker_fleet import WorkerFleet, WorkerFleetArgs
from worker import topology

Outputs = dict[str, Any]


@dataclass(frozen=True)
class Messaging:
    key: MessagingKey
    order_queue: QueueWithDlq
    table: OrderTable
    fanout: OrderEventsFanout


def messaging(config: StackConfig, ctx: AwsContext) -> Messaging:
    """The KMS key, the FIFO order queue, the order table and the invoices -> SNS -> SQS fan-out."""
    settings, alarms = config.messaging, config.monitoring
    retention = settings.message_retention_days * 24 * 3600
    key = MessagingKey("messaging", MessagingKeyArgs(ctx=ctx))
    order_queue = QueueWithDlq(
        topology.ORDER_QUEUE,
        QueueArgs(
            ctx=ctx,
            fifo=True,
            visibility_timeout_seconds=settings.order_queue_visibility_seconds,
            retention_seconds=retention,
            content_based_deduplication=settings.content_based_deduplication,
            high_throughput=settings.fifo_high_throughput,
            alarm_age_seconds=alarms.queue_age_seconds,
            alarm_depth=alarms.queue_depth,
        ),
    )
    table = OrderTable("order-store", OrderTableArgs(ctx=ctx, deletion_protection=settings.table_deletion_protection))
    fanout = OrderEventsFanout(
        "order-events",
        FanoutArgs(
            ctx=ctx,
            visibility_timeout_seconds=settings.fanout_queue_visibility_seconds,
            retention_seconds=retention,
            kms_key_arn=key.arn,
            queue_names=settings.fanout_queues,
            # The invoices are order records like the table's items: protected with it.
            force_destroy_bucket=not settings.table_deletion_protection,
            protect_bucket=settings.table_deletion_protection,
            alarm_age_seconds=alarms.queue_age_seconds,
            alarm_depth=alarms.queue_depth,
        ),
    )
    return Messaging(key=key, order_queue=order_queue, table=table, fanout=fanout)


@dataclass(frozen=True)
class FrontDoor:
    """The front door as a watched tier: the intake API's alarms and widgets, plus the health-check alarm
    when its metric is in the primary region (us-east-1), so that `Monitoring` creates it with the others."""

    intake: IntakeApi
    alarms: Sequence[AlarmSpec]
    widgets: Sequence[MetricWidget]


def front_door(
    config: StackConfig, primary: AwsContext, failover: AwsContext, order_queue: QueueWithDlq
) -> tuple[FrontDoor, Outputs]:
    """The intake API; with a domain, its certificate, the error page, the Route 53 failover records and
    the alarm on the health check (`components/health_alarm.py`: in us-east-1, where Route 53 reports)."""
    settings = config.front_door
    zone_id = hosted_zone_id(settings, primary) if settings.has_domain else None
    intake = _intake_api(config, primary, order_queue, zone_id)
    _warn_if_unauthenticated(config.security)
    _intake_waf(config, primary, intake)
    outputs = _intake_outputs(config.security, intake)
    if zone_id is None or intake.domain is None:
        pulumi.log.info(
            "orders:domainName is not set: the intake API is reachable on its invoke URL only (stack output "
            "intakeOrdersUrl); the custom domain, certificate, health check, failover records and error page are skipped."
        )
        return FrontDoor(intake, intake.alarms, intake.widgets), outputs
    alarms, domain_outputs = _failover(config, primary, failover, intake, intake.domain, zone_id)
    return FrontDoor(intake, alarms, intake.widgets), outputs | domain_outputs


def _intake_api(
    config: StackConfig, primary: AwsContext, order_queue: QueueWithDlq, zone_id: pulumi.Output[str] | None
) -> IntakeApi:
    """POST /orders straight into the FIFO order queue (no compute in the request path), with the
    authentication the config chooses; its custom domain when the stack has a hosted zone."""
    security = config.security
    return IntakeApi(
        "intake",
        IntakeApiArgs(
            ctx=primary,
            queue_name=order_queue.queue_name,
            queue_arn=order_queue.arn,
            settings=config.front_door,
            hosted_zone_id=zone_id,
            auth=security.intake_auth,
            client_role_arns=security.intake_client_role_arns,
            api_key_clients=security.intake_api_key_clients,
            api_key_daily_quota=security.intake_api_key_daily_quota,
        ),
    )


def _warn_if_unauthenticated(security: SecurityConfig) -> None:
    """An open POST /orders is allowed (a demo stack) but must never go unnoticed in a preview."""
    if security.intake_auth == "none":
        pulumi.log.warn(
            "orders:intakeAuth is none: anyone who knows the URL can POST /orders (the RestApi is tagged "
            "orders:intakeAuth=none and the policy pack reports it)."
        )


def _intake_waf(config: StackConfig, primary: AwsContext, intake: IntakeApi) -> None:
    """The web ACL on the intake stage, or a warning that the stage has none (orders:waf false)."""
    security = config.security
    if not security.waf_enabled:
        pulumi.log.warn(
            "orders:waf is false: the intake stage has no web ACL (no per-IP rate limit, no managed rules)."
        )
        return
    IntakeWaf(
        "intake-waf",
        IntakeWafArgs(
            ctx=primary,
            stage_arn=intake.stage_arn,
            rate_limit=security.waf_rate_limit,
            log_retention_days=config.front_door.access_log_retention_days,
        ),
    )


def _intake_outputs(security: SecurityConfig, intake: IntakeApi) -> Outputs:
    """What a client needs to call the API on its invoke URL (the API key ids only when there are keys)."""
    return {
        "intakeAuth": security.intake_auth,
        **({"intakeApiKeyIds": intake.api_key_ids} if intake.api_key_ids else {}),
        "intakeInvokeUrl": intake.invoke_url,
        "intakeOrdersUrl": intake.invoke_url.apply(lambda url: f"{url}/orders"),
    }


def _failover(
    config: StackConfig,
    primary: AwsContext,
    failover: AwsContext,
    intake: IntakeApi,
    domain: aws.apigateway.DomainName,
    zone_id: pulumi.Output[str],
) -> tuple[list[AlarmSpec], Outputs]:
    """The error page in the failover region, the failover records that switch to it when the health
    check fails, and the alarm on that check; returns the front door's alarms and the domain's outputs."""
    settings = config.front_door
    error_page = ErrorPage(ERROR_PAGE, ErrorPageArgs(ctx=failover, bucket_name=settings.domain_name))
    dns = _failover_dns(settings, primary, intake, domain, zone_id, error_page)
    alarms = _front_door_alarms(config, primary, failover, intake, dns)
    outputs: Outputs = {
        "intakeUrl": f"https://{settings.domain_name}/orders",
        "errorPageBucket": error_page.bucket_name,
        "errorPageWebsiteEndpoint": error_page.website_endpoint,
        "healthCheckId": dns.health_check.id,
    }
    return alarms, outputs


def _failover_dns(
    settings: FrontDoorConfig,
    primary: AwsContext,
    intake: IntakeApi,
    domain: aws.apigateway.DomainName,
    zone_id: pulumi.Output[str],
    error_page: ErrorPage,
) -> FailoverDns:
    """The domain's primary record (the API, health-checked on /health) and its secondary (the error page)."""
    return FailoverDns(
        "failover-dns",
        FailoverDnsArgs(
            ctx=primary,
            record_name=settings.domain_name,
            zone_id=zone_id,
            primary_alias_name=domain.regional_domain_name,
            primary_alias_zone_id=domain.regional_zone_id,
            health_fqdn=intake.health_fqdn,
            health_path=intake.health_path,
            secondary_alias_name=error_page.website_domain,
            secondary_alias_zone_id=error_page.hosted_zone_id,
            health_check_interval_seconds=settings.health_check_interval_seconds,
            health_check_failure_threshold=settings.health_check_failure_threshold,
        ),
    )


def _front_door_alarms(
    config: StackConfig, primary: AwsContext, failover: AwsContext, intake: IntakeApi, dns: FailoverDns
) -> list[AlarmSpec]:
    """The intake API's alarms, plus the health-check alarm when the primary region is us-east-1 (where
    Route 53 publishes the metric); elsewhere that alarm gets its own twin topic in us-east-1."""
    settings = config.front_door
    health_alarm = health_check_alarm(
        dns.health_check.id,
        settings.domain_name,
        settings.health_check_interval_seconds,
        settings.health_check_failure_threshold,
    )
    alarms: list[AlarmSpec] = [*intake.alarms]
    metrics = metrics_context(config.project, config.stack, primary, failover)
    if metrics is primary:
        alarms.append(health_alarm)
    else:
        UsEast1Alarms(
            "health-alarms",
            UsEast1AlarmsArgs(ctx=metrics, alarm_email=config.monitoring.alarm_email, alarms=[health_alarm]),
        )
    return alarms


@dataclass(frozen=True)
class Compute:
    """The VPC and what runs in it: the FIFO worker fleet, the consumers' databases and the consumers."""

    network: Network
    fleet: WorkerFleet
    databases: ConsumerDatabases
    consumers: FanoutConsumers


def build(config: StackConfig) -> Outputs:
    """Create the whole stack; returns the stack outputs by name (`__main__.py` exports them)."""
    primary = AwsContext.create(config.project, config.stack, "primary", config.primary_region)
    failover = AwsContext.create(config.project, config.stack, "failover", config.failover_region)
    msg = messaging(config, primary)
    compute = _compute(config, primary, msg)
    intake, front_door_outputs = front_door(config, primary, failover, msg.order_queue)
    queue, fanout, table = msg.order_queue, msg.fanout, msg.table
    tiers: list[Watched] = [queue, fanout, table, compute.fleet, compute.databases, compute.consumers, intake]
    monitoring = _monitoring(config, primary, msg.key, tiers)
    operator = _dlq_operator(primary, msg)
    return {
        **_game_day(config, primary, compute.fleet, monitoring),
        **_compute_outputs(compute),
        **front_door_outputs,
        "primaryRegion": config.primary_region,
        "failoverRegion": config.failover_region,
        **_messaging_outputs(msg),
        "alarmTopicArn": monitoring.alarm_topic_arn,
        "dlqOperatorRoleArn": operator.role_arn,
        "dashboardName": monitoring.dashboard_name,
        "vpcId": compute.network.vpc_id,
        "privateSubnetIds": compute.network.private_subnet_ids,
    }


def _compute(config: StackConfig, primary: AwsContext, msg: Messaging) -> Compute:
    """The network first, then the tiers placed in its private subnets, each given the queues, table
    and bucket it reads or writes."""
    net = config.network
    network = Network(
        "network",
        NetworkArgs(
            ctx=primary,
            vpc_cidr=net.vpc_cidr,
            az_count=net.az_count,
            enable_nat=net.enable_nat,
            flow_log_retention_days=config.security.flow_log_retention_days,
        ),
    )
    fleet = _worker_fleet(config, primary, network, msg)
    databases, consumers = _fanout_consumers(config, primary, network, msg.fanout)
    return Compute(network=network, fleet=fleet, databases=databases, consumers=consumers)


def _worker_fleet(config: StackConfig, primary: AwsContext, network: Network, msg: Messaging) -> WorkerFleet:
    """The Spot fleet that drains the FIFO order queue into the order table and writes the invoices."""
    queue, table, fanout = msg.order_queue, msg.table, msg.fanout
    return WorkerFleet(
        "workers",
        WorkerFleetArgs(
            ctx=primary,
            network=network.refs,
            queue_name=queue.queue_name,
            queue_arn=queue.arn,
            table_name=table.table_name,
            table_arn=table.table_arn,
            invoices_bucket_name=fanout.bucket_name,
            invoices_bucket_arn=fanout.bucket_arn,
            invoice_prefix=topology.INVOICE_PREFIX,
            settings=config.fleet,
        ),
    )


def _dlq_operator(primary: AwsContext, msg: Messaging) -> DlqOperator:
    """The role on-call assumes to triage the order DLQ (docs/operations.md)."""
    queue = msg.order_queue
    return DlqOperator(
        "dlq-operator",
        DlqOperatorArgs(
            ctx=primary,
            queue_arn=queue.arn,
            dlq_arn=queue.dlq_arn,
            table_arn=msg.table.table_arn,
            invoices_bucket_arn=msg.fanout.bucket_arn,
            invoice_prefix=topology.INVOICE_PREFIX,
        ),
    )


def _fanout_consumers(
    config: StackConfig, primary: AwsContext, network: Network, fanout: OrderEventsFanout
) -> tuple[ConsumerDatabases, FanoutConsumers]:
    """The fan-out consumers and their databases (RDS PostgreSQL for shipping, Redshift Serverless for
    analytics): the databases first, since the consumers are given their addresses and secrets."""
    databases = ConsumerDatabases(
        "consumer-databases",
        DatabasesArgs(
            ctx=primary,
            network=network.refs,
            settings=config.databases,
            log_retention_days=config.security.db_log_retention_days,
            slow_statement_ms=config.security.db_slow_statement_ms,
        ),
    )
    consumers = FanoutConsumers(
        "consumers",
        ConsumersArgs(
            ctx=primary,
            network=network.refs,
            databases=databases.refs,
            queues=fanout.queue_refs,
            invoices_bucket_arn=fanout.bucket_arn,
            settings=config.consumers,
        ),
    )
    return databases, consumers


def _monitoring(config: StackConfig, primary: AwsContext, key: MessagingKey, tiers: Sequence[Watched]) -> Monitoring:
    """Built last: every alarm and dashboard widget the tiers declared, on the key-encrypted alarm topic."""
    return Monitoring(
        "monitoring",
        MonitoringArgs(
            ctx=primary,
            kms_key_arn=key.arn,
            alarm_email=config.monitoring.alarm_email,
            alarms=[alarm for tier in tiers for alarm in tier.alarms],
            widgets=[widget for tier in tiers for widget in tier.widgets],
        ),
    )


def _game_day(config: StackConfig, primary: AwsContext, fleet: WorkerFleet, monitoring: Monitoring) -> Outputs:
    """With orders:spotGameDay, the FIS experiment that interrupts part of the fleet, stopped by the
    order DLQ's alarm; returns its template id as a stack output (nothing without the game day)."""
    if not config.fleet.spot_game_day:
        return {}
    drill = GameDay(
        "spot-game-day",
        GameDayArgs(
            ctx=primary,
            asg_name=fleet.asg_name,
            stop_alarm_arn=monitoring.alarms[dlq_alarm_name(topology.ORDER_QUEUE)].arn,
            percent=config.fleet.spot_game_day_percent,
        ),
    )
    return {"gameDayTemplateId": drill.template_id}


def _compute_outputs(compute: Compute) -> Outputs:
    """Where the fleet's artifact lives and how to reach the consumers and their databases."""
    fleet, databases = compute.fleet, compute.databases
    return {
        "workerAsgName": fleet.asg_name,
        "workerArtifact": pulumi.Output.concat("s3://", fleet.artifact_bucket_name, "/", fleet.artifact_key),
        "shippingDbAddress": databases.db_address,
        "shippingDbSecretArn": databases.db_secret_arn,
        "warehouseWorkgroup": databases.workgroup_name,
        "consumerFunctions": compute.consumers.function_names,
    }


def _messaging_outputs(msg: Messaging) -> Outputs:
    """The queues, table, bucket and topic by name, URL and ARN, for the producer, the benchmarks and the simulation."""
    queue, fanout = msg.order_queue, msg.fanout
    return {
        "orderQueueUrl": queue.url,
        "orderQueueArn": queue.arn,
        "orderDlqUrl": queue.dlq_url,
        "orderTableName": msg.table.table_name,
        "invoicesBucketName": fanout.bucket_name,
        "invoicePrefix": topology.INVOICE_PREFIX,
        "orderEventsTopicArn": fanout.topic_arn,
        "fanoutQueueUrls": {name: q.url for name, q in fanout.queues.items()},
        "fanoutQueueArns": {name: q.arn for name, q in fanout.queues.items()},
        "fanoutDlqUrls": {name: q.dlq_url for name, q in fanout.queues.items()},
    }
