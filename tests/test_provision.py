"""Provisioning the emulator from the Pulumi program: what the program declares is what moto runs."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pulumi
import pytest

from offline.graph import run_program
from offline.mocks import ACCOUNT_ID
from offline.provision.provisioner import EMULATED_TYPES, EmulatorMocks, Provisioned, ProvisionError, provision
from simulation.emulator import Emulator
from worker import topology

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def emulator_region() -> str:
    return REGION


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Provisioned:
    return provision(REGION, endpoint=emulator.endpoint, stack="prov")


def sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def attributes(url: str) -> dict[str, str]:
    return sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_exports_are_the_emulators_real_urls(stack: Provisioned, emulator: Emulator) -> None:
    exports = stack.exports
    assert exports["orderQueueUrl"].startswith(emulator.endpoint + f"/{ACCOUNT_ID}/")
    assert exports["orderQueueUrl"].endswith(topology.FIFO_SUFFIX)
    assert attributes(exports["orderQueueUrl"])["QueueArn"] == exports["orderQueueArn"]
    names = {u.rsplit("/", 1)[1] for u in sqs().list_queues()["QueueUrls"]}
    assert len([q for q in stack.graph.of_type("aws:sqs/queue:Queue")]) == len(names) == 6
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=exports["orderTableName"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": topology.TABLE_KEY, "KeyType": "HASH"}]
    boto3.client("s3", region_name=REGION).head_bucket(Bucket=exports["invoicesBucketName"])


def test_every_work_queue_has_the_programs_redrive_policy_read_back_from_the_emulator(stack: Provisioned) -> None:
    work = [stack.exports["orderQueueUrl"], *stack.exports["fanoutQueueUrls"].values()]
    assert len(work) == 3
    for url in work:
        attrs = attributes(url)
        policy = json.loads(attrs["RedrivePolicy"])
        assert policy["maxReceiveCount"] == topology.MAX_RECEIVE_COUNT == 3
        dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[1]
        dlq = attributes(sqs().get_queue_url(QueueName=dlq_name)["QueueUrl"])
        assert dlq["QueueArn"] == policy["deadLetterTargetArn"]
        assert dlq_name.removesuffix(topology.FIFO_SUFFIX).endswith(topology.DLQ_SUFFIX)
        assert dlq.get("FifoQueue", "false") == attrs.get("FifoQueue", "false"), "a DLQ is the kind of its queue"
    fifo = attributes(stack.exports["orderQueueUrl"])
    assert fifo["FifoQueue"] == "true"
    assert fifo["DeduplicationScope"] == "messageGroup"
    assert fifo["FifoThroughputLimit"] == "perMessageGroupId"
    assert json.loads(fifo["RedrivePolicy"])["deadLetterTargetArn"].endswith("-dlq.fifo")


def test_the_program_settings_reach_the_emulator(stack: Provisioned) -> None:
    visibility = stack.graph.one("aws:sqs/queue:Queue", topology.ORDER_QUEUE).inputs["visibilityTimeoutSeconds"]
    assert attributes(stack.exports["orderQueueUrl"])["VisibilityTimeout"] == str(int(visibility))
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.exports["invoicesBucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    # moto would apply the TLS-only Deny unconditionally (it ignores request context): recorded, not applied.
    assert ("aws:s3/bucketPolicy:BucketPolicy", topology.INVOICES_BUCKET) in {(t, n) for t, n, _ in stack.not_applied}
    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]
    assert len(alarms) == len(stack.graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
    assert {a["AlarmActions"][0] for a in alarms} == {stack.exports["alarmTopicArn"]}


def receive_all(url: str, want: int, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        for message in (
            sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        ):
            sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            if body.get("Event") != "s3:TestEvent":  # sent by S3 when the notification is configured
                got.append(body)
    return got


def test_an_invoice_under_the_prefix_reaches_every_fanout_queue_raw(stack: Provisioned) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.exports["invoicesBucketName"]
    s3.put_object(Bucket=bucket, Key="elsewhere/ignored.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key=f"{topology.INVOICE_PREFIX}order-1.json", Body=b"{}")
    queues = stack.exports["fanoutQueueUrls"]
    assert set(queues) == set(topology.FANOUT_QUEUES)
    for name, url in queues.items():
        events = receive_all(url, want=1)
        keys = [unquote_plus(r["s3"]["object"]["key"]) for e in events for r in e["Records"]]  # moto encodes "/"
        assert keys == [f"{topology.INVOICE_PREFIX}order-1.json"], name  # raw delivery: the S3 event itself
        assert events[0]["Records"][0]["s3"]["bucket"]["name"] == bucket
        assert receive_all(url, want=1, timeout=1.5) == [], f"{name}: the object outside the prefix leaked"


def test_aws_only_types_are_exactly_the_ones_the_emulator_does_not_run(stack: Provisioned) -> None:
    custom = [r for r in stack.graph.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    created = {(t, n) for t, n, _ in stack.created}
    assert created | set(stack.aws_only) == {(r.type, r.name) for r in custom}
    assert not created & set(stack.aws_only)
    assert not set(stack.aws_only_types()) & set(EMULATED_TYPES)
    assert {t for t, _ in created} >= {
        "aws:sqs/queue:Queue",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:s3/bucketNotification:BucketNotification",
        "aws:dynamodb/table:Table",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:apigateway/restApi:RestApi",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/stage:Stage",
    }
    if stack.graph.of_type("aws:ec2/vpc:Vpc"):  # the network tier: deployed to AWS only
        assert "aws:ec2/vpc:Vpc" in stack.aws_only_types()


def queue_args(**inputs: Any) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(
        typ="aws:sqs/queue:Queue", name="bad", inputs={"name": "bad-queue", **inputs}, provider="", custom=True
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"visibilityTimeout": 30}, "no emulator translation"),  # misspelt: the input is visibilityTimeoutSeconds
        ({"redrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:x", "maxReceiveCount": "3"'}, "not JSON"),
        ({"redrivePolicy": json.dumps({"deadLetterTargetArn": "arn:x", "maxRecieveCount": 3})}, "exactly"),
        ({"redrivePolicy": json.dumps({"deadLetterTargetArn": "q", "maxReceiveCount": 3})}, "not an ARN"),
        ({"redriveAllowPolicy": json.dumps({"redrivePermission": "byQueue"})}, "sourceQueueArns"),
        (
            {
                "redrivePolicy": json.dumps(
                    {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:missing", "maxReceiveCount": 3}
                )
            },
            "emulator refused",
        ),
    ],
)
def test_a_bad_queue_definition_fails_locally(emulator: Emulator, inputs: dict[str, Any], message: str) -> None:
    mocks = EmulatorMocks(False, endpoint=emulator.endpoint)
    with pytest.raises(ProvisionError, match=message):
        mocks.new_resource(queue_args(**inputs))


class CorruptRedrive(EmulatorMocks):
    """The real program, with the FIFO queue's redrive policy misspelt on its way to the emulator."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == "aws:sqs/queue:Queue" and "redrivePolicy" in args.inputs:
            args.inputs["redrivePolicy"] = args.inputs["redrivePolicy"].replace("maxReceiveCount", "maxReceives")
        return super().new_resource(args)


def test_a_provisioning_failure_fails_the_program_run(emulator: Emulator) -> None:
    config = {"orders:primaryRegion": REGION, "orders:failoverRegion": "eu-central-1"}
    with pytest.raises(ProvisionError, match="redrivePolicy must hold exactly"):
        run_program(config, stack="broken", mocks=lambda preview: CorruptRedrive(preview, endpoint=emulator.endpoint))
