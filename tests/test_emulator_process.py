"""The emulator child process and its depth patch: same SQS semantics, counts that stay right."""

from __future__ import annotations

import time

import boto3

from simulation.emulator_process import COUNT_TTL_MS, emulator_process


def counts(sqs: object, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_patched_emulator_keeps_fifo_dedup_and_counts() -> None:
    with emulator_process() as emulator:
        sqs = boto3.client("sqs", endpoint_url=emulator.endpoint, region_name=emulator.region)
        url = sqs.create_queue(QueueName="depth.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        for batch in range(10):
            entries = [
                {"Id": str(i), "MessageBody": f"m{batch}-{i}", "MessageGroupId": f"g{i % 3}",
                 "MessageDeduplicationId": f"d{batch}-{i}"}
                for i in range(10)
            ]  # fmt: skip
            assert len(sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]) == 10
        assert counts(sqs, url) == (100, 0)  # the length changed: no stale count
        again = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g0", MessageDeduplicationId="d3-4")
        assert again["MessageId"]  # accepted, and deduplicated as SQS does within 5 minutes
        assert counts(sqs, url) == (100, 0)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
        time.sleep(COUNT_TTL_MS / 1000 + 0.05)
        assert counts(sqs, url) == (100 - len(got), len(got))
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
        assert counts(sqs, url) == (100 - len(got), 0)  # within the reuse window: deletes leave in-flight first
        sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g9", MessageDeduplicationId="new")
        assert counts(sqs, url) == (101 - len(got), 0)  # and sends add visible ones

        cbd = sqs.create_queue(
            QueueName="cbd.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        )["QueueUrl"]
        for _ in range(2):
            sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
        assert counts(sqs, cbd) == (1, 0)
