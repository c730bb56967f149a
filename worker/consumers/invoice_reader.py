"""Fetch an invoice object from S3 and validate it with the shared order model."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from worker.consumers.events import S3Object
from worker.model import InvalidOrder, Invoice, parse_invoice


class MissingInvoice(LookupError):
    """The announced object is gone (deleted, or never readable by us); the message is retried, then DLQ'd."""


def fetch_invoice(s3: Any, obj: S3Object, *, default_region: str = "") -> Invoice:
    """GetObject (the announced version when the event names one) and parse it; raises MissingInvoice or InvalidOrder."""
    kwargs = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.version_id:
        kwargs["VersionId"] = obj.version_id
    try:
        body = s3.get_object(**kwargs)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "NoSuchVersion", "404", "AccessDenied", "403"}:
            raise MissingInvoice(f"s3://{obj.bucket}/{obj.key}: {code}") from None
        raise
    try:
        return parse_invoice(body, default_region=default_region)
    except InvalidOrder as exc:
        raise InvalidOrder(f"s3://{obj.bucket}/{obj.key}: {exc.reason}") from None
