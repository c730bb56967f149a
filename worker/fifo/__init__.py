"""The FIFO worker that runs on each Spot instance: SQS FIFO -> DynamoDB (exactly once) -> invoice in S3.

Modules, one job each: `settings` (flags/env), `aws` (tuned boto3 clients), `messages` (what SQS hands
us), `order_writer` (the conditional write to the order table), `invoice_writer` (the invoice in S3),
`processor` (one message), `inflight` (heartbeat and release), `deleter` (batched deletes), `groups`
(per-group sequencing), `interruption` (IMDSv2 Spot and lifecycle watch), `state` (the drain as one
state machine), `telemetry` (JSON logs, counters as CloudWatch EMF), `runner` (the worker), `cli`.
Retries around whole operations use the runtime's one policy, `worker.backoff`.
"""
