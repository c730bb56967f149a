"""The one batch step both adapters run: Powertools' SQS `BatchProcessor` over one record handler.

Lambda hands the handler its SQS event; the poller (`worker.consumers.cli`) converts what
`ReceiveMessage` returned into the same record shape (`lambda_record`) and runs the same processor, so
both decide success and failure per record in the same code. Each adapter only says how it logs a
failed record and what it does with the result (Lambda reports `batchItemFailures`, the poller deletes
the successful records itself).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from worker.consumers.processing import Consumer, process_message

RecordHandler = Callable[[SQSRecord], list[str]]
OnFailure = Callable[[SQSRecord, Exception], None]
OnSuccess = Callable[[SQSRecord, list[str]], None]


def record_handler(consumer: Consumer, on_failure: OnFailure, on_success: OnSuccess | None = None) -> RecordHandler:
    """`process_message` on the record's body; a failure is reported to `on_failure` and re-raised."""

    def handle(record: SQSRecord) -> list[str]:
        try:
            outcomes = process_message(consumer, record.body)
        except Exception as exc:
            on_failure(record, exc)
            raise
        if on_success is not None:
            on_success(record, outcomes)
        return outcomes

    return handle


def batch_processor() -> BatchProcessor:
    """A fresh processor per batch (it keeps per-batch state). An all-failed batch is reported item by
    item rather than raised, so the behaviour (failed records return to the queue) is the same for any mix."""
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def queue_arn(queue_url: str, region: str, partition: str = "aws") -> str:
    """The queue's ARN from its URL (`.../<account>/<name>`), as Lambda's records carry it."""
    account, name = queue_url.rstrip("/").split("/")[-2:]
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType", "String"),
    }


def lambda_record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    """One `ReceiveMessage` message in the shape of a record of Lambda's SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: str(v) for k, v in message.get("Attributes", {}).items()},
        "messageAttributes": {k: _message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }
