"""SNS: topics, topic policies and subscriptions."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from offline.provision.base import (
    NOT_FOUND,
    PARTITION,
    Creation,
    Deletion,
    Outputs,
    ResourceType,
    arn,
    as_bool,
    error_code,
    json_document,
    take,
)

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

TOPIC_ATTRIBUTES = {
    "kmsMasterKeyId": "KmsMasterKeyId",
    "fifoTopic": "FifoTopic",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "displayName": "DisplayName",
    "policy": "Policy",
    "deliveryPolicy": "DeliveryPolicy",
}
SUBSCRIPTION_ATTRIBUTES = {
    "rawMessageDelivery": "RawMessageDelivery",
    "filterPolicy": "FilterPolicy",
    "filterPolicyScope": "FilterPolicyScope",
    "redrivePolicy": "RedrivePolicy",
    "deliveryPolicy": "DeliveryPolicy",
}


def _attributes(inputs: Outputs, names: dict[str, str]) -> dict[str, str]:
    return {names[k]: (as_bool(v) if isinstance(v, bool) else str(v)) for k, v in inputs.items() if k in names}


def topic_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    topic_arn = arn("sns", region, name, account=account)
    return topic_arn, {"arn": topic_arn}


def create_topic(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {*TOPIC_ATTRIBUTES, "name", "tags"}, ctx.what)
    tags = [{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()]
    attributes = _attributes(inputs, TOPIC_ATTRIBUTES)
    topic_arn = ctx.client("sns").create_topic(Name=inputs["name"], Attributes=attributes, Tags=tags)["TopicArn"]
    return topic_arn, {"arn": topic_arn, "name": inputs["name"]}


def create_topic_policy(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"arn", "policy"}, ctx.what)
    json_document(inputs["policy"], ctx.what)
    ctx.client("sns").set_topic_attributes(
        TopicArn=inputs["arn"], AttributeName="Policy", AttributeValue=inputs["policy"]
    )
    return inputs["arn"], {"owner": ctx.account}


def create_subscription(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {*SUBSCRIPTION_ATTRIBUTES, "topic", "protocol", "endpoint"}, ctx.what)
    subscription_arn = ctx.client("sns").subscribe(
        TopicArn=inputs["topic"],
        Protocol=inputs["protocol"],
        Endpoint=inputs["endpoint"],
        Attributes=_attributes(inputs, SUBSCRIPTION_ATTRIBUTES),
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return subscription_arn, {"arn": subscription_arn}


def topic_arn(ctx: Deletion, name: str) -> str:
    """A topic's ARN from its name, in the emulator's account."""
    return f"arn:{PARTITION}:sns:{ctx.region}:{ctx.clients.account(ctx.region)}:{name}"


def subscription_arns(ctx: Deletion) -> list[str]:
    """The emulator's subscriptions of the resource's endpoint to its topic (by the topic's name)."""
    topic_name = str(ctx.inputs["topic"]).rsplit(":", 1)[-1]
    try:
        found = ctx.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn(ctx, topic_name))["Subscriptions"]
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return []
        raise
    return [str(s["SubscriptionArn"]) for s in found if s["Endpoint"] == ctx.inputs["endpoint"]]


def delete_topic(ctx: Deletion) -> tuple[str, str]:
    found = topic_arn(ctx, ctx.inputs["name"])
    ctx.client("sns").delete_topic(TopicArn=found)  # idempotent in SNS
    return found, "deleted"


def delete_topic_policy(ctx: Deletion) -> tuple[str, str]:
    # The provider writes the topic's default policy back; the topic itself goes next.
    return ctx.inputs["arn"], "policy reset with the topic"


def delete_subscription(ctx: Deletion) -> tuple[str, str]:
    arns = subscription_arns(ctx)
    for found in arns:
        ctx.client("sns").unsubscribe(SubscriptionArn=found)
    return (arns[0] if arns else ctx.inputs["endpoint"]), ("unsubscribed" if arns else "already gone")


def remaining_subscriptions(ctx: Deletion) -> list[str]:
    """Every subscription of the resource's endpoint to its topic, the topic gone or not."""
    topic_name = str(ctx.inputs["topic"]).rsplit(":", 1)[-1]
    found: list[dict[str, Any]] = ctx.client("sns").list_subscriptions()["Subscriptions"]
    return [
        str(s["SubscriptionArn"])
        for s in found
        if s["Endpoint"] == ctx.inputs["endpoint"] and s["TopicArn"].rsplit(":", 1)[-1] == topic_name
    ]


def remaining_topic(ctx: Deletion) -> list[str]:
    found = topic_arn(ctx, ctx.inputs["name"])
    topics: list[dict[str, Any]] = ctx.client("sns").list_topics()["Topics"]
    return [found] if any(t["TopicArn"] == found for t in topics) else []


TYPES = (
    ResourceType(
        TOPIC, outputs=topic_outputs, create=create_topic, delete=delete_topic, kind="topics", remaining=remaining_topic
    ),
    ResourceType(TOPIC_POLICY, create=create_topic_policy, delete=delete_topic_policy),
    ResourceType(
        SUBSCRIPTION,
        create=create_subscription,
        delete=delete_subscription,
        kind="subscriptions",
        remaining=remaining_subscriptions,
    ),
)
