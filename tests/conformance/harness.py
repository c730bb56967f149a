"""The conformance suite's plumbing: the target under test, clients for it, uniquely named resources, SQS helpers.

A target is MiniStack started here, an emulator someone runs (a URL), or real AWS (`aws`). Every test builds
its clients from the target (never from exported environment variables) and creates its own resources with
names unique to the run, so the same test runs against all of them; `Resources.close` deletes what a test
created, which matters against real AWS.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests
from botocore.config import Config

from simulation.emulator import Emulator
from worker.topology import MAX_RECEIVE_COUNT

TARGETS = ("ministack", "moto", "localstack", "aws")
"""What a `known_difference` mark may name; `unknown` (an emulator none of the probes recognise) has no marks."""

PROBES = (
    # MiniStack also answers LocalStack's health path, so it is asked first.
    ("ministack", "/_ministack/health"),
    ("localstack", "/_localstack/health"),
    ("moto", "/moto-api/"),
)

BASE_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})


def detect(endpoint: str) -> str:
    """Which emulator answers at `endpoint`: the first whose own health path answers 200, else `unknown`."""
    for name, path in PROBES:
        try:
            if requests.get(endpoint.rstrip("/") + path, timeout=5).status_code == 200:
                return name
        except requests.RequestException:
            continue
    return "unknown"


@dataclass
class Target:
    """The service endpoint under test and a cached client per service for it."""

    name: str
    region: str
    account_id: str
    emulator: Emulator | None = None
    """None for real AWS (default credentials and endpoints)."""
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_aws(self) -> bool:
        return self.emulator is None

    @property
    def settle_seconds(self) -> float:
        """How long an asynchronous effect (an S3 event reaching a queue, an instance changing state) may take."""
        return 300.0 if self.is_aws else 10.0

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self.emulator is None:
                self._clients[service] = boto3.session.Session().client(
                    service, region_name=self.region, config=BASE_CONFIG
                )
            else:  # emulators serve S3 on one host: path-style addressing
                config = BASE_CONFIG.merge(Config(s3={"addressing_style": "path"}))
                self._clients[service] = self.emulator.client(service, config=config)
        return self._clients[service]


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str
    dlq_url: str = ""
    dlq_arn: str = ""


class Resources:
    """Uniquely named resources for one test, created like the program creates them, deleted at the end."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.prefix = f"ocf-{uuid.uuid4().hex[:10]}"
        self._count = 0
        self._cleanups: list[tuple[str, Callable[[], object]]] = []

    def name(self, what: str) -> str:
        self._count += 1
        return f"{self.prefix}-{what}{self._count}"

    def defer(self, what: str, cleanup: Callable[[], object]) -> None:
        self._cleanups.append((what, cleanup))

    def close(self) -> list[str]:
        """Run every cleanup, newest first; returns what could not be deleted."""
        failed = []
        while self._cleanups:
            what, cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception as exc:
                failed.append(f"{what}: {exc}")
        return failed

    # SQS ------------------------------------------------------------------
    def _create_queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        sqs = self.target.client("sqs")
        url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
        self.defer(f"queue {url}", lambda: sqs.delete_queue(QueueUrl=url))
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, str(arn)

    def queue(
        self, *, fifo: bool = True, visibility: int = 30, dlq: bool = False, high_throughput: bool = False
    ) -> Queue:
        """A queue as components/queue.py makes one: SSE-SQS; FIFO with explicit deduplication ids; with `dlq`,
        a dead-letter queue of the same kind after MAX_RECEIVE_COUNT receives that only this queue may use."""
        suffix = ".fifo" if fifo else ""
        base = self.name("q")
        attributes = {"VisibilityTimeout": str(visibility), "SqsManagedSseEnabled": "true"}
        if fifo:
            attributes |= {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        if high_throughput:
            attributes |= {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
        if not dlq:
            url, arn = self._create_queue(base + suffix, attributes)
            return Queue(url, arn)
        dlq_url, dlq_arn = self._create_queue(f"{base}-dlq{suffix}", attributes)
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
        url, arn = self._create_queue(base + suffix, attributes | {"RedrivePolicy": redrive})
        allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
        self.target.client("sqs").set_queue_attributes(QueueUrl=dlq_url, Attributes={"RedriveAllowPolicy": allow})
        return Queue(url, arn, dlq_url, dlq_arn)

    # DynamoDB ---------------------------------------------------------------
    def table(self, key: str) -> str:
        """An on-demand table with string partition key `key`, once it is ACTIVE."""
        ddb = self.target.client("dynamodb")
        name = self.name("t")
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.defer(f"table {name}", lambda: ddb.delete_table(TableName=name))
        wait_until(
            lambda: ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE",
            self.target.settle_seconds,
            f"table {name} ACTIVE",
        )
        return name

    # S3 -----------------------------------------------------------------------
    def bucket(self, *, versioned: bool = False) -> str:
        s3 = self.target.client("s3")
        name = self.name("b").lower()
        params: dict[str, Any] = {"Bucket": name}
        if self.target.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.target.region}
        s3.create_bucket(**params)
        self.defer(f"bucket {name}", lambda: empty_and_delete_bucket(s3, name))
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    # SNS ----------------------------------------------------------------------
    def topic(self) -> str:
        sns = self.target.client("sns")
        arn = str(sns.create_topic(Name=self.name("topic"))["TopicArn"])
        self.defer(f"topic {arn}", lambda: sns.delete_topic(TopicArn=arn))
        return arn

    # Secrets Manager ------------------------------------------------------------
    def secret(self, value: str) -> str:
        sm = self.target.client("secretsmanager")
        arn = str(sm.create_secret(Name=self.name("secret"), SecretString=value)["ARN"])
        self.defer(f"secret {arn}", lambda: sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True))
        return arn


def empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# SQS helpers ------------------------------------------------------------------


def send(sqs: Any, url: str, body: str, group: str | None = None, dedup: str | None = None, **extra: Any) -> Any:
    params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body, **extra}
    if group is not None:
        params["MessageGroupId"] = group
        params["MessageDeduplicationId"] = dedup if dedup is not None else uuid.uuid4().hex
    return sqs.send_message(**params)


def receive(
    sqs: Any, url: str, *, max_messages: int = 10, wait: int = 1, visibility: int | None = None, **extra: Any
) -> list[dict[str, Any]]:
    """One ReceiveMessage with every system and message attribute."""
    params: dict[str, Any] = {
        "QueueUrl": url,
        "MaxNumberOfMessages": max_messages,
        "WaitTimeSeconds": wait,
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
        **extra,
    }
    if visibility is not None:
        params["VisibilityTimeout"] = visibility
    return list(sqs.receive_message(**params).get("Messages", []))


def receive_until(
    sqs: Any,
    url: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 10.0,
    delete: bool = False,
    **receive_args: Any,
) -> list[dict[str, Any]]:
    """Receive (deleting each batch with `delete`) until `done(everything received so far)` or `timeout`;
    `done=bool` stops at the first receive that returns anything."""
    got: list[dict[str, Any]] = []
    end = time.monotonic() + timeout
    while not done(got) and time.monotonic() < end:
        batch = receive(sqs, url, **receive_args)
        got += batch
        if delete and batch:
            delete_messages(sqs, url, batch)
    return got


def delete_messages(sqs: Any, url: str, messages: Iterable[dict[str, Any]]) -> None:
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    for start in range(0, len(entries), 10):
        failed = sqs.delete_message_batch(QueueUrl=url, Entries=entries[start : start + 10]).get("Failed", [])
        assert failed == [], failed


def bodies(messages: Iterable[dict[str, Any]]) -> list[str]:
    return [str(m["Body"]) for m in messages]


def attr(message: dict[str, Any], name: str) -> str:
    return str(message.get("Attributes", {}).get(name, ""))


def has(*wanted: str) -> Callable[[list[dict[str, Any]]], bool]:
    """`receive_until` condition: every body in `wanted` has been received."""
    return lambda got: set(wanted) <= set(bodies(got))
