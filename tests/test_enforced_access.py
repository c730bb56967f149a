"""The denials the access matrix promises (docs/access-matrix.md), enforced by the emulator (AUTH=true) on
the roles the program creates, each assumed as the local run assumes it (simulation/roles.py): a consumer
cannot write the order table, a worker cannot receive from the shipping queue; each can do its own job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from offline.provision.provisioner import Provisioned, provision
from simulation.emulator import Emulator
from simulation.roles import ROLE_OF_WORKER, RoleProfiles, consumer_role

REGION = "us-east-1"
ORDER = {"OrderID": {"S": "o-enforced-1"}, "CustomerID": {"S": "CUST-00001"}}


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Provisioned:
    return provision(REGION, endpoint=emulator.endpoint, stack="enforced")


@pytest.fixture(scope="module")
def roles(stack: Provisioned, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleProfiles]:
    launcher = stack.launcher_credentials
    assert launcher is not None
    yield RoleProfiles.write(
        Path(tmp_path_factory.mktemp("aws")),
        launcher.access_key_id,
        launcher.secret_access_key,
        stack.role_arns,
        REGION,
    )


def client(roles: RoleProfiles, emulator: Emulator, role: str, service: str) -> Any:
    session = roles.session(roles.profile(f"test-{role}", role))
    return session.client(service, endpoint_url=emulator.endpoint)


def denied(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] in {"AccessDenied", "AccessDeniedException"}, error
    return str(error["Message"])


def test_every_process_acts_as_its_assumed_role(stack: Provisioned, roles: RoleProfiles, emulator: Emulator) -> None:
    for role in (ROLE_OF_WORKER, consumer_role("shipping"), consumer_role("analytics")):
        arn = client(roles, emulator, role, "sts").get_caller_identity()["Arn"]
        assert arn.endswith(f":assumed-role/{stack.role_arns[role].rsplit('/', 1)[1]}/test-{role}")


def test_a_consumer_cannot_write_the_order_table(stack: Provisioned, roles: RoleProfiles, emulator: Emulator) -> None:
    table = stack.exports["orderTableName"]
    shipping = client(roles, emulator, consumer_role("shipping"), "dynamodb")
    message = denied(shipping.put_item, TableName=table, Item=ORDER)
    assert "dynamodb:PutItem" in message and "shipping-consumer" in message
    worker = client(roles, emulator, ROLE_OF_WORKER, "dynamodb")
    worker.put_item(TableName=table, Item=ORDER, ConditionExpression="attribute_not_exists(OrderID)")


def test_a_worker_cannot_receive_from_the_shipping_queue(
    stack: Provisioned, roles: RoleProfiles, emulator: Emulator
) -> None:
    shipping_queue = stack.exports["fanoutQueueUrls"]["shipping"]
    worker = client(roles, emulator, ROLE_OF_WORKER, "sqs")
    assert "sqs:ReceiveMessage" in denied(worker.receive_message, QueueUrl=shipping_queue)
    consumer = client(roles, emulator, consumer_role("shipping"), "sqs")
    consumer.receive_message(QueueUrl=shipping_queue, WaitTimeSeconds=0)
    analytics = client(roles, emulator, consumer_role("analytics"), "sqs")
    assert "sqs:ReceiveMessage" in denied(analytics.receive_message, QueueUrl=shipping_queue)


def test_a_worker_cannot_send_to_its_own_queue(stack: Provisioned, roles: RoleProfiles, emulator: Emulator) -> None:
    """The worker consumes the order queue; only producers (the intake, clients) send to it."""
    worker = client(roles, emulator, ROLE_OF_WORKER, "sqs")
    body = json.dumps({"OrderID": "o-x"})
    queue = stack.exports["orderQueueUrl"]
    assert "sqs:SendMessage" in denied(
        worker.send_message, QueueUrl=queue, MessageBody=body, MessageGroupId="g", MessageDeduplicationId="d"
    )


def _depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def _delivered(sqs: Any, url: str, act: Any) -> int:
    before = _depth(sqs, url)
    act()
    time.sleep(1.5)  # S3 -> SNS -> SQS runs beside the request in the emulator
    return _depth(sqs, url) - before


def test_service_deliveries_pass_the_programs_resource_policies_and_only_them(emulator: Emulator) -> None:
    """S3 -> SNS and SNS -> SQS are evaluated against the topic and queue policies the program writes, with
    their aws:SourceArn / aws:SourceAccount conditions: the program's own let the events through; the same
    policy naming another bucket or topic stops them (checked on a stack of its own: it rewrites policies)."""
    stack = provision(REGION, endpoint=emulator.endpoint, stack="delivery")
    s3, sqs, sns = emulator.client("s3"), emulator.client("sqs"), emulator.client("sns")
    bucket, topic = stack.exports["invoicesBucketName"], stack.exports["orderEventsTopicArn"]
    queue = stack.exports["fanoutQueueUrls"]["shipping"]

    def upload(key: str) -> Any:
        return lambda: s3.put_object(Bucket=bucket, Key=f"invoices/{key}.json", Body=b"{}")

    assert _delivered(sqs, queue, upload("a")) == 1, "the program's policies let S3 -> SNS -> SQS through"
    program_topic_policy = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    other_bucket = program_topic_policy.replace(f"arn:aws:s3:::{bucket}", "arn:aws:s3:::some-other-bucket")
    assert other_bucket != program_topic_policy
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=other_bucket)
    assert _delivered(sqs, queue, upload("b")) == 0, "a topic policy for another bucket refuses this one's events"

    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=program_topic_policy)
    program_queue_policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]["Policy"]
    other_topic = program_queue_policy.replace(topic, f"{topic}-other")
    assert other_topic != program_queue_policy
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": other_topic})
    assert _delivered(sqs, queue, upload("c")) == 0, "a queue policy for another topic refuses this one's messages"
