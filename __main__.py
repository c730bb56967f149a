"""The order pipeline's Pulumi program: read the stack config, build each tier, export what users need."""

import pulumi

from components.aws_context import AwsContext
from components.config import StackConfig
from components.fanout import FanoutArgs, OrderEventsFanout
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
