"""The order model: one validated shape for every part of the system.

The FIFO worker, the consumers, the producer and the intake API's JSON schema all use this module, so
an order that one part accepts is an order every part accepts. Money is `Decimal` (never float) and
totals must add up to the cent. `order_table` is the order as the order table stores it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from worker.topology import TABLE_KEY

MAX_ORDER_BYTES = 64 * 1024
"""Larger bodies are rejected before parsing (SQS allows 256 KiB; no real order is near 64 KiB)."""
MAX_ITEMS = 100

Money = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class InvalidOrder(ValueError):
    """A message that is not a valid order; `reason` is one line an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    SKU: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    Quantity: int = Field(gt=0, le=10_000, strict=True)
    UnitPrice: Money

    @property
    def amount(self) -> Decimal:
        return self.UnitPrice * self.Quantity


class Order(BaseModel):
    """An order as customers send it: what enters the FIFO queue and what the bulk import uploads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    OrderID: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    CustomerID: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    Items: list[OrderItem] = Field(min_length=1, max_length=MAX_ITEMS)
    Total: Money
    Currency: str = Field(pattern=r"^[A-Z]{3}$")
    CreatedAt: datetime

    @model_validator(mode="after")
    def _total_adds_up(self) -> Order:
        expected = sum((item.amount for item in self.Items), Decimal("0"))
        if expected != self.Total:
            raise ValueError(f"Total {self.Total} does not equal the sum of the items {expected}")
        if self.CreatedAt.tzinfo is None:
            raise ValueError("CreatedAt must carry a time zone (e.g. 2026-11-27T08:00:00Z)")
        return self

    @property
    def group_id(self) -> str:
        """Its FIFO message group: a customer's orders are processed in the order they were sent."""
        return self.CustomerID

    @property
    def dedup_id(self) -> str:
        """Its FIFO deduplication id: a resend of the same order within 5 minutes is dropped by SQS."""
        return self.OrderID

    def to_json(self) -> str:
        return self.model_dump_json()


class Invoice(BaseModel):
    """What the FIFO worker writes to S3 for a processed order; the fan-out consumers read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    Order: Order
    ProcessedAt: datetime
    SequenceNumber: str
    Region: str

    def to_json(self) -> str:
        return self.model_dump_json()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "order"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def _load(body: str | bytes) -> Any:
    size = len(body.encode() if isinstance(body, str) else body)
    if size > MAX_ORDER_BYTES:
        raise InvalidOrder(f"payload is {size} bytes, over the {MAX_ORDER_BYTES}-byte limit")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidOrder(f"malformed JSON: {exc}") from None


def parse_order(body: str | bytes) -> Order:
    """Parse and validate a message body; raise `InvalidOrder` with a one-line reason."""
    data = _load(body)
    if not isinstance(data, dict):
        raise InvalidOrder(f"expected a JSON object, got {type(data).__name__}")
    try:
        return Order.model_validate(data)
    except ValidationError as exc:
        raise InvalidOrder(_first_error(exc)) from None


def parse_invoice(body: str | bytes, *, default_region: str = "") -> Invoice:
    """Parse an invoice object from S3. A bare order (the bulk import path) becomes an invoice of itself."""
    data = _load(body)
    if not isinstance(data, dict):
        raise InvalidOrder(f"expected a JSON object, got {type(data).__name__}")
    try:
        if "Order" in data:
            return Invoice.model_validate(data)
        order = Order.model_validate(data)
    except ValidationError as exc:
        raise InvalidOrder(_first_error(exc)) from None
    return Invoice(Order=order, ProcessedAt=order.CreatedAt, SequenceNumber="", Region=default_region)


def order_json_schema() -> dict[str, Any]:
    """JSON schema of an order (draft 2020-12 as pydantic emits it), e.g. for an API Gateway request model."""
    return Order.model_json_schema()


# --- the order table's item ---------------------------------------------------------------------------------

TableItem = dict[str, dict[str, str]]
"""An item, or a key, in the DynamoDB client's wire format (`{"S": ...}`, `{"N": ...}`), as boto3's client takes
and returns them."""


@dataclass(frozen=True)
class StoredOrder:
    """An order table item read back. Attributes the item lacks (a projection, or an item written by something
    other than `OrderTable.to_item`) are "" or None; only the key is required."""

    order_id: str
    customer_id: str = ""
    total: Decimal | None = None
    currency: str = ""
    item_count: int | None = None
    created_at: datetime | None = None
    group_id: str = ""
    sequence_number: str = ""
    message_id: str = ""
    processed_at: datetime | None = None


@dataclass(frozen=True)
class OrderTable:
    """The order table's item: its key attribute and the one translation between an order and what is stored.

    The FIFO worker writes one item per order (worker/fifo/order_writer.py); operator tools, the demo and the
    benchmarks read it back. All of them name the key and the attributes through `order_table`, so the item has
    one shape. The table itself (key schema, billing) is components/order_table.py, keyed by the same
    `topology.TABLE_KEY`."""

    key: str = TABLE_KEY
    """The partition key attribute (string), holding the OrderID."""

    @property
    def if_absent(self) -> dict[str, Any]:
        """PutItem arguments that write only when no item has the key: how an order is stored once."""
        return {"ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": self.key}}

    def key_of(self, order_id: str) -> TableItem:
        """The item's key, for GetItem, BatchGetItem or DeleteItem."""
        return {self.key: {"S": order_id}}

    def order_id_of(self, item: dict[str, Any]) -> str:
        """The OrderID of an item as GetItem, BatchGetItem, Query or Scan return it (a projection of the key is
        enough)."""
        return str(item[self.key]["S"])

    def to_item(
        self, order: Order, *, group_id: str, sequence_number: str, message_id: str, processed_at: datetime
    ) -> TableItem:
        """The stored order: small (one write unit), with what is needed to verify order from the table: the
        message group, SQS's sequence number and message id of the message that carried it, and when it was
        processed."""
        return {
            **self.key_of(order.OrderID),
            "CustomerID": {"S": order.CustomerID},
            "Total": {"N": str(order.Total)},
            "Currency": {"S": order.Currency},
            "ItemCount": {"N": str(sum(item.Quantity for item in order.Items))},
            "CreatedAt": {"S": order.CreatedAt.isoformat()},
            "MessageGroupId": {"S": group_id},
            "SequenceNumber": {"S": sequence_number},
            "MessageId": {"S": message_id},
            "ProcessedAt": {"S": processed_at.isoformat(timespec="microseconds")},
        }

    def from_item(self, item: dict[str, Any]) -> StoredOrder:
        """An item `to_item` wrote (or any projection of it), as typed values."""

        def text(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        def number(name: str) -> str:
            return str(item.get(name, {}).get("N", ""))

        def when(name: str) -> datetime | None:
            return datetime.fromisoformat(text(name)) if text(name) else None

        return StoredOrder(
            order_id=self.order_id_of(item),
            customer_id=text("CustomerID"),
            total=Decimal(number("Total")) if number("Total") else None,
            currency=text("Currency"),
            item_count=int(number("ItemCount")) if number("ItemCount") else None,
            created_at=when("CreatedAt"),
            group_id=text("MessageGroupId"),
            sequence_number=text("SequenceNumber"),
            message_id=text("MessageId"),
            processed_at=when("ProcessedAt"),
        )


order_table = OrderTable()
"""The order table's item as the stack's table is keyed (`topology.TABLE_KEY`)."""
