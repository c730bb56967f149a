"""Every SQS call of the runtime (worker/) and the operator tools (ops/), with the parameters they pass.

Callers: the FIFO worker (worker/fifo: runner, inflight, deleter), the fan-out poller (worker/consumers/cli.py),
the producer's batches (simulation/producer.py) and `ops dlq-triage` (ops/dlq_triage.py).
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from ops.dlq_triage import redrive_dedup_id
from tests.conformance.harness import (
    Resources,
    Target,
    attr,
    bodies,
    has,
    receive,
    receive_until,
    send,
    wait_until,
)
from worker.fifo.messages import SYSTEM_ATTRIBUTES
from worker.fifo.runner import FATAL_QUEUE_ERRORS


@pytest.mark.known_difference(
    "moto", reason="message bodies are not checked: the entry with U+0001 is accepted (no InvalidMessageContents)"
)
def test_send_message_batch_reports_a_bad_entry_and_sends_the_rest(target: Target, resources: Resources) -> None:
    """SendMessageBatch (Amazon SQS API Reference: "the result of sending each message is reported
    individually ... check for batch errors even when the call returns an HTTP status code of 200"):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
    The producer resends only the entries in `Failed` whose SenderFault is false."""
    sqs, q = target.client("sqs"), resources.queue()
    entries = [
        {"Id": "ok-0", "MessageBody": "first", "MessageGroupId": "A", "MessageDeduplicationId": "d0"},
        # U+0001 is outside the characters a message may hold (Amazon SQS message quotas, "Message content").
        {"Id": "bad-1", "MessageBody": "bad \x01 body", "MessageGroupId": "A", "MessageDeduplicationId": "d1"},
        {"Id": "ok-2", "MessageBody": "third", "MessageGroupId": "A", "MessageDeduplicationId": "d2"},
    ]
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=entries)
    assert sorted(e["Id"] for e in resp["Successful"]) == ["ok-0", "ok-2"]
    (failed,) = resp["Failed"]
    assert failed["Id"] == "bad-1" and failed["SenderFault"] is True
    assert failed["Code"] == "InvalidMessageContents"
    got = receive_until(sqs, q.url, has("first", "third"), delete=True)
    assert bodies(got) == ["first", "third"]


def test_delete_message_batch_reports_a_bad_receipt_handle_and_deletes_the_rest(
    target: Target, resources: Resources
) -> None:
    """DeleteMessageBatch (Amazon SQS API Reference; each deletion is reported individually):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html
    The worker's deleter counts a SenderFault failure (ReceiptHandleIsInvalid) as done and retries the others."""
    sqs, q = target.client("sqs"), resources.queue(visibility=1)
    for body in ("m0", "m1"):
        send(sqs, q.url, body, body)  # two groups: both arrive in one receive
    got = receive_until(sqs, q.url, lambda got: len({m["MessageId"] for m in got}) >= 2, visibility=1)
    latest = list({m["MessageId"]: m for m in got}.values())  # the newest receipt handle of each
    entries = [
        {"Id": "0", "ReceiptHandle": latest[0]["ReceiptHandle"]},
        {"Id": "bad", "ReceiptHandle": "not-a-receipt-handle"},
        {"Id": "1", "ReceiptHandle": latest[1]["ReceiptHandle"]},
    ]
    resp = sqs.delete_message_batch(QueueUrl=q.url, Entries=entries)
    assert sorted(e["Id"] for e in resp["Successful"]) == ["0", "1"]
    (failed,) = resp["Failed"]
    assert failed["Id"] == "bad" and failed["SenderFault"] is True
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    # Deleted for good: nothing comes back after the 1 s visibility timeout.
    assert receive_until(sqs, q.url, bool, timeout=2.5) == []


def test_change_message_visibility_batch_reports_a_bad_receipt_handle(target: Target, resources: Resources) -> None:
    """ChangeMessageVisibilityBatch (Amazon SQS API Reference; results per entry):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html
    The heartbeat and the release log each failed entry and go on with the rest."""
    sqs, q = target.client("sqs"), resources.queue()
    send(sqs, q.url, "m0", "A")
    (m,) = receive_until(sqs, q.url, bool, visibility=30)
    resp = sqs.change_message_visibility_batch(
        QueueUrl=q.url,
        Entries=[
            {"Id": "bad", "ReceiptHandle": "not-a-receipt-handle", "VisibilityTimeout": 0},
            {"Id": "0", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0},
        ],
    )
    assert [e["Id"] for e in resp["Successful"]] == ["0"]
    assert [e["Id"] for e in resp["Failed"]] == ["bad"]
    assert bodies(receive(sqs, q.url, wait=1)) == ["m0"]


def test_get_queue_attributes_for_the_worker_start(target: Target, resources: Resources) -> None:
    """GetQueueAttributes (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
    The worker reads VisibilityTimeout and FifoQueue and refuses a queue that is not FIFO."""
    sqs = target.client("sqs")
    fifo, standard = resources.queue(visibility=45), resources.queue(fifo=False, visibility=45)
    attrs = sqs.get_queue_attributes(QueueUrl=fifo.url, AttributeNames=["VisibilityTimeout", "FifoQueue"])
    assert attrs["Attributes"] == {"VisibilityTimeout": "45", "FifoQueue": "true"}
    attrs = sqs.get_queue_attributes(QueueUrl=standard.url, AttributeNames=["VisibilityTimeout", "FifoQueue"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "45"
    assert attrs["Attributes"].get("FifoQueue") != "true"


def test_get_queue_attributes_of_a_missing_queue_is_a_fatal_error(target: Target, resources: Resources) -> None:
    """GetQueueAttributes, Errors: QueueDoesNotExist (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
    The worker exits at once (FATAL_QUEUE_ERRORS) instead of waiting for a queue that is not there."""
    sqs, q = target.client("sqs"), resources.queue()
    missing = q.url.rsplit("/", 1)[0] + f"/{uuid.uuid4().hex}-missing.fifo"
    with pytest.raises(ClientError) as err:
        sqs.get_queue_attributes(QueueUrl=missing, AttributeNames=["VisibilityTimeout", "FifoQueue"])
    assert err.value.response["Error"]["Code"] in FATAL_QUEUE_ERRORS


def test_get_queue_attributes_depth_and_arn_for_dlq_triage(target: Target, resources: Resources) -> None:
    """GetQueueAttributes: ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible, QueueArn
    (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
    `ops dlq-triage` reports the DLQ's depth (visible + in flight) and checks the redrive target by its ARN."""
    sqs, q = target.client("sqs"), resources.queue()
    for group in ("A", "B", "C"):
        send(sqs, q.url, group, group)
    receive_until(sqs, q.url, bool, max_messages=1, visibility=30)

    def depth() -> tuple[int, int]:
        attrs = sqs.get_queue_attributes(
            QueueUrl=q.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    wait_until(lambda: depth() == (2, 1), 60 if target.is_aws else 5, "2 visible and 1 in flight")
    arn = sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:{target.region}:{target.account_id}:{q.url.rsplit('/', 1)[1]}"


def test_receive_message_with_the_worker_parameters(target: Target, resources: Resources) -> None:
    """ReceiveMessage (Amazon SQS API Reference: MessageSystemAttributeNames, VisibilityTimeout, WaitTimeSeconds,
    ReceiveRequestAttemptId):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
    The worker asks for exactly SYSTEM_ATTRIBUTES and needs each of them on every message."""
    sqs, q = target.client("sqs"), resources.queue()
    sent = send(sqs, q.url, "order", "G-1", dedup="dedup-1")
    resp = sqs.receive_message(
        QueueUrl=q.url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=1,
        VisibilityTimeout=30,
        MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
        ReceiveRequestAttemptId=uuid.uuid4().hex,
    )
    (m,) = resp["Messages"]
    assert m["MessageId"] == sent["MessageId"] and m["Body"] == "order"
    assert m["Attributes"] == {
        "MessageGroupId": "G-1",
        "SequenceNumber": sent["SequenceNumber"],
        "ApproximateReceiveCount": "1",
        "MessageDeduplicationId": "dedup-1",
    }


ATTEMPT_ID_IGNORED = "ReceiveRequestAttemptId is ignored: the retried receive gets nothing, its group is in flight"


@pytest.mark.known_difference("ministack", reason=ATTEMPT_ID_IGNORED)
@pytest.mark.known_difference("moto", reason=ATTEMPT_ID_IGNORED)
def test_receive_retried_with_the_same_attempt_id_returns_the_same_messages(
    target: Target, resources: Resources
) -> None:
    """Using the Amazon SQS receive request attempt ID:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-receiverequestattemptid-request-parameter.html
    and ReceiveMessage, ReceiveRequestAttemptId ("during a visibility timeout, subsequent calls with the same
    ReceiveRequestAttemptId return the same messages and receipt handles"). The worker sends one per receive so
    that botocore's retry of a receive whose response was lost gets those messages instead of leaving them in
    flight, holding their groups, until the visibility timeout."""
    sqs, q = target.client("sqs"), resources.queue()
    for i in range(3):
        send(sqs, q.url, f"A{i}", "A")
    attempt = uuid.uuid4().hex
    first = receive_until(sqs, q.url, bool, visibility=30, ReceiveRequestAttemptId=attempt)
    assert first
    retried = receive(sqs, q.url, wait=1, visibility=30, ReceiveRequestAttemptId=attempt)
    assert [m["MessageId"] for m in retried] == [m["MessageId"] for m in first]
    assert [m["ReceiptHandle"] for m in retried] == [m["ReceiptHandle"] for m in first]


def test_receive_message_with_all_attributes_for_the_poller_and_triage(target: Target, resources: Resources) -> None:
    """ReceiveMessage with MessageSystemAttributeNames=["All"] and MessageAttributeNames=["All"]
    (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
    The poller turns messages into Lambda records (SentTimestamp, ApproximateReceiveCount, message attributes);
    `ops dlq-triage` reads MessageGroupId, MessageDeduplicationId, SentTimestamp and the message attributes."""
    sqs, q = target.client("sqs"), resources.queue()
    attributes = {"source": {"DataType": "String", "StringValue": "conformance"}}
    send(sqs, q.url, "order", "G-1", dedup="dedup-1", MessageAttributes=attributes)
    (m,) = receive_until(sqs, q.url, bool, visibility=30)
    system = m["Attributes"]
    assert system["MessageGroupId"] == "G-1" and system["MessageDeduplicationId"] == "dedup-1"
    assert system["ApproximateReceiveCount"] == "1"
    assert int(system["SentTimestamp"]) > 0 and int(system["ApproximateFirstReceiveTimestamp"]) > 0
    assert m["MessageAttributes"] == attributes


def test_send_message_redrive_keeps_the_group_and_attributes(target: Target, resources: Resources) -> None:
    """SendMessage with MessageGroupId, MessageDeduplicationId and MessageAttributes (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    and DeleteMessage: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html
    `ops dlq-triage --redrive` sends a DLQ message to the source queue with its body, message attributes and
    group and a deduplication id of its own (`redrive_dedup_id`), then deletes it from the DLQ."""
    sqs, q = target.client("sqs"), resources.queue(dlq=True)
    attributes = {"source": {"DataType": "String", "StringValue": "producer"}}
    send(sqs, q.dlq_url, "stuck order", "G-7", dedup="order-7", MessageAttributes=attributes)
    (m,) = receive_until(sqs, q.dlq_url, bool, visibility=2)
    dedup = redrive_dedup_id("order-7", m["MessageId"])
    resent = sqs.send_message(
        QueueUrl=q.url,
        MessageBody=m["Body"],
        MessageAttributes=m["MessageAttributes"],
        MessageGroupId=attr(m, "MessageGroupId"),
        MessageDeduplicationId=dedup,
    )
    assert resent["MessageId"]
    sqs.delete_message(QueueUrl=q.dlq_url, ReceiptHandle=m["ReceiptHandle"])
    (back,) = receive_until(sqs, q.url, bool, visibility=30)
    assert back["Body"] == "stuck order" and back["MessageAttributes"] == attributes
    assert (attr(back, "MessageGroupId"), attr(back, "MessageDeduplicationId")) == ("G-7", dedup)
    # Deleted from the DLQ: it does not come back when the 2 s it was held for are over.
    assert receive_until(sqs, q.dlq_url, bool, timeout=3) == []


def test_change_message_visibility_sets_the_poller_retry_delay(target: Target, resources: Resources) -> None:
    """ChangeMessageVisibility (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
    The fan-out poller (`--retry-delay`) makes a failed message visible again that soon instead of after the
    queue's timeout (standard queue)."""
    sqs, q = target.client("sqs"), resources.queue(fifo=False, visibility=60)
    send(sqs, q.url, "invoice event")
    (m,) = receive_until(sqs, q.url, bool)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=1)
    again = receive_until(sqs, q.url, bool, timeout=5)
    assert bodies(again) == ["invoice event"]
    assert attr(again[0], "ApproximateReceiveCount") == "2"


@pytest.mark.known_difference(
    "ministack",
    reason="ListDeadLetterSourceQueues is not implemented (ops dlq-triage --source-queue-url names it instead)",
)
def test_list_dead_letter_source_queues(target: Target, resources: Resources) -> None:
    """ListDeadLetterSourceQueues (Amazon SQS API Reference):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListDeadLetterSourceQueues.html
    `ops dlq-triage --redrive` without --source-queue-url redrives into the DLQ's only source queue."""
    sqs, q = target.client("sqs"), resources.queue(dlq=True)
    sources = sqs.list_dead_letter_source_queues(QueueUrl=q.dlq_url)
    assert sources["queueUrls"] == [q.url]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    assert redrive["deadLetterTargetArn"] == q.dlq_arn
