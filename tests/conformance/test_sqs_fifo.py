"""SQS FIFO behaviour the worker is built on: per-group order and hold-back, sequence numbers, visibility,
the dead-letter move after 3 receives, and deduplication (queue-wide and per message group)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from tests.conformance.harness import (
    Resources,
    Target,
    attr,
    bodies,
    delete_messages,
    has,
    receive,
    receive_until,
    send,
)
from worker.topology import MAX_RECEIVE_COUNT


def group_of(messages: list[dict[str, Any]], group: str) -> list[str]:
    return [m["Body"] for m in messages if attr(m, "MessageGroupId") == group]


def test_fifo_delivers_each_group_in_send_order(target: Target, resources: Resources) -> None:
    """FIFO queue delivery logic in Amazon SQS:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html
    (within a message group, messages are received in the exact order they were sent)."""
    sqs, q = target.client("sqs"), resources.queue()
    sent = [(group, f"{group}{i}") for i in range(5) for group in ("A", "B")]
    for group, body in sent:
        send(sqs, q.url, body, group)
    got = receive_until(sqs, q.url, lambda got: len(got) >= len(sent), delete=True)
    assert group_of(got, "A") == [f"A{i}" for i in range(5)]
    assert group_of(got, "B") == [f"B{i}" for i in range(5)]


def test_fifo_holds_back_a_group_while_a_message_is_in_flight(target: Target, resources: Resources) -> None:
    """FIFO queue delivery logic in Amazon SQS, "Receiving messages":
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html
    (no further message of a group is returned while one is in flight, until it is deleted or becomes visible
    again; other groups are served meanwhile)."""
    sqs, q = target.client("sqs"), resources.queue()
    for body in ("A0", "A1", "A2"):
        send(sqs, q.url, body, "A")
    send(sqs, q.url, "B0", "B")

    first = receive_until(sqs, q.url, lambda got: bool(group_of(got, "A")), max_messages=1, visibility=30)
    assert group_of(first, "A") == ["A0"]
    # A0 is in flight: B0 is served, nothing more of A.
    later = receive_until(sqs, q.url, lambda got: "B0" in bodies(first + got), visibility=30)
    later += receive(sqs, q.url, visibility=30)
    assert group_of(later, "A") == []
    assert "B0" in bodies(first + later)

    a0 = next(m for m in first if m["Body"] == "A0")
    delete_messages(sqs, q.url, [a0])
    # Deleted: the next of the group is A1. In flight for 3 s, it holds A2 back ...
    after_delete = receive_until(sqs, q.url, lambda got: bool(group_of(got, "A")), max_messages=1, visibility=3)
    assert group_of(after_delete, "A") == ["A1"]
    assert group_of(receive(sqs, q.url, wait=1), "A") == []
    # ... until its visibility expires: then A1 comes back (second receive), still ahead of A2.
    time.sleep(2.2)
    again = receive_until(sqs, q.url, lambda got: bool(group_of(got, "A")), max_messages=1, visibility=30)
    (a1,) = [m for m in again if attr(m, "MessageGroupId") == "A"]
    assert a1["Body"] == "A1" and attr(a1, "ApproximateReceiveCount") == "2"


@pytest.mark.known_difference(
    "moto",
    reason="each ReceiveMessage snapshots the groups in flight when it starts, so receivers already long-polling "
    "when the messages arrive each take the next message of the same group",
)
def test_fifo_holds_back_a_group_across_concurrent_long_polls(target: Target, resources: Resources) -> None:
    """FIFO queue delivery logic in Amazon SQS:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html
    (a group is processed one batch at a time even with several consumers: the worker runs several receiver
    threads, all long-polling the same queue)."""
    sqs, q = target.client("sqs"), resources.queue()
    got: list[str] = []
    lock = threading.Lock()

    def receiver() -> None:
        messages = receive(sqs, q.url, max_messages=1, wait=2, visibility=30)
        with lock:
            got.extend(bodies(messages))

    receivers = [threading.Thread(target=receiver) for _ in range(4)]
    for t in receivers:
        t.start()
    time.sleep(0.5)  # all four are waiting in their long poll
    entries = [
        {"Id": str(i), "MessageBody": f"A{i}", "MessageGroupId": "A", "MessageDeduplicationId": f"A{i}"}
        for i in range(10)
    ]
    assert sqs.send_message_batch(QueueUrl=q.url, Entries=entries).get("Failed", []) == []
    for t in receivers:
        t.join()
    assert got == ["A0"]


@pytest.mark.known_difference("moto", reason="SequenceNumbers are random, not increasing")
def test_fifo_sequence_numbers_increase_in_send_order(target: Target, resources: Resources) -> None:
    """SendMessage, SequenceNumber (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    ("the large, non-consecutive number that Amazon SQS assigns to each message ... continues to increase for a
    particular MessageGroupId"); the worker stores it with the order and compares it on redelivery."""
    sqs, q = target.client("sqs"), resources.queue()
    sequence: dict[str, str] = {}  # MessageId -> SequenceNumber as SendMessage/SendMessageBatch returned it
    sent: dict[str, list[str]] = {"A": [], "B": []}  # each group's MessageIds in send order
    for i in range(3):
        for group in ("A", "B"):
            response = send(sqs, q.url, f"{group}{i}", group)
            sequence[response["MessageId"]] = response["SequenceNumber"]
            sent[group].append(response["MessageId"])
    entries = [
        {"Id": str(i), "MessageBody": f"A{i}", "MessageGroupId": "A", "MessageDeduplicationId": uuid.uuid4().hex}
        for i in range(3, 6)
    ]
    batch = sqs.send_message_batch(QueueUrl=q.url, Entries=entries)
    for ok in sorted(batch["Successful"], key=lambda e: int(e["Id"])):
        sequence[ok["MessageId"]] = ok["SequenceNumber"]
        sent["A"].append(ok["MessageId"])

    for group, ids in sent.items():
        numbers = [sequence[mid] for mid in ids]
        assert all(n.isdigit() for n in numbers), numbers
        assert [int(n) for n in numbers] == sorted({int(n) for n in numbers}), f"group {group}: {numbers}"
    got = receive_until(sqs, q.url, lambda got: len(got) >= len(sequence), delete=True)
    assert {m["MessageId"]: attr(m, "SequenceNumber") for m in got} == sequence


@pytest.mark.known_difference(
    "moto",
    reason="an expired batch comes back out of order: its first message is skipped while the rest of the batch "
    "still counts as in flight, so a later message of the group is delivered first",
)
def test_fifo_expired_batch_is_redelivered_in_the_original_order(target: Target, resources: Resources) -> None:
    """Amazon SQS visibility timeout:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
    and FIFO queue delivery logic in Amazon SQS (order within a group is kept on redelivery):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html"""
    sqs, q = target.client("sqs"), resources.queue()
    for i in range(5):
        send(sqs, q.url, f"A{i}", "A")
    first = receive_until(sqs, q.url, bool, visibility=1)
    assert len(first) >= 2, f"expected a batch of the group in one receive, got {bodies(first)}"
    assert bodies(first) == [f"A{i}" for i in range(len(first))]
    time.sleep(1.3)
    again = receive_until(sqs, q.url, bool, visibility=30)
    assert bodies(again)[: len(first)] == bodies(first)
    assert {attr(m, "ApproximateReceiveCount") for m in again[: len(first)]} == {"2"}


def test_visibility_timeout_expiry_makes_a_message_visible_again(target: Target, resources: Resources) -> None:
    """Amazon SQS visibility timeout:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
    (a received message is hidden for the visibility timeout, then returned again; ReceiveMessage's
    VisibilityTimeout overrides the queue's)."""
    sqs, q = target.client("sqs"), resources.queue(visibility=30)
    send(sqs, q.url, "A0", "A")
    first = receive_until(sqs, q.url, bool, visibility=1)
    assert bodies(first) == ["A0"]
    assert receive(sqs, q.url, wait=0) == []
    time.sleep(1.2)
    again = receive_until(sqs, q.url, bool, visibility=30)
    assert bodies(again) == ["A0"]
    assert attr(again[0], "ApproximateReceiveCount") == "2"
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]


def test_change_message_visibility_batch_extends_the_timeout(target: Target, resources: Resources) -> None:
    """ChangeMessageVisibilityBatch (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html
    and Amazon SQS visibility timeout ("extend the timeout while processing"):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
    (the worker's heartbeat: a message extended before its deadline is not redelivered at the old deadline)."""
    sqs, q = target.client("sqs"), resources.queue()
    send(sqs, q.url, "A0", "A")
    (m,) = receive_until(sqs, q.url, bool, visibility=1)
    resp = sqs.change_message_visibility_batch(
        QueueUrl=q.url, Entries=[{"Id": "0", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 4}]
    )
    assert [e["Id"] for e in resp["Successful"]] == ["0"] and resp.get("Failed", []) == []
    time.sleep(1.5)  # past the original 1 s deadline
    assert receive(sqs, q.url, wait=1) == []
    again = receive_until(sqs, q.url, bool, timeout=8, visibility=30)  # back after the extended deadline
    assert bodies(again) == ["A0"]


def test_change_message_visibility_to_zero_releases_the_message_first(target: Target, resources: Resources) -> None:
    """ChangeMessageVisibility (Amazon SQS API Reference; "set VisibilityTimeout to 0 ... immediately visible"):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
    (the worker's release on drain: the released message is the next of its group, before the later ones)."""
    sqs, q = target.client("sqs"), resources.queue()
    send(sqs, q.url, "A0", "A")
    send(sqs, q.url, "A1", "A")
    (m,) = receive_until(sqs, q.url, bool, max_messages=1, visibility=30)
    assert m["Body"] == "A0"
    resp = sqs.change_message_visibility_batch(
        QueueUrl=q.url, Entries=[{"Id": "0", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}]
    )
    assert resp.get("Failed", []) == []
    again = receive(sqs, q.url, max_messages=1, wait=1, visibility=30)
    assert bodies(again) == ["A0"]
    assert attr(again[0], "ApproximateReceiveCount") == "2"


def test_fifo_message_moves_to_the_fifo_dlq_after_max_receive_count(target: Target, resources: Resources) -> None:
    """Using dead-letter queues in Amazon SQS:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    (after maxReceiveCount (3) receives the message moves to the DLQ, not earlier; a FIFO DLQ keeps the
    message group)."""
    sqs, q = target.client("sqs"), resources.queue(dlq=True)
    send(sqs, q.url, "poison", "G-dlq", dedup="poison-1")
    for receive_count in range(1, MAX_RECEIVE_COUNT + 1):
        got = receive_until(sqs, q.url, bool, timeout=5, visibility=1)
        assert bodies(got) == ["poison"], f"receive {receive_count} from the source queue"
        assert attr(got[0], "ApproximateReceiveCount") == str(receive_count)
        assert receive(sqs, q.dlq_url, wait=0) == [], f"in the DLQ after only {receive_count} receives"
        time.sleep(1.2)
    assert receive(sqs, q.url, wait=1) == []
    moved = receive_until(sqs, q.dlq_url, bool, timeout=5, visibility=30)
    assert bodies(moved) == ["poison"]
    assert attr(moved[0], "MessageGroupId") == "G-dlq"
    assert attr(moved[0], "MessageDeduplicationId") == "poison-1"


@pytest.mark.known_difference("moto", reason="a deduplication id is forgotten once its message is deleted")
def test_fifo_deduplication_window_outlives_the_delete(target: Target, resources: Resources) -> None:
    """Exactly-once processing in Amazon SQS:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html
    and SendMessage, MessageDeduplicationId (API Reference: "accepted successfully but aren't delivered during the
    5-minute deduplication interval"; SQS keeps tracking the id after the message is deleted):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    Only the suppression inside the window is tested; that a resend after 5 minutes is delivered again is not
    (the suite does not wait 5 minutes)."""
    sqs, q = target.client("sqs"), resources.queue()
    send(sqs, q.url, "first", "A", dedup="order-1")
    assert send(sqs, q.url, "second copy", "A", dedup="order-1")["MessageId"]
    got = receive_until(sqs, q.url, has("first"), delete=True)
    assert bodies(got) == ["first"]
    # Deleted; a resend inside the window is acknowledged with a MessageId and never delivered. A later message
    # of the same group shows the queue has moved past it.
    assert send(sqs, q.url, "resent after delete", "A", dedup="order-1")["MessageId"]
    send(sqs, q.url, "control", "A", dedup="order-2")
    later = receive_until(sqs, q.url, has("control"), delete=True)
    assert bodies(later) == ["control"]


@pytest.mark.known_difference(
    "moto",
    reason="DeduplicationScope=messageGroup is stored but not applied: deduplication stays queue-wide, so the "
    "same id in a second group is dropped",
)
def test_fifo_deduplication_per_message_group_in_high_throughput_mode(target: Target, resources: Resources) -> None:
    """High throughput for FIFO queues in Amazon SQS:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html
    (DeduplicationScope=messageGroup with FifoThroughputLimit=perMessageGroupId: a deduplication id is unique
    per group, so the same id in two groups is two messages, and within a group still one)."""
    sqs, q = target.client("sqs"), resources.queue(high_throughput=True)
    attrs = sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["DeduplicationScope", "FifoThroughputLimit"])
    assert attrs["Attributes"] == {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    send(sqs, q.url, "A: order-1", "A", dedup="order-1")
    send(sqs, q.url, "B: order-1", "B", dedup="order-1")
    send(sqs, q.url, "A: order-1 again", "A", dedup="order-1")
    send(sqs, q.url, "A: control", "A", dedup="order-2")
    got = receive_until(sqs, q.url, has("A: order-1", "B: order-1", "A: control"), delete=True)
    assert group_of(got, "A") == ["A: order-1", "A: control"]
    assert group_of(got, "B") == ["B: order-1"]
