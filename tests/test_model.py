"""The order model every part of the system shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from worker import topology
from worker.fifo.messages import Received
from worker.fifo.order_writer import OrderWriter, Outcome
from worker.model import (
    MAX_ORDER_BYTES,
    InvalidOrder,
    OrderTable,
    StoredOrder,
    order_table,
    parse_invoice,
    parse_order,
)

VALID = {
    "OrderID": "ord-1",
    "CustomerID": "cust-1",
    "Items": [{"SKU": "TV-55", "Quantity": 2, "UnitPrice": "199.99"}, {"SKU": "HDMI", "Quantity": 1, "UnitPrice": 5}],
    "Total": "404.98",
    "Currency": "USD",
    "CreatedAt": "2026-11-27T08:00:00Z",
}


def test_valid_order_round_trips() -> None:
    order = parse_order(json.dumps(VALID))
    assert order.OrderID == "ord-1" and order.Items[0].amount == 2 * order.Items[0].UnitPrice
    assert parse_order(order.to_json()) == order


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**VALID, "Total": "1.00"}), "does not equal the sum"),
        (json.dumps({k: v for k, v in VALID.items() if k != "CustomerID"}), "CustomerID"),
        (
            json.dumps({**VALID, "Items": [{"SKU": "X", "Quantity": 0, "UnitPrice": "1"}], "Total": "0"}),
            "Items.0.Quantity",
        ),
        (json.dumps({**VALID, "Items": [{"SKU": "X", "Quantity": "2", "UnitPrice": "1"}], "Total": "2"}), "Quantity"),
        (json.dumps({**VALID, "Currency": "usd"}), "Currency"),
        (json.dumps({**VALID, "CreatedAt": "2026-11-27T08:00:00"}), "time zone"),
        (json.dumps({**VALID, "Extra": 1}), "Extra"),
        ("x" * (MAX_ORDER_BYTES + 1), "over the"),
    ],
)
def test_invalid_orders_have_a_one_line_reason(body: str, reason: str) -> None:
    with pytest.raises(InvalidOrder) as err:
        parse_order(body)
    assert reason in err.value.reason
    assert "\n" not in err.value.reason


def test_invoice_accepts_an_envelope_or_a_bare_order() -> None:
    order = parse_order(json.dumps(VALID))
    envelope = {
        "Order": json.loads(order.to_json()),
        "ProcessedAt": "2026-11-27T08:00:01Z",
        "SequenceNumber": "42",
        "Region": "us-east-1",
    }
    invoice = parse_invoice(json.dumps(envelope))
    assert invoice.Order == order and invoice.SequenceNumber == "42"
    bare = parse_invoice(json.dumps(VALID), default_region="eu-west-1")
    assert bare.Order == order and bare.Region == "eu-west-1"
    with pytest.raises(InvalidOrder):
        parse_invoice(json.dumps({**envelope, "Order": {**VALID, "Total": "3"}}))


def test_an_orders_fifo_ids_are_its_customer_and_its_id() -> None:
    """The producer and the intake API send with these (tests/test_producer.py checks the API's template)."""
    order = parse_order(json.dumps(VALID))
    assert (order.group_id, order.dedup_id) == ("cust-1", "ord-1")
    assert "group_id" not in json.loads(order.to_json()), "the ids are derived, never part of the body"


PROCESSED = datetime(2026, 11, 27, 8, 0, 1, 250, tzinfo=UTC)


def test_the_order_table_item_is_written_and_read_back_through_one_translation() -> None:
    order = parse_order(json.dumps(VALID))
    item = order_table.to_item(
        order, group_id=order.group_id, sequence_number="42", message_id="m-1", processed_at=PROCESSED
    )
    assert item == {
        "OrderID": {"S": "ord-1"},
        "CustomerID": {"S": "cust-1"},
        "Total": {"N": "404.98"},
        "Currency": {"S": "USD"},
        "ItemCount": {"N": "3"},
        "CreatedAt": {"S": "2026-11-27T08:00:00+00:00"},
        "MessageGroupId": {"S": "cust-1"},
        "SequenceNumber": {"S": "42"},
        "MessageId": {"S": "m-1"},
        "ProcessedAt": {"S": "2026-11-27T08:00:01.000250+00:00"},
    }
    assert order_table.from_item(item) == StoredOrder(
        order_id="ord-1",
        customer_id="cust-1",
        total=Decimal("404.98"),
        currency="USD",
        item_count=3,
        created_at=order.CreatedAt,
        group_id="cust-1",
        sequence_number="42",
        message_id="m-1",
        processed_at=PROCESSED,
    )
    # a projection of the key (BatchGetItem in ops/dlq_triage.py) reads back as the key alone
    assert order_table.from_item(order_table.key_of("ord-1")) == StoredOrder("ord-1")
    assert order_table.order_id_of({**order_table.key_of("ord-1"), "ProcessedAt": {"S": "x"}}) == "ord-1"


def test_the_key_attribute_is_the_tables_and_named_once() -> None:
    assert order_table.key == topology.TABLE_KEY
    assert order_table.if_absent == {
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": topology.TABLE_KEY},
    }
    other = OrderTable(key="pk")  # a fork keying its table differently changes one name
    order = parse_order(json.dumps(VALID))
    item = other.to_item(order, group_id="g", sequence_number="1", message_id="m", processed_at=PROCESSED)
    assert item["pk"] == {"S": "ord-1"} and "OrderID" not in item
    assert other.key_of("x") == {"pk": {"S": "x"}} and other.if_absent["ExpressionAttributeNames"] == {"#k": "pk"}
    assert other.from_item(item).order_id == "ord-1"


class _Table:
    """A DynamoDB client stand-in whose failed conditional put does not return the stored item (the fallback)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        item = kwargs["Item"]
        key = order_table.order_id_of(item)
        assert kwargs["ExpressionAttributeNames"] == {"#k": order_table.key}
        if key in self.items:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        self.items[key] = item
        return {}

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        item = self.items.get(order_table.order_id_of(kwargs["Key"]))
        return {"Item": item} if item else {}


def test_the_writer_reads_the_stored_item_back_when_the_failure_does_not_carry_it() -> None:
    order = parse_order(json.dumps(VALID))
    first = Received("m-1", "r", order.to_json(), order.group_id, "42", 1, 0.0)
    table = _Table()
    writer = OrderWriter(table, "orders")
    written = writer.record(order, first)
    assert written.outcome is Outcome.WRITTEN
    again = writer.record(order, first)
    assert (again.outcome, again.processed_at, again.sequence_number) == (
        Outcome.REDELIVERY,
        written.processed_at,
        "42",
    )
    other = writer.record(order, Received("m-2", "r", order.to_json(), order.group_id, "43", 1, 0.0))
    assert (other.outcome, other.sequence_number) == (Outcome.DUPLICATE, "42")
    assert order_table.from_item(table.items["ord-1"]).message_id == "m-1", "never overwritten"
