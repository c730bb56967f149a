"""One registry of fan-out consumers, iterated by every layer: a third, test-only consumer registered here (and
nowhere in the product) gets its queue, DLQ, subscription, alarms, role and policy, and its Lambda function or
ECS service in the program's graph; the poller, the Lambda handler and `python -m worker consume` run it; and
the local run (`simulation/stack.py` `start_consumers`) starts it with the DSN of the database it writes."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, cast

import boto3
import pytest

from components.config import ConfigError, config_keys
from components.consumers import DATABASE_ACCESS, endpoint_services
from components.network import INTERFACE_SERVICES
from offline.graph import Graph, run_program
from offline.mocks import ACCOUNT_ID
from simulation.emulator import Emulator
from simulation.roles import consumer_role
from simulation.stack import EmulatedStack
from tests.conftest import CheckPack
from tests.test_consumer_poller import REGION, invoice, s3_event
from worker import topology
from worker.consumers import cli, lambda_handlers, processing
from worker.consumers.batch import lambda_record, queue_arn
from worker.consumers.processing import ConsumerConfigError, Store, build_consumer
from worker.model import Invoice

AUDIT = topology.FanoutConsumer(name="audit", database=topology.SHIPPING_DATABASE, runtime_key="auditConsumerRuntime")
"""A consumer of the shipping database (so it runs in the VPC and reads the database secret)."""
CONFIG = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/orders-worker:1"

audited: list[tuple[str, str, str]] = []
"""(DSN, order id, s3 key) of every invoice the audit consumer applied."""


def audit_store(env: Mapping[str, str], session: boto3.Session) -> Store:
    """The test consumer's store: it needs its database's DSN (as `--dsn` sets it) and records what it saw."""
    dsn = env.get(AUDIT.database.dsn_env)
    if not dsn:
        raise ConsumerConfigError(f"audit needs {AUDIT.database.dsn_env}")

    def apply(invoice: Invoice, key: str) -> str:
        audited.append((dsn, invoice.Order.OrderID, key))
        return "audited"

    return Store(apply)


@pytest.fixture()
def audit() -> Iterator[topology.FanoutConsumer]:
    audited.clear()
    with processing.registered(AUDIT, audit_store) as consumer:
        yield consumer
    lambda_handlers._consumers.pop(AUDIT.name, None)


def test_registration_lasts_the_block_and_a_name_or_key_is_taken_once() -> None:
    before = topology.FANOUT_QUEUES
    assert before == ("shipping", "analytics") == tuple(c.name for c in topology.fanout_consumers())
    with processing.registered(AUDIT, audit_store):
        assert (*before, "audit") == topology.FANOUT_QUEUES and topology.fanout_consumer("audit") is AUDIT
        assert "auditConsumerRuntime" in config_keys()
        with pytest.raises(ValueError, match="already registered"):
            topology.registered_consumer(AUDIT).__enter__()
        twin = topology.FanoutConsumer(name="audit2", database=topology.WAREHOUSE, runtime_key=AUDIT.runtime_key)
        with pytest.raises(ValueError, match="already registered"):
            topology.registered_consumer(twin).__enter__()
    assert before == topology.FANOUT_QUEUES and "audit" not in processing.STORES
    assert "auditConsumerRuntime" not in config_keys()
    with pytest.raises(KeyError, match="no fan-out consumer 'audit'"):
        topology.fanout_consumer("audit")


def test_every_consumer_has_a_store_a_database_access_and_a_declared_runtime_key() -> None:
    assert set(processing.STORES) == set(topology.FANOUT_QUEUES)
    for consumer in topology.fanout_consumers():
        assert consumer.database.name in DATABASE_ACCESS
        assert config_keys()[consumer.runtime_key].pulumi_type == "string"
    assert topology.fanout_consumer("shipping").needs_vpc and not topology.fanout_consumer("analytics").needs_vpc


def test_interface_endpoints_follow_each_consumers_database_and_runtime(audit: topology.FanoutConsumer) -> None:
    """A consumer in the VPC needs its database's APIs there; an ECS task also the image, logs and queue."""
    assert endpoint_services({"analytics": "lambda"}) == []
    assert endpoint_services({"audit": "lambda"}) == ["secretsmanager"]
    ecs = {"ecr.api", "ecr.dkr", "logs", "sqs"}
    assert endpoint_services({"analytics": "ecs"}) == sorted((ecs | {"redshift-data"}) - set(INTERFACE_SERVICES))
    assert endpoint_services({"audit": "ecs"}) == sorted((ecs | {"secretsmanager"}) - set(INTERFACE_SERVICES))


# --- the graph ------------------------------------------------------------------------------------------------


