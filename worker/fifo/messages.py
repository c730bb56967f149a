"""What SQS hands the worker, and how a received batch splits into per-group runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SYSTEM_ATTRIBUTES = ["MessageGroupId", "SequenceNumber", "ApproximateReceiveCount", "MessageDeduplicationId"]


@dataclass
class Received:
    message_id: str
    receipt_handle: str
    body: str
    group_id: str
    sequence_number: str
    receive_count: int
    received_at: float
    visible_until: float = field(default=0.0, compare=False)

    @classmethod
    def from_sqs(cls, raw: dict[str, Any], *, received_at: float, visibility: int) -> Received:
        attrs = raw.get("Attributes", {})
        return cls(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            group_id=attrs.get("MessageGroupId", ""),
            sequence_number=attrs.get("SequenceNumber", ""),
            receive_count=int(attrs.get("ApproximateReceiveCount", "1")),
            received_at=received_at,
            visible_until=received_at + visibility,
        )

    def log_fields(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "group": self.group_id,
            "sequence_number": self.sequence_number,
            "receive_count": self.receive_count,
        }


def split_by_group(messages: Iterable[Received]) -> list[list[Received]]:
    """Runs of one message group each, in the order SQS returned them (which is the group's order)."""
    runs: dict[str, list[Received]] = {}
    for message in messages:
        runs.setdefault(message.group_id, []).append(message)
    return list(runs.values())
