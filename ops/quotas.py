"""AWS default quotas the planner checks, each with the AWS page it was verified against (2026-12-03).

Only figures read on an AWS documentation page (or AWS's own knowledge center) are used as limits. A
quota whose figure could not be verified is None here, and the plan reports it as unverified instead of
treating it as a limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    value: float | None
    """None: not verified here (the plan says so and does not treat it as binding)."""
    unit: str
    source: str
    lift: str
    """How to raise it: a config key (orders:...) or the quota request to file."""


SQS_FIFO_TPS_PER_ACTION = Quota(
    300,
    "transactions/s per API action (SendMessage, ReceiveMessage, DeleteMessage) per queue, without high throughput",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/troubleshooting-fifo-throttling-issues.html",
    "orders:fifoHighThroughput = true (high-throughput mode)",
)
SQS_FIFO_BATCH = 10
"""Messages per batch request (SendMessageBatch, DeleteMessageBatch, ReceiveMessage MaxNumberOfMessages):
'A single message batch request can include a maximum of 10 messages' -
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"""
SQS_FIFO_HIGH_THROUGHPUT = Quota(
    None,
    "transactions/s per API action per queue in high-throughput mode (region-specific)",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    "a quota increase request for SQS FIFO high throughput in the region",
)
"""The regional high-throughput figures sit in a table that was cut off in every stored copy of the page."""
SQS_FIFO_IN_FLIGHT = Quota(
    120_000,
    "in-flight messages per FIFO queue",
    "https://docs.aws.amazon.com/es_es/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html",
    "AWS Support (the page: 'You can request an increase ... by contacting AWS Support')",
)

APIGW_ACCOUNT_RPS = Quota(
    10_000,
    "requests/s per account per region, all APIs",
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    "Service Quotas request L-8A5B8E43 (API Gateway throttle rate)",
)
APIGW_ACCOUNT_BURST = Quota(
    5_000,
    "token-bucket capacity per account per region (set by the service team from the rate quota)",
    "https://docs.amazonaws.cn/en_us/apigateway/latest/developerguide/limits.md",
    "raised with the rate quota (not requestable on its own)",
)
APIGW_LOW_DEFAULT_REGIONS = frozenset(
    # 'the default throttle quota is 2500 RPS and the default burst quota is 1250 RPS' there (limits.html)
    {"af-south-1", "eu-south-1", "ap-southeast-3", "me-central-1", "ap-south-2", "ap-southeast-4", "eu-south-2",
     "eu-central-2", "il-central-1", "ca-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1"}
)  # fmt: skip
APIGW_LOW_DEFAULT = (2_500, 1_250)

DYNAMODB_TABLE_WRU = Quota(
    40_000,
    "write request units/s per on-demand table",
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html",
    "Service Quotas request: DynamoDB table-level write throughput",
)
DYNAMODB_PARTITION_WRU = Quota(
    1_000,
    "write request units/s per partition (one partition key is one partition's traffic)",
    "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb",
    "a higher-cardinality key (OrderID is unique per order, so only a hot key can reach it)",
)
DYNAMODB_NEW_TABLE_WRU = Quota(
    4_000,
    "write request units/s a new on-demand table takes at once (more than double the previous peak within 30 min may throttle)",
    "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb",
    "pre-warm the table (warm throughput) or ramp traffic over 30 minutes before the peak",
)

LAMBDA_CONCURRENCY = Quota(
    1_000,
    "concurrent executions per account per region (new accounts start lower)",
    "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    "Service Quotas request: Lambda concurrent executions",
)
LAMBDA_SQS_MAX_CONCURRENCY = Quota(
    1_000,
    "MaximumConcurrency of one SQS event source mapping (2..1000)",
    "https://docs.aws.amazon.com/lambda/latest/dg/API_ScalingConfig.html",
    "orders:consumerMaxConcurrency (up to 1000)",
)

RDS_MAX_CONNECTIONS_DIVISOR = 9_531_392
"""RDS PostgreSQL default max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000), per
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections (as quoted
in https://github.com/developmentseed/eoapi-cdk/pull/1); DBInstanceClassMemory is below the class's memory,
so the figure from the class's memory is an upper bound (a 4 GiB db.t2.medium shows 413)."""
RDS_MAX_CONNECTIONS_CAP = 5_000
RDS_MAX_CONNECTIONS_SOURCE = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections"
)
RDS_MEMORY_GIB = {
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8, "db.t4g.xlarge": 16,
    "db.t4g.2xlarge": 32, "db.m6g.large": 8, "db.m6g.xlarge": 16, "db.m7g.large": 8, "db.m7g.xlarge": 16,
    "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r7g.large": 16, "db.r7g.xlarge": 32,
}  # fmt: skip
"""Instance class memory (the class's published spec); a class missing here gets no connection check."""
