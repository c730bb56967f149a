"""The FIFO worker that runs on each Spot instance: SQS FIFO -> DynamoDB (exactly once) -> invoice in S3.

Modules: `settings` (flags/env), `aws` (tuned boto3 clients), `messages` (what SQS hands us),
`store` (the conditional write), `invoices` (S3), `processor` (one message), `inflight` (heartbeat and
release), `deleter` (batched deletes), `groups` (per-group sequencing), `interruption` (IMDSv2 Spot and
lifecycle watch), `telemetry` (JSON logs, counters as CloudWatch EMF), `runner` (the worker), `cli`.
"""
