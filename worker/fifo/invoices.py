"""The invoice in S3 (`<prefix><OrderID>.json`, `Invoice.to_json()`): its creation starts the fan-out.

The invoice is built from what the table stored (ProcessedAt, SequenceNumber), so a retry writes the
same bytes. After a redelivery the worker only checks the invoice exists (HEAD) and writes it if the
crash happened between the table write and the invoice, so the fan-out normally sees one object.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from worker.model import Invoice


class InvoiceWriter:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def key(self, order_id: str) -> str:
        return f"{self._prefix}{order_id}.json"

    def put(self, invoice: Invoice) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.key(invoice.Order.OrderID),
            Body=invoice.to_json().encode(),
            ContentType="application/json",
        )

    def ensure(self, invoice: Invoice) -> bool:
        """Write the invoice unless it exists; True if it had to be written."""
        try:
            self._s3.head_object(Bucket=self._bucket, Key=self.key(invoice.Order.OrderID))
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                raise
        self.put(invoice)
        return True
