"""One message: validate, store exactly once, write the invoice. No retries here (see groups.py)."""

from __future__ import annotations

from dataclasses import dataclass

from worker.fifo.invoice_writer import InvoiceWriter
from worker.fifo.messages import Received
from worker.fifo.order_writer import OrderWriter, Outcome
from worker.model import InvalidOrder, Invoice, parse_order


@dataclass(frozen=True)
class Result:
    outcome: Outcome | None
    """None when the message is not a valid order (see `reason`)."""
    reason: str = ""


class OrderProcessor:
    def __init__(self, orders: OrderWriter, invoices: InvoiceWriter, region: str) -> None:
        self._orders = orders
        self._invoices = invoices
        self._region = region

    def process(self, message: Received) -> Result:
        """Raises botocore errors for anything transient; returns a Result for valid and invalid input."""
        try:
            order = parse_order(message.body)
        except InvalidOrder as exc:
            return Result(None, exc.reason)
        stored = self._orders.record(order, message)
        invoice = Invoice(
            Order=order, ProcessedAt=stored.processed_at, SequenceNumber=stored.sequence_number, Region=self._region
        )
        if stored.outcome is not Outcome.DUPLICATE:
            # after a redelivery the crash may have come before the invoice; the put is conditional
            self._invoices.put(invoice)
        return Result(stored.outcome)
