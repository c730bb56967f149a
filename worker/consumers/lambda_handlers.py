"""Lambda adapter: SQS event -> `process_message` per record, partial batch response via Powertools.

The batch step (processor and record handler) is `worker.consumers.batch`, shared with the poller.

Handlers: `worker.consumers.lambda_handlers.shipping_handler` and `...analytics_handler`. The event
source mapping has `ReportBatchItemFailures`, so only the failed records return to the queue. The
consumer (database connection included) is built once per execution environment and reused.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from worker.consumers.batch import batch_processor, record_handler
from worker.consumers.processing import Consumer, build_consumer, failure_reason

logger = Logger(service="orders-consumers")
_consumers: dict[str, Consumer] = {}


def _consumer(name: str) -> Consumer:
    if name not in _consumers:
        _consumers[name] = build_consumer(name)
    return _consumers[name]


def handle_batch(name: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process one SQS batch for consumer `name`; return `{"batchItemFailures": [...]}`."""

    def failed(record: SQSRecord, exc: Exception) -> None:
        logger.warning(
            "record failed, left for redelivery",
            consumer=name,
            message_id=record.message_id,
            receive_count=record.attributes.approximate_receive_count,
            reason=failure_reason(exc),
        )

    def done(record: SQSRecord, outcomes: list[str]) -> None:
        logger.debug("record done", consumer=name, message_id=record.message_id, outcomes=outcomes)

    response = process_partial_response(
        event=event,
        record_handler=record_handler(_consumer(name), failed, done),
        processor=batch_processor(),
        context=context,
    )
    failed_count = len(response.get("batchItemFailures", []))
    logger.info("batch done", consumer=name, records=len(event.get("Records", [])), failed=failed_count)
    return dict(response)


def shipping_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch("shipping", event, context)


def analytics_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch("analytics", event, context)
