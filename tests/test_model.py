"""The order model every part of the system shares."""

from __future__ import annotations

import json

import pytest

from worker.model import MAX_ORDER_BYTES, InvalidOrder, parse_invoice, parse_order

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
