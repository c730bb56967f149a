"""S3, SNS and DynamoDB behaviour the runtime relies on: the conditional invoice write, the invoice fan-out
(S3 -> SNS -> SQS, raw delivery, key prefix filter), the conditional order write, and every S3 and DynamoDB
call of worker/ and ops/ with the parameters they pass."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from tests.conformance.harness import Resources, Target, receive_until
from worker.topology import INVOICE_PREFIX, TABLE_KEY


def client_error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: dict[str, Any] = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# S3 ------------------------------------------------------------------------------


def test_put_object_if_none_match_refuses_an_existing_key(target: Target, resources: Resources) -> None:
    """How to prevent object overwrites with conditional writes (Amazon S3 User Guide):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
    (PutObject with If-None-Match: * answers 412 Precondition Failed when the key exists). The worker writes each
    invoice this way so that a retried or redelivered order creates no second object and no second fan-out."""
    s3 = target.client("s3")
    bucket = resources.bucket(versioned=True)  # as the program's invoice bucket
    key = f"{INVOICE_PREFIX}order-1.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"n": 1}', ContentType="application/json", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"n": 2}', ContentType="application/json", IfNoneMatch="*")
    assert client_error(err) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"n": 1}'
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert len(versions) == 1, "the refused put must not create a version"


def test_s3_object_created_reaches_sqs_through_sns_raw_with_a_prefix_filter(
    target: Target, resources: Resources
) -> None:
    """Amazon S3 Event Notifications, with object key name filtering (Amazon S3 User Guide):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
    Event message structure: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    Amazon SNS raw message delivery: https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html
    (components/fanout.py: ObjectCreated under invoices/ -> topic -> each consumer queue, raw; the body a consumer
    receives is the S3 event itself; objects outside the prefix produce nothing)."""
    s3, sns, sqs = target.client("s3"), target.client("sns"), target.client("sqs")
    bucket, topic, q = resources.bucket(), resources.topic(), resources.queue(fifo=False)
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": topic,
                        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                    }
                ],
            }
        ),
    )
    sqs.set_queue_attributes(
        QueueUrl=q.url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": q.arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                        }
                    ],
                }
            )
        },
    )
    sub = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=q.arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    resources.defer(f"subscription {sub}", lambda: sns.unsubscribe(SubscriptionArn=sub))
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [
                {
                    "TopicArn": topic,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": INVOICE_PREFIX}]}},
                }
            ]
        },
    )
    key = f"{INVOICE_PREFIX}order-1.json"
    s3.put_object(Bucket=bucket, Key="elsewhere/order-0.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")

    def object_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        events = [json.loads(m["Body"]) for m in messages]
        return [e for e in events if e.get("Event") != "s3:TestEvent"]  # sent when the notification is set

    got = receive_until(sqs, q.url, lambda got: bool(object_events(got)), timeout=target.settle_seconds, delete=True)
    got += receive_until(sqs, q.url, lambda _: False, timeout=2, delete=True)  # a late event from elsewhere/?
    events = object_events(got)
    assert len(events) == 1, events
    (event,) = events
    assert "Type" not in event and "TopicArn" not in event, "raw delivery: no SNS envelope"
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == bucket
    # Keys arrive URL-encoded (spaces as +); the consumers decode them with unquote_plus (worker/consumers/events.py).
    assert unquote_plus(record["s3"]["object"]["key"]) == key


def test_get_object_reads_the_announced_version(target: Target, resources: Resources) -> None:
    """GetObject with VersionId (Amazon S3 API Reference):
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
    A consumer reads the version its event names; a missing key is NoSuchKey (MissingInvoice: retried, then DLQ)."""
    s3 = target.client("s3")
    bucket = resources.bucket(versioned=True)
    key = f"{INVOICE_PREFIX}order-1.json"
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"v1")["VersionId"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"v2")
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=first)["Body"].read() == b"v1"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"v2"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key=f"{INVOICE_PREFIX}missing.json")
    assert client_error(err) == ("NoSuchKey", 404)


def test_head_object_and_head_bucket_for_dlq_triage(target: Target, resources: Resources) -> None:
    """HeadObject and HeadBucket (Amazon S3 API Reference):
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
    `ops dlq-triage --bucket` checks the bucket first, then whether each stored order's invoice exists (404);
    `--archive-invalid s3://...` checks its bucket with HeadBucket too, then writes with a plain PutObject."""
    s3 = target.client("s3")
    bucket = resources.bucket()
    s3.put_object(Bucket=bucket, Key=f"{INVOICE_PREFIX}present.json", Body=b"{}")
    s3.head_bucket(Bucket=bucket)
    assert s3.head_object(Bucket=bucket, Key=f"{INVOICE_PREFIX}present.json")["ContentLength"] == 2
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key=f"{INVOICE_PREFIX}absent.json")
    assert client_error(err)[1] == 404
    assert client_error(err)[0] in {"404", "NoSuchKey", "NotFound"}  # what ops/dlq_triage.invoice_missing accepts
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=f"{bucket}-absent")
    assert client_error(err)[1] == 404


# DynamoDB --------------------------------------------------------------------------


def order_item(order_id: str, sequence: str, message_id: str) -> dict[str, Any]:
    return {
        TABLE_KEY: {"S": order_id},
        "SequenceNumber": {"S": sequence},
        "MessageId": {"S": message_id},
        "ProcessedAt": {"S": "2024-11-29T00:00:00.000000+00:00"},
    }


def conditional_put(ddb: Any, table: str, item: dict[str, Any]) -> Any:
    """worker/fifo/order_writer.py's PutItem."""
    return ddb.put_item(
        TableName=table,
        Item=item,
        ConditionExpression="attribute_not_exists(#k)",
        ExpressionAttributeNames={"#k": TABLE_KEY},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ReturnConsumedCapacity="TOTAL",
    )


