"""The order pipeline's Pulumi program: read the stack config, build each tier, export what users need."""

import pulumi

from components.aws_context import AwsContext
from components.config import StackConfig
from components.consumers import ConsumersArgs, FanoutConsumers
from components.databases import ConsumerDatabases, DatabasesArgs
from components.error_page import ErrorPage, ErrorPageArgs
from components.failover_dns import FailoverDns, FailoverDnsArgs, hosted_zone_id
from components.fanout import FanoutArgs, OrderEventsFanout
from components.intake_api import IntakeApi, IntakeApiArgs
from components.messaging_key import MessagingKey
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.order_store import OrderStore
from components.queue import QueueArgs, QueueWithDlq
from components.worker_fleet import WorkerFleet, WorkerFleetArgs
from worker import topology

config = StackConfig.load()
primary = AwsContext.create(config.project, config.stack, "primary", config.primary_region)
failover = AwsContext.create(config.project, config.stack, "failover", config.failover_region)
messaging = config.messaging
retention = messaging.message_retention_days * 24 * 3600

key = MessagingKey("messaging", primary)
order_queue = QueueWithDlq(
    QueueArgs(
        name=topology.ORDER_QUEUE,
        fifo=True,
        visibility_timeout_seconds=messaging.order_queue_visibility_seconds,
        retention_seconds=retention,
        content_based_deduplication=messaging.content_based_deduplication,
        high_throughput=messaging.fifo_high_throughput,
    ),
    primary,
)
store = OrderStore("order-store", primary, deletion_protection=messaging.table_deletion_protection)
fanout = OrderEventsFanout(
    "order-events",
    FanoutArgs(
        queue_names=messaging.fanout_queues,
        visibility_timeout_seconds=messaging.fanout_queue_visibility_seconds,
        retention_seconds=retention,
        kms_key_arn=key.arn,
    ),
    primary,
)
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        kms_key_arn=key.arn,
        alarm_email=config.monitoring.alarm_email,
        queue_age_seconds=config.monitoring.queue_age_seconds,
        queue_depth=config.monitoring.queue_depth,
    ),
    primary,
)
for queue in [order_queue, *fanout.queues.values()]:
    monitoring.watch_queue(queue)
monitoring.watch_table(store.table_name)

network = Network(
    "network",
    NetworkArgs(
        vpc_cidr=config.network.vpc_cidr, az_count=config.network.az_count, enable_nat=config.network.enable_nat
    ),
    primary,
)
fleet = WorkerFleet(
    "workers",
    WorkerFleetArgs(
        network=network,
        queue_name=order_queue.queue_name,
        queue_arn=order_queue.arn,
        table_name=store.table_name,
        table_arn=store.table_arn,
        invoices_bucket_name=fanout.bucket_name,
        invoices_bucket_arn=fanout.bucket_arn,
        invoice_prefix=topology.INVOICE_PREFIX,
        settings=config.fleet,
        monitoring=monitoring,
    ),
    primary,
)
pulumi.export("workerAsgName", fleet.asg_name)
pulumi.export("workerArtifact", pulumi.Output.concat("s3://", fleet.artifact_bucket_name, "/", fleet.artifact_key))

# The fan-out consumers and their databases (RDS PostgreSQL for shipping, Redshift Serverless for analytics).
databases = ConsumerDatabases(
    "consumer-databases", DatabasesArgs(network=network, settings=config.databases, monitoring=monitoring), primary
)
consumers = FanoutConsumers(
    "consumers",
    ConsumersArgs(
        network=network,
        databases=databases,
        queues=fanout.queues,
        invoices_bucket_arn=fanout.bucket_arn,
        settings=config.consumers,
        monitoring=monitoring,
    ),
    primary,
)
pulumi.export("shippingDbAddress", databases.db_address)
pulumi.export("shippingDbSecretArn", databases.db_secret_arn)
pulumi.export("warehouseWorkgroup", databases.workgroup_name)
pulumi.export("consumerFunctions", consumers.function_names)

# The front door: orders enter through the intake API; with a domain, Route 53 fails over to the error page.
front_door = config.front_door
zone_id = hosted_zone_id(front_door, primary) if front_door.has_domain else None
intake = IntakeApi(
    "intake",
    IntakeApiArgs(
        queue_name=order_queue.queue_name, queue_arn=order_queue.arn, settings=front_door, hosted_zone_id=zone_id
    ),
    primary,
)
intake.watch(monitoring)
pulumi.export("intakeInvokeUrl", intake.invoke_url)
pulumi.export("intakeOrdersUrl", intake.invoke_url.apply(lambda url: f"{url}/orders"))
if front_door.has_domain and zone_id is not None and intake.domain is not None:
    error_page = ErrorPage(ErrorPageArgs(bucket_name=front_door.domain_name), failover)
    failover_dns = FailoverDns(
        "failover-dns",
        FailoverDnsArgs(
            record_name=front_door.domain_name,
            zone_id=zone_id,
            primary_alias_name=intake.domain.regional_domain_name,
            primary_alias_zone_id=intake.domain.regional_zone_id,
            health_fqdn=intake.health_fqdn,
            health_path=intake.health_path,
            secondary_alias_name=error_page.website_domain,
            secondary_alias_zone_id=error_page.hosted_zone_id,
            health_check_interval_seconds=front_door.health_check_interval_seconds,
            health_check_failure_threshold=front_door.health_check_failure_threshold,
        ),
        primary,
    )
    pulumi.export("intakeUrl", f"https://{front_door.domain_name}/orders")
    pulumi.export("errorPageBucket", error_page.bucket_name)
    pulumi.export("errorPageWebsiteEndpoint", error_page.website_endpoint)
    pulumi.export("healthCheckId", failover_dns.health_check.id)
else:
    pulumi.log.info(
        "orders:domainName is not set: the intake API is reachable on its invoke URL only (stack output "
        "intakeOrdersUrl); the custom domain, certificate, health check, failover records and error page are skipped."
    )

monitoring.finish()

pulumi.export("primaryRegion", config.primary_region)
pulumi.export("failoverRegion", config.failover_region)
pulumi.export("orderQueueUrl", order_queue.url)
pulumi.export("orderQueueArn", order_queue.arn)
pulumi.export("orderDlqUrl", order_queue.dlq_url)
pulumi.export("orderTableName", store.table_name)
pulumi.export("invoicesBucketName", fanout.bucket_name)
pulumi.export("invoicePrefix", topology.INVOICE_PREFIX)
pulumi.export("orderEventsTopicArn", fanout.topic_arn)
pulumi.export("fanoutQueueUrls", {name: q.url for name, q in fanout.queues.items()})
pulumi.export("fanoutQueueArns", {name: q.arn for name, q in fanout.queues.items()})
pulumi.export("fanoutDlqUrls", {name: q.dlq_url for name, q in fanout.queues.items()})
pulumi.export("alarmTopicArn", monitoring.alarm_topic_arn)
pulumi.export("dashboardName", monitoring.dashboard_name)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
