"""The exactly-once write: one conditional PutItem per order, keyed by OrderID, tagged with its SequenceNumber.

The item is written only if no item with that OrderID exists. When the condition fails, DynamoDB returns
the stored item (ReturnValuesOnConditionCheckFailure) in the same call, and its SequenceNumber says what
happened: the same number is a redelivery of this very message (crash after write, before delete);
another number is a second message for an order already stored (a resend after the 5-minute dedup
window, or a stale copy). Either way nothing is overwritten and the message is acknowledged, so an
order is stored once and its invoice - which starts the fan-out - is written once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from worker.fifo.messages import Received
from worker.model import Order, StoredOrder, order_table


class Outcome(enum.Enum):
    WRITTEN = "written"
    REDELIVERY = "redelivery"
    """Same message seen again: the earlier attempt wrote the order but did not delete the message."""
    DUPLICATE = "duplicate"
    """A different message for an OrderID already stored: acknowledged, never overwritten."""


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome
    processed_at: datetime
    sequence_number: str


def now_utc() -> datetime:
    return datetime.now(UTC)


def order_item(order: Order, message: Received, processed_at: datetime) -> dict[str, Any]:
    """The stored order (`worker.model.order_table`), tagged with the message that carried it."""
    return order_table.to_item(
        order,
        group_id=message.group_id,
        sequence_number=message.sequence_number,
        message_id=message.message_id,
        processed_at=processed_at,
    )


class OrderWriter:
    def __init__(self, dynamodb: Any, table: str, on_write_units: Any = None) -> None:
        self._ddb = dynamodb
        self._table = table
        self._on_write_units = on_write_units or (lambda units: None)

    def record(self, order: Order, message: Received) -> WriteResult:
        processed_at = now_utc()
        try:
            resp = self._ddb.put_item(
                TableName=self._table,
                Item=order_item(order, message, processed_at),
                **order_table.if_absent,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item") or self._read(order.OrderID)
            stored = order_table.from_item(old) if old else StoredOrder(order.OrderID)
            same = stored.sequence_number == message.sequence_number and stored.message_id == message.message_id
            return WriteResult(
                Outcome.REDELIVERY if same else Outcome.DUPLICATE,
                stored.processed_at or processed_at,
                stored.sequence_number,
            )
        self._on_write_units(resp.get("ConsumedCapacity", {}).get("CapacityUnits", 0))
        return WriteResult(Outcome.WRITTEN, processed_at, message.sequence_number)

    def _read(self, order_id: str) -> dict[str, Any]:
        """Fallback when the service did not return the old item with the failure."""
        got = self._ddb.get_item(TableName=self._table, Key=order_table.key_of(order_id), ConsistentRead=True)
        return dict(got.get("Item", {}))
