"""The invoice in S3 (`<prefix><OrderID>.json`, `Invoice.to_json()`): its creation starts the fan-out.

The put is conditional (`If-None-Match: *`), so the object is created once even when a put is retried
after a lost response or repeated after a redelivery: S3 answers 412 and nothing new fans out. The
invoice is built from what the table stored (ProcessedAt, SequenceNumber), so every attempt carries the
same bytes.
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

    def put(self, invoice: Invoice) -> bool:
        """Create the invoice unless it exists; True if this call created it."""
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=self.key(invoice.Order.OrderID),
                Body=invoice.to_json().encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False
            raise  # incl. 409 ConditionalRequestConflict (a concurrent put): retried by the caller
        return True