def test_conditional_put_item_returns_the_stored_item_when_it_fails(target: Target, resources: Resources) -> None:
    """PutItem, ReturnValuesOnConditionCheckFailure (Amazon DynamoDB API Reference):
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html
    and Condition expressions, attribute_not_exists (Amazon DynamoDB Developer Guide):
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
    The worker's exactly-once write: the first put stores the order (ConsumedCapacity counted); a second put of
    the same OrderID fails with ConditionalCheckFailedException carrying the stored item, whose SequenceNumber
    and MessageId tell a redelivery from a duplicate, and nothing is overwritten."""
    ddb = target.client("dynamodb")
    table = resources.table(TABLE_KEY)
    stored = order_item("order-1", "100", "message-1")
    written = conditional_put(ddb, table, stored)
    assert written["ConsumedCapacity"]["CapacityUnits"] > 0
    with pytest.raises(ClientError) as err:
        conditional_put(ddb, table, order_item("order-1", "200", "message-2"))
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert err.value.response.get("Item") == stored
    assert ddb.get_item(TableName=table, Key={TABLE_KEY: {"S": "order-1"}}, ConsistentRead=True)["Item"] == stored


def test_get_item_consistent_read(target: Target, resources: Resources) -> None:
    """GetItem with ConsistentRead (Amazon DynamoDB API Reference):
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html
    The order writer's fallback read and `ops dlq-triage --write-missing-invoices` read what the table stored;
    a missing key has no Item."""
    ddb = target.client("dynamodb")
    table = resources.table(TABLE_KEY)
    item = order_item("order-1", "100", "message-1")
    ddb.put_item(TableName=table, Item=item)
    assert ddb.get_item(TableName=table, Key={TABLE_KEY: {"S": "order-1"}}, ConsistentRead=True)["Item"] == item
    missing = ddb.get_item(TableName=table, Key={TABLE_KEY: {"S": "order-2"}}, ConsistentRead=True)
    assert "Item" not in missing


def test_batch_get_item_with_projection_and_consistent_read(target: Target, resources: Resources) -> None:
    """BatchGetItem with ProjectionExpression and ConsistentRead (Amazon DynamoDB API Reference):
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
    `ops dlq-triage` asks which OrderIDs of a batch the table holds (absent keys are simply not returned;
    UnprocessedKeys are asked again)."""
    ddb = target.client("dynamodb")
    table = resources.table(TABLE_KEY)
    for i in range(3):
        ddb.put_item(TableName=table, Item=order_item(f"order-{i}", str(i), f"message-{i}"))
    request = {
        table: {
            "Keys": [{TABLE_KEY: {"S": f"order-{i}"}} for i in range(5)],
            "ProjectionExpression": TABLE_KEY,
            "ConsistentRead": True,
        }
    }
    got = ddb.batch_get_item(RequestItems=request)
    assert not got.get("UnprocessedKeys")
    returned = got["Responses"][table]
    assert sorted(item[TABLE_KEY]["S"] for item in returned) == ["order-0", "order-1", "order-2"]
    assert all(set(item) == {TABLE_KEY} for item in returned), returned


def test_describe_table_for_dlq_triage(target: Target, resources: Resources) -> None:
    """DescribeTable (Amazon DynamoDB API Reference):
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTable.html
    `ops dlq-triage` checks the table exists before it touches the DLQ (ResourceNotFoundException otherwise)."""
    ddb = target.client("dynamodb")
    table = resources.table(TABLE_KEY)
    described = ddb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": TABLE_KEY, "KeyType": "HASH"}]
    with pytest.raises(ClientError) as err:
        ddb.describe_table(TableName=f"{table}-absent")
    assert client_error(err) == ("ResourceNotFoundException", 400)
