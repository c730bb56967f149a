"""The emulator child process and its depth patch: same SQS semantics, counts that stay right."""

from __future__ import annotations

import http.client
import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from simulation.emulator import running_emulator
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


def test_emulator_keeps_connections_alive_and_boto3_reuses_them() -> None:
    with emulator_process() as emulator:
        host, port = emulator.endpoint.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        answers = []
        for _ in range(2):  # two requests on one connection: werkzeug's server answered only the first
            conn.request("GET", "/moto-api/data.json")
            response = conn.getresponse()
            answers.append((response.status, response.getheader("Connection"), json.loads(response.read())))
            sock = conn.sock
            assert sock is not None  # http.client drops the socket when the server says it closes
        assert [(status, connection) for status, connection, _ in answers] == [(200, None), (200, None)]
        assert all("sqs" in data for _, _, data in answers)
        conn.close()

        sqs = boto3.client("sqs", endpoint_url=emulator.endpoint, region_name=emulator.region)
        for i in range(5):
            sqs.create_queue(QueueName=f"reuse-{i}")
        assert len(sqs.list_queues()["QueueUrls"]) == 5
        pool = sqs._endpoint.http_session._manager.connection_from_url(emulator.endpoint)
        assert (pool.num_requests, pool.num_connections) == (6, 1)  # six calls, one TCP connection


def test_stop_cuts_kept_connections_and_start_serves_the_same_state() -> None:
    with running_emulator(export_env=False) as emulator:
        sqs = boto3.client(
            "sqs", endpoint_url=emulator.endpoint, region_name=emulator.region,
            config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5),
        )  # fmt: skip
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="before")
        emulator.stop()
        with pytest.raises(EndpointConnectionError):  # the kept-alive connection was cut, new ones refused
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        emulator.start()
        body = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"]
        assert body == "before"
