"""S3 event notifications as they arrive in an SQS message body.

With raw delivery (what the program configures) the body is the S3 event itself; with raw delivery
turned off it is wrapped in an SNS envelope whose `Message` is the S3 event as a string. Both are
accepted. `s3:TestEvent` (sent when a notification is configured) yields no objects. Keys arrive
URL-encoded with `+` for spaces, so they are decoded with `unquote_plus`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class InvalidEvent(ValueError):
    """A message body that is not an S3 event notification; the message goes back to the queue (-> DLQ)."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    event_name: str
    version_id: str | None = None


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidEvent(f"{what} is not JSON: {exc}") from None


def objects_in(body: str) -> list[S3Object]:
    """The created objects an SQS message body announces (empty for a test event)."""
    data = _load(body, "message body")
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        data = _load(data["Message"], "SNS Message")
    if not isinstance(data, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(data).__name__}")
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if not isinstance(records, list):
        raise InvalidEvent("no S3 'Records' in the message")
    objects = []
    for record in records:
        try:
            if record.get("eventSource") != "aws:s3":
                raise InvalidEvent(f"record from {record.get('eventSource')!r}, expected aws:s3")
            event_name = str(record["eventName"])
            s3 = record["s3"]
            objects.append(
                S3Object(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(s3["object"]["key"]),
                    event_name=event_name,
                    version_id=s3["object"].get("versionId"),
                )
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidEvent(f"S3 record without {exc}") from None
    return [o for o in objects if o.event_name.startswith("ObjectCreated")]
