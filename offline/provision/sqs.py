"""SQS: queues and queue policies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from offline.provision.base import (
    NOT_FOUND,
    Creation,
    Deletion,
    Outputs,
    ProvisionError,
    ResourceType,
    arn,
    as_bool,
    as_int,
    error_code,
    json_document,
    take,
)

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"

QUEUE_ATTRIBUTES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "fifoQueue": ("FifoQueue", as_bool),
    "contentBasedDeduplication": ("ContentBasedDeduplication", as_bool),
    "deduplicationScope": ("DeduplicationScope", str),
    "fifoThroughputLimit": ("FifoThroughputLimit", str),
    "delaySeconds": ("DelaySeconds", as_int),
    "maxMessageSize": ("MaximumMessageSize", as_int),
    "messageRetentionSeconds": ("MessageRetentionPeriod", as_int),
    "receiveWaitTimeSeconds": ("ReceiveMessageWaitTimeSeconds", as_int),
    "visibilityTimeoutSeconds": ("VisibilityTimeout", as_int),
    "redrivePolicy": ("RedrivePolicy", str),
    "redriveAllowPolicy": ("RedriveAllowPolicy", str),
    "policy": ("Policy", str),
    "sqsManagedSseEnabled": ("SqsManagedSseEnabled", as_bool),
    "kmsMasterKeyId": ("KmsMasterKeyId", str),
    "kmsDataKeyReusePeriodSeconds": ("KmsDataKeyReusePeriodSeconds", as_int),
}
"""Pulumi `aws.sqs.Queue` input -> SQS attribute name and value encoding."""
READ_BACK = ("VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "FifoQueue")
"""Attributes read back after creation: a setting the emulator silently ignored must not pass as applied."""


def queue_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    return url, {"arn": arn("sqs", region, name, account=account), "url": url}


def check_redrive_policy(text: str, what: str) -> dict[str, Any]:
    """The checks SQS makes on SetQueueAttributes(RedrivePolicy), done here because it is a JSON string."""
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise ProvisionError(f"{what}: redrivePolicy is not JSON: {exc}") from None
    if not isinstance(policy, dict) or set(policy) - {"deadLetterTargetArn", "maxReceiveCount"}:
        raise ProvisionError(f"{what}: redrivePolicy must hold exactly deadLetterTargetArn and maxReceiveCount: {text}")
    count = policy.get("maxReceiveCount")
    if not isinstance(count, int) or not 1 <= count <= 1000:
        raise ProvisionError(f"{what}: redrivePolicy maxReceiveCount must be an integer 1..1000, got {count!r}")
    if not str(policy.get("deadLetterTargetArn", "")).startswith("arn:"):
        raise ProvisionError(f"{what}: redrivePolicy deadLetterTargetArn is not an ARN: {text}")
    return policy


def check_redrive_allow_policy(text: str, what: str) -> None:
    """The SQS rules for RedriveAllowPolicy, applied here whatever the emulator checks."""
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise ProvisionError(f"{what}: redriveAllowPolicy is not JSON: {exc}") from None
    permission = policy.get("redrivePermission") if isinstance(policy, dict) else None
    if permission not in {"allowAll", "denyAll", "byQueue"}:
        raise ProvisionError(f"{what}: redriveAllowPolicy redrivePermission must be allowAll|denyAll|byQueue: {text}")
    sources = policy.get("sourceQueueArns", [])
    if (permission == "byQueue") != bool(sources) or len(sources) > 10:
        raise ProvisionError(f"{what}: sourceQueueArns (1..10) is required with byQueue and only with it: {text}")


def create_queue(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {*QUEUE_ATTRIBUTES, "name", "tags"}, ctx.what)
    attributes = {QUEUE_ATTRIBUTES[k][0]: QUEUE_ATTRIBUTES[k][1](v) for k, v in inputs.items() if k in QUEUE_ATTRIBUTES}
    if "RedrivePolicy" in attributes:
        check_redrive_policy(attributes["RedrivePolicy"], ctx.what)
    if "RedriveAllowPolicy" in attributes:
        check_redrive_allow_policy(attributes["RedriveAllowPolicy"], ctx.what)
    sqs = ctx.client("sqs")
    kwargs: dict[str, Any] = {"QueueName": inputs["name"], "Attributes": attributes}
    if inputs.get("tags"):
        kwargs["tags"] = dict(inputs["tags"])
    url = sqs.create_queue(**kwargs)["QueueUrl"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    for key in READ_BACK:
        if key in attributes and got.get(key) != attributes[key]:
            raise ProvisionError(f"{ctx.what}: asked {key}={attributes[key]}, emulator reports {got.get(key)}")
    return url, {"arn": got["QueueArn"], "url": url, "name": inputs["name"]}


def create_queue_policy(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"queueUrl", "policy"}, ctx.what)
    json_document(inputs["policy"], ctx.what)
    ctx.client("sqs").set_queue_attributes(QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]})
    return inputs["queueUrl"], {}


def queue_url(ctx: Deletion, name_or_url: str) -> str | None:
    """A queue's URL in the emulator from its name (or any URL ending in it), None when it does not exist."""
    try:
        url: str = ctx.client("sqs").get_queue_url(QueueName=name_or_url.rsplit("/", 1)[-1])["QueueUrl"]
        return url
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return None
        raise


def delete_queue(ctx: Deletion) -> tuple[str, str]:
    url = queue_url(ctx, ctx.inputs["name"])
    if url is None:
        return ctx.inputs["name"], "already gone"
    ctx.client("sqs").delete_queue(QueueUrl=url)
    return url, "deleted"


def delete_queue_policy(ctx: Deletion) -> tuple[str, str]:
    url = queue_url(ctx, ctx.inputs["queueUrl"])
    if url is None:
        return ctx.inputs["queueUrl"], "already gone"
    ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    return url, "policy removed"


def remaining_queue(ctx: Deletion) -> list[str]:
    url = queue_url(ctx, ctx.inputs["name"])
    return [url] if url else []


TYPES = (
    ResourceType(
        QUEUE,
        outputs=queue_outputs,
        create=create_queue,
        delete=delete_queue,
        kind="queues",
        remaining=remaining_queue,
    ),
    ResourceType(QUEUE_POLICY, create=create_queue_policy, delete=delete_queue_policy),
)
