"""IAM as the local run relies on it: a process works with assumed-role credentials, allowed exactly its
role's actions, and SQS batch calls are authorized by their single action (the runtime deletes, releases
and redrives in batches, while the program's policies name only the single actions)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conformance.harness import BASE_CONFIG, Resources, Target, wait_until

NOT_ENFORCED = "IAM is not enforced: any credentials may call anything"


def assumed(target: Target, resources: Resources, actions: list[str], resource: str) -> Any:
    """An SQS client with the credentials of a new role allowed `actions` on `resource` (trusted by the account)."""
    iam, sts = target.client("iam"), target.client("sts")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{target.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = resources.name("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    resources.defer(
        f"role {name}", lambda: (iam.delete_role_policy(RoleName=name, PolicyName="p"), iam.delete_role(RoleName=name))
    )
    got: dict[str, Any] = {}

    def assume() -> bool:  # a new role takes a few seconds to become assumable on AWS
        try:
            got.update(sts.assume_role(RoleArn=arn, RoleSessionName="conformance")["Credentials"])
            return True
        except ClientError:
            return False

    wait_until(assume, target.settle_seconds, f"role {name} assumable")
    session = boto3.session.Session(
        aws_access_key_id=got["AccessKeyId"],
        aws_secret_access_key=got["SecretAccessKey"],
        aws_session_token=got["SessionToken"],
        region_name=target.region,
    )
    endpoint = target.emulator.endpoint if target.emulator else None
    return session.client("sqs", endpoint_url=endpoint, config=BASE_CONFIG)


@pytest.mark.known_difference(
    "ministack",
    reason="batch calls are authorized by their own name (sqs:SendMessageBatch, sqs:DeleteMessageBatch), which no "
    "AWS policy can grant; the provisioner adds those names to the emulator's copy of each policy (local-only)",
)
def test_a_batch_call_is_authorized_by_its_single_action(target: Target, resources: Resources) -> None:
    """Amazon SQS Developer Guide, Amazon SQS batch actions ("setting permissions for SendMessage,
    DeleteMessage, or ChangeMessageVisibility sets permissions for the corresponding batch versions"):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html"""
    q = resources.queue(fifo=False)
    sqs = assumed(target, resources, ["sqs:SendMessage", "sqs:DeleteMessage", "sqs:ReceiveMessage"], q.arn)
    sent = sqs.send_message_batch(
        QueueUrl=q.url, Entries=[{"Id": "1", "MessageBody": "a"}, {"Id": "2", "MessageBody": "b"}]
    )
    assert len(sent["Successful"]) == 2
    got = sqs.receive_message(QueueUrl=q.url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    deleted = sqs.delete_message_batch(
        QueueUrl=q.url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    assert len(deleted["Successful"]) == len(got) >= 1


@pytest.mark.known_difference("moto", reason=NOT_ENFORCED)
def test_assumed_role_credentials_are_refused_what_the_role_lacks(target: Target, resources: Resources) -> None:
    """IAM User Guide, Policy evaluation logic ("by default, all requests are implicitly denied"):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    The local run's proof of least privilege: a worker denied what its role does not grant."""
    q = resources.queue(fifo=False)
    sqs = assumed(target, resources, ["sqs:SendMessage"], q.arn)
    sqs.send_message(QueueUrl=q.url, MessageBody="allowed")
    with pytest.raises(ClientError) as denied:
        sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=0)
    assert denied.value.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}
    assert "sqs:ReceiveMessage" in denied.value.response["Error"]["Message"]