def build(runtime: str, preview: bool) -> Graph:
    extra = {"orders:consumerImage": IMAGE} if runtime == "ecs" else {}
    return run_program({**CONFIG, **extra, "orders:auditConsumerRuntime": runtime}, stack="test", preview=preview)


def statements(graph: Graph, role_policy: str) -> dict[str, Any]:
    doc = graph.one("aws:iam/rolePolicy:RolePolicy", role_policy).inputs["policy"]
    return {s["Sid"]: s for s in json.loads(doc)["Statement"]}


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_a_registered_consumer_gets_its_queue_alarms_role_and_function(
    audit: topology.FanoutConsumer, preview: bool, no_mandatory_violation: CheckPack
) -> None:
    graph = build("lambda", preview)
    no_mandatory_violation(graph)
    queues = {q.inputs["name"] for q in graph.of_type("aws:sqs/queue:Queue")}
    assert {"orders-test-audit", "orders-test-audit-dlq"} <= queues
    graph.one("aws:sqs/queuePolicy:QueuePolicy", "audit")
    subscription = graph.one("aws:sns/topicSubscription:TopicSubscription", "audit").inputs
    assert subscription["protocol"] == "sqs" and subscription["rawMessageDelivery"] is True
    alarms = {a.name for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {f"audit{suffix}" for suffix in ("-dlq-not-empty", "-oldest-message-age", "-backlog")} <= alarms
    assert {"audit-consumer-errors", "audit-consumer-throttles"} <= alarms
    function = graph.one("aws:lambda/function:Function", "audit-consumer").inputs
    assert function["handler"] == "worker.consumers.lambda_handlers.audit_handler"
    assert callable(getattr(lambda_handlers, function["handler"].rsplit(".", 1)[1]))
    assert len(function["vpcConfig"]["subnetIds"]) == 3, "a shipping-database consumer runs in the VPC"
    env = function["environment"]["variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "orders-audit" and env["ORDERS_DB_NAME"] == "orders"
    assert {"ORDERS_DB_SECRET_ARN", "ORDERS_DB_HOST", "ORDERS_DB_PORT"} <= set(env)
    graph.one("aws:lambda/eventSourceMapping:EventSourceMapping", "audit-consumer")
    graph.one("aws:iam/role:Role", "audit-consumer")
    if not preview:
        granted = statements(graph, "audit-consumer")
        assert set(granted) == {
            "ConsumeOwnQueue",
            "ReadInvoices",
            "WriteOwnLogs",
            "ReadDatabaseSecret",
            "ManageFunctionEnis",
        }
        assert granted["ConsumeOwnQueue"]["Resource"] == [f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:orders-test-audit"]
        assert graph.exports["fanoutQueueUrls"]["audit"].endswith("/orders-test-audit")
        assert graph.exports["consumerFunctions"]["audit"] == "orders-test-audit-consumer"
    # the existing consumers are untouched by the third
    assert {f.name for f in graph.of_type("aws:lambda/function:Function")} == {
        "shipping-consumer",
        "analytics-consumer",
        "audit-consumer",
    }


def test_a_registered_consumer_on_ecs_gets_its_service_in_the_databases_group(audit: topology.FanoutConsumer) -> None:
    graph = build("ecs", preview=False)
    service = graph.one("aws:ecs/service:Service", "audit-poller").inputs
    client_group = graph.one("aws:ec2/securityGroup:SecurityGroup", "consumer-db-client").id
    assert service["networkConfiguration"]["securityGroups"] == [client_group]
    task = graph.one("aws:ecs/taskDefinition:TaskDefinition", "audit-poller").inputs
    [container] = json.loads(task["containerDefinitions"])
    assert container["command"] == ["python", "-m", "worker", "consume", "audit"]
    assert {"name": "ORDERS_DB_NAME", "value": "orders"} in container["environment"]
    graph.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "audit-poller-execution")
    assert "ManageFunctionEnis" not in statements(graph, "audit-consumer")
    assert "audit" not in graph.exports["consumerFunctions"] and "audit-consumer" not in {
        f.name for f in graph.of_type("aws:lambda/function:Function")
    }


def test_a_registered_consumer_without_its_runtime_key_is_refused_by_name(audit: topology.FanoutConsumer) -> None:
    with pytest.raises(ConfigError, match=r"orders:auditConsumerRuntime is not set"):
        run_program(CONFIG, stack="test")
    with pytest.raises(ConfigError, match=r"orders:auditConsumerRuntime = 'k8s': expected one of"):
        run_program({**CONFIG, "orders:auditConsumerRuntime": "k8s"}, stack="test")


# --- the runtime: the poller, the Lambda handler, the command and the local run -------------------------------


@pytest.fixture()
def audit_queue(emulator: Emulator, audit: topology.FanoutConsumer) -> tuple[str, str]:
    """The audit consumer's queue holding the S3 events of two invoices in a fresh bucket: (queue URL, bucket)."""
    s3, sqs = boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION)
    run = uuid.uuid4().hex[:8]
    bucket = f"audit-{run}"
    s3.create_bucket(Bucket=bucket)
    url = sqs.create_queue(QueueName=f"audit-{run}")["QueueUrl"]
    for order_id in ("A-1", "A-2"):
        key = f"{topology.INVOICE_PREFIX}{order_id}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=invoice(order_id).to_json())
        sqs.send_message(QueueUrl=url, MessageBody=s3_event(bucket, key))
    return url, bucket


def test_the_poller_runs_a_registered_consumer(audit_queue: tuple[str, str]) -> None:
    url, _ = audit_queue
    consumer = build_consumer("audit", {AUDIT.database.dsn_env: "postgresql://audit", "AWS_REGION": REGION})
    stats = cli.poll(consumer, url, wait_seconds=0, idle_exit=0.5, retry_delay=0)
    assert (stats.succeeded, stats.failed, stats.outcomes) == (2, 0, {"audited": 2})
    assert sorted(order for _, order, _ in audited) == ["A-1", "A-2"]
    with pytest.raises(ConsumerConfigError, match="audit needs ORDERS_SHIPPING_DSN"):
        build_consumer("audit", {"AWS_REGION": REGION})


def test_the_lambda_handler_of_a_registered_consumer_is_found_by_name(audit_queue: tuple[str, str]) -> None:
    url, _ = audit_queue
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    arn = queue_arn(url, REGION, "aws")
    event = {"Records": [lambda_record(m, arn, REGION) for m in messages]}
    handler = lambda_handlers.audit_handler
    assert handler.__name__ == "audit_handler"
    env = {AUDIT.database.dsn_env: "postgresql://lambda"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert handler(event, None) == {"batchItemFailures": []}
    assert sorted(order for _, order, _ in audited) == ["A-1", "A-2"]
    with pytest.raises(AttributeError):
        lambda_handlers.nobody_handler  # noqa: B018
    assert lambda_handlers.shipping_handler.__name__ == "shipping_handler", "deployed handler names stay"


class SpawnRecorder:
    """Stands in for `EmulatedStack` in `start_consumers`: what it would spawn, with which role."""

    def __init__(self, queues: dict[str, str]) -> None:
        self.exports = {"fanoutQueueUrls": queues}
        self.shipping_dsn, self.warehouse_dsn = "postgresql://local/shipping", "postgresql://local/warehouse"
        self.spawned: dict[str, list[str]] = {}
        self.roles: dict[str, str] = {}

    def child_env(self, process: str, role: str, **extra: str) -> dict[str, str]:
        self.roles[process] = role
        return dict(extra)

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> None:
        self.spawned[name] = args


def test_the_local_run_starts_a_registered_consumer_and_its_command_runs_it(audit_queue: tuple[str, str]) -> None:
    url, _ = audit_queue
    local = SpawnRecorder({"shipping": "q-shipping", "analytics": "q-analytics", "audit": url})
    EmulatedStack.start_consumers(cast(Any, local), pollers=1, wait_seconds=0)
    assert set(local.spawned) == {"consumer-shipping-1", "consumer-analytics-1", "consumer-audit-1"}
    assert local.roles["consumer-audit-1"] == consumer_role("audit") == "audit-consumer"
    dsns = {name: args[args.index("--dsn") + 1] for name, args in local.spawned.items()}
    assert dsns == {
        "consumer-shipping-1": local.shipping_dsn,
        "consumer-analytics-1": local.warehouse_dsn,
        "consumer-audit-1": local.shipping_dsn,  # the database it writes
    }
    # the very command line the local run starts, run here: `python -m worker consume audit ...`
    command = local.spawned["consumer-audit-1"]
    assert command[:2] == ["consume", "audit"]
    assert "audit" in cli.parser().format_help() and "ORDERS_SHIPPING_DSN" in cli.parser().format_help()
    codes: list[int] = []
    poller = threading.Thread(target=lambda: codes.append(cli.main([*command[1:], "--idle-exit", "0.5"])))
    poller.start()  # off the main thread, so the command leaves pytest's signal handlers alone
    poller.join(120)
    assert codes == [0]
    assert sorted((dsn, order) for dsn, order, _ in audited) == [
        (local.shipping_dsn, "A-1"),
        (local.shipping_dsn, "A-2"),
    ]
