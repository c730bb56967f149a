"""Lambda adapter: SQS event -> `process_message` per record, partial batch response via Powertools.

The batch step (processor and record handler) is `worker.consumers.batch`, shared with the poller.

Handlers: `worker.consumers.lambda_handlers.<consumer>_handler` for every fan-out consumer (worker/topology.py),
one generic handler (`handler_for`) looked up by name: Lambda's runtime resolves the attribute, and the module
answers `<consumer>_handler` for each registered consumer. `shipping_handler` and `analytics_handler` are also
plain names, as deployed functions reference them. The event source mapping has `ReportBatchItemFailures`, so
only the failed records return to the queue. The consumer (database connection included) is built once per
execution environment and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from worker import topology
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


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
SUFFIX = "_handler"


def handler_for(name: str) -> Handler:
    """The Lambda handler of fan-out consumer `name` (`<name>_handler` in this module)."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handle_batch(name, event, context)

    handler.__name__ = handler.__qualname__ = name + SUFFIX
    return handler


shipping_handler = handler_for("shipping")
analytics_handler = handler_for("analytics")


def __getattr__(attribute: str) -> Handler:
    """`<consumer>_handler` for every registered fan-out consumer without a plain name here (PEP 562)."""
    name = attribute.removesuffix(SUFFIX)
    if attribute.endswith(SUFFIX) and name in topology.FANOUT_QUEUES:
        return handler_for(name)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
