"""The messaging and data tier, proven on the resource graph the real program registers under mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline.graph import UNKNOWN, Graph, run_program, stack_config
from offline.mocks import ACCOUNT_ID, AwsMocks
from worker import topology

QUEUE = "aws:sqs/queue:Queue"
CONFIG = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return run_program(CONFIG, stack="test", preview=request.param)


def queues_by_arn(graph: Graph, region: str) -> dict[str, dict]:
    return {f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{q.inputs['name']}": q.inputs for q in graph.of_type(QUEUE)}


def test_resource_counts(graph: Graph) -> None:
    counts = graph.counts()
    # orders.fifo + shipping + analytics, each with its DLQ
    assert counts[QUEUE] == 6
    assert counts["orders:messaging:QueueWithDlq"] == 3
    assert counts["aws:sns/topic:Topic"] == 2  # order events + alarms
    assert counts["aws:sns/topicSubscription:TopicSubscription"] == 2
    assert counts["aws:sqs/queuePolicy:QueuePolicy"] == 2
    assert counts["aws:s3/bucket:Bucket"] >= 1
    assert counts["aws:s3/bucketNotification:BucketNotification"] == 1
    assert counts["aws:dynamodb/table:Table"] == 1
    assert counts["aws:cloudwatch/dashboard:Dashboard"] == 1
    # 3 alarms per queue (DLQ not empty, age, depth) + table throttles
    assert counts["aws:cloudwatch/metricAlarm:MetricAlarm"] >= 10
    assert counts["pulumi:providers:aws"] >= 2


def test_every_work_queue_has_a_known_redrive_policy_to_a_dlq_in_the_graph(graph: Graph) -> None:
    by_arn = queues_by_arn(graph, "eu-west-1")
    dlq_arns = set()
    work = [q for q in graph.of_type(QUEUE) if "redrivePolicy" in q.inputs]
    assert len(work) == 3
    for queue in work:
        policy_text = queue.inputs["redrivePolicy"]
        assert policy_text != UNKNOWN, f"{queue.name}: redrive policy unknown (preview={graph.preview})"
        policy = json.loads(policy_text)
        assert policy["maxReceiveCount"] == topology.MAX_RECEIVE_COUNT == 3
        target = by_arn[policy["deadLetterTargetArn"]]
        assert target["name"].removesuffix(".fifo").endswith("-dlq")
        assert bool(target.get("fifoQueue")) == bool(queue.inputs.get("fifoQueue")), "DLQ must be the same kind"
        dlq_arns.add(policy["deadLetterTargetArn"])
    dlqs = [q for q in graph.of_type(QUEUE) if "redrivePolicy" not in q.inputs]
    assert {f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:{q.inputs['name']}" for q in dlqs} == dlq_arns


def test_dlqs_allow_redrive_only_from_their_source(graph: Graph) -> None:
    by_arn = queues_by_arn(graph, "eu-west-1")
    for queue in graph.of_type(QUEUE):
        if "redrivePolicy" in queue.inputs:
            continue
        allow = json.loads(queue.inputs["redriveAllowPolicy"])
        assert allow["redrivePermission"] == "byQueue"
        [source] = allow["sourceQueueArns"]
        source_policy = json.loads(by_arn[source]["redrivePolicy"])
        assert source_policy["deadLetterTargetArn"].endswith(":" + queue.inputs["name"])


def test_queue_settings(graph: Graph) -> None:
    for queue in graph.of_type(QUEUE):
        assert queue.inputs["sqsManagedSseEnabled"] is True
        assert queue.inputs["receiveWaitTimeSeconds"] == 20
    fifo = graph.one(QUEUE, "orders")
    assert fifo.inputs["name"] == "orders-test-orders.fifo"
    assert fifo.inputs["fifoQueue"] is True
    assert fifo.inputs["deduplicationScope"] == "messageGroup"
    assert fifo.inputs["fifoThroughputLimit"] == "perMessageGroupId"
    assert fifo.inputs["visibilityTimeoutSeconds"] == 60
    assert graph.one(QUEUE, "orders-dlq").inputs["fifoQueue"] is True
    shipping = graph.one(QUEUE, "shipping")
    assert "fifoQueue" not in shipping.inputs
    assert shipping.inputs["visibilityTimeoutSeconds"] == 180


def test_names_are_unique_and_deterministic(graph: Graph) -> None:
    names = [q.inputs["name"] for q in graph.of_type(QUEUE)]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(
        [
            "orders-test-orders.fifo",
            "orders-test-orders-dlq.fifo",
            "orders-test-shipping",
            "orders-test-shipping-dlq",
            "orders-test-analytics",
            "orders-test-analytics-dlq",
        ]
    )
    urns = [r.urn for r in graph.resources]
    assert len(urns) == len(set(urns))


def test_fanout_wiring(graph: Graph) -> None:
    bucket = graph.one("aws:s3/bucket:Bucket", topology.INVOICES_BUCKET)
    bucket_name = bucket.inputs["bucket"]
    assert bucket_name == f"orders-test-invoices-{ACCOUNT_ID}-eu-west-1"
    topic_arn = f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:orders-test-order-events"

    topic_policy = json.loads(
        graph.one("aws:sns/topicPolicy:TopicPolicy", topology.ORDER_EVENTS_TOPIC).inputs["policy"]
    )
    [stmt] = topic_policy["Statement"]
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}
    assert stmt["Resource"] == topic_arn
    assert stmt["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{bucket_name}"
    assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID

    notification = graph.one("aws:s3/bucketNotification:BucketNotification", topology.INVOICES_BUCKET)
    [target] = notification.inputs["topics"]
    assert target["events"] == ["s3:ObjectCreated:*"]
    assert target["filterPrefix"] == topology.INVOICE_PREFIX
    if not graph.preview:
        assert notification.inputs["bucket"] == bucket_name
        assert target["topicArn"] == topic_arn
    # the notification waits for the topic policy, or S3's destination test fails
    assert graph.one("aws:sns/topicPolicy:TopicPolicy", topology.ORDER_EVENTS_TOPIC).urn in notification.dependencies
    # ...and for every subscription, or the first events reach a topic nobody listens to yet
    for sub in graph.of_type("aws:sns/topicSubscription:TopicSubscription"):
        assert sub.urn in notification.dependencies

    for name in ("shipping", "analytics"):
        policy = json.loads(graph.one("aws:sqs/queuePolicy:QueuePolicy", name).inputs["policy"])
        [stmt] = policy["Statement"]
        assert stmt["Principal"] == {"Service": "sns.amazonaws.com"}
        assert stmt["Action"] == "sqs:SendMessage"
        assert stmt["Resource"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:orders-test-{name}"
        assert stmt["Condition"]["ArnEquals"]["aws:SourceArn"] == topic_arn
        sub = graph.one("aws:sns/topicSubscription:TopicSubscription", name)
        assert sub.inputs["protocol"] == "sqs"
        assert sub.inputs["rawMessageDelivery"] is True
        if not graph.preview:
            assert sub.inputs["endpoint"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:orders-test-{name}"
            assert sub.inputs["topic"] == topic_arn


def test_bucket_is_private_encrypted_versioned_and_tls_only(graph: Graph) -> None:
    block = graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", topology.INVOICES_BUCKET).inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    sse = graph.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        topology.INVOICES_BUCKET,
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    versioning = graph.one("aws:s3/bucketVersioning:BucketVersioning", topology.INVOICES_BUCKET)
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    policy = json.loads(graph.one("aws:s3/bucketPolicy:BucketPolicy", topology.INVOICES_BUCKET).inputs["policy"])
    [deny] = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_topics_are_encrypted_with_the_customer_managed_key(graph: Graph) -> None:
    key = graph.one("aws:kms/key:Key", "messaging")
    assert key.inputs["enableKeyRotation"] is True
    key_policy = json.loads(key.inputs["policy"])
    services = key_policy["Statement"][1]["Principal"]["Service"]
    assert set(services) == {"s3.amazonaws.com", "cloudwatch.amazonaws.com"}
    for topic in graph.of_type("aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"] != "alias/aws/sns"
        if not graph.preview:
            assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:eu-west-1:")


def test_order_table(graph: Graph) -> None:
    table = graph.one("aws:dynamodb/table:Table", topology.ORDER_TABLE).inputs
    assert table["name"] == "orders-test-orders"
    assert table["hashKey"] == "OrderID"
    assert table["attributes"] == [{"name": "OrderID", "type": "S"}]
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}


def test_alarms_cover_every_queue_and_dlq(graph: Graph) -> None:
    alarms = [a.inputs for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    watched = {(a["metricName"], a["dimensions"].get("QueueName")) for a in alarms if a["namespace"] == "AWS/SQS"}
    for queue in graph.of_type(QUEUE):
        name = queue.inputs["name"]
        if "redrivePolicy" in queue.inputs:
            assert ("ApproximateAgeOfOldestMessage", name) in watched
            assert ("ApproximateNumberOfMessagesVisible", name) in watched
        else:
            dlq_alarm = next(a for a in alarms if a["dimensions"].get("QueueName") == name)
            assert dlq_alarm["threshold"] == 0 and dlq_alarm["comparisonOperator"] == "GreaterThanThreshold"
    age = next(a for a in alarms if a["metricName"] == "ApproximateAgeOfOldestMessage")
    assert age["threshold"] == 300
    dashboard = graph.one("aws:cloudwatch/dashboard:Dashboard", topology.DASHBOARD).inputs
    if not graph.preview:
        body = json.loads(dashboard["dashboardBody"])
        titles = [w["properties"]["title"] for w in body["widgets"]]
        assert {"Queue orders", "Queue shipping", "Queue analytics", "Order table"} <= set(titles)


def test_every_child_is_parented_and_bound_to_an_explicit_provider(graph: Graph) -> None:
    components = {r.urn for r in graph.resources if not r.custom}
    providers = {r.urn: r for r in graph.of_type("pulumi:providers:aws")}
    regions = {p.inputs["region"] for p in providers.values()}
    assert regions == {"eu-west-1", "eu-central-1"}
    for r in graph.resources:
        if r.type.startswith("pulumi:providers:") or not r.custom:
            continue
        assert r.parent in components, f"{r.type} {r.name} is not parented to a component"
        assert r.provider_urn in providers, f"{r.type} {r.name} uses the ambient default provider"
        assert graph.region_of(r) == "eu-west-1"


def test_exports(graph: Graph) -> None:
    exports = graph.exports
    assert exports["orderTableName"] == "orders-test-orders"
    assert exports["invoicePrefix"] == "invoices/"
    assert exports["orderQueueArn"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:orders-test-orders.fifo"
    if not graph.preview:
        assert exports["orderQueueUrl"].endswith("/orders-test-orders.fifo")
        assert set(exports["fanoutQueueUrls"]) == {"shipping", "analytics"}


def test_shipped_dev_stack_file() -> None:
    config = stack_config("dev")
    assert config["orders:primaryRegion"] == "us-east-1"
    assert config["orders:failoverRegion"] == "us-west-2"
    graph = run_program(config, stack="dev")
    regions = sorted(p.inputs["region"] for p in graph.of_type("pulumi:providers:aws"))
    assert regions == ["us-east-1", "us-west-2"]
    assert graph.exports["orderQueueUrl"] == f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/orders-dev-orders.fifo"


def test_fanout_queues_follow_the_runtime_topology() -> None:
    """One queue (and DLQ) per consumer the runtime has (worker/topology.py), plus the FIFO pair; not config."""
    graph = run_program(CONFIG, stack="test")
    assert graph.counts()[QUEUE] == 2 + 2 * len(topology.FANOUT_QUEUES)
    for name in topology.FANOUT_QUEUES:
        assert graph.one(QUEUE, f"{name}-dlq").inputs["name"] == f"orders-test-{name}-dlq"


def test_a_failed_run_leaves_nothing_behind_for_the_next() -> None:
    """A run that dies mid-graph (e.g. the emulator provisioner refusing an input) must not poison the next."""

    class FailingMocks(AwsMocks):
        def new_resource(self, args: Any) -> Any:
            if args.typ == "aws:sns/topic:Topic":
                raise RuntimeError("refused by the test")
            return super().new_resource(args)

    with pytest.raises(Exception, match="refused by the test"):
        run_program(CONFIG, stack="test", mocks=FailingMocks)
    assert run_program(CONFIG, stack="test").counts()[QUEUE] == 6
