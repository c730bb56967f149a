"""The fan-out consumers end to end: moto server (S3 -> SNS -> SQS) and a real PostgreSQL.

Invoices are uploaded to the emulated bucket; S3 notifies the topic, which fans out to the shipping and
analytics queues (raw delivery) and to an audit queue that keeps a copy of every event body so the
tests can redeliver exactly what SQS delivered. The pollers and the Lambda adapter run the real code.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from components.iam import service_resource_policy
from offline.provision.provisioner import provision
from simulation.emulator import Emulator
from simulation.postgres import PostgresServer, running_postgres
from worker import topology
from worker.consumers import lambda_handlers
from worker.consumers.cli import poll
from worker.consumers.events import objects_in
from worker.consumers.processing import build_consumer
from worker.consumers.shipping import migrate, seed_inventory
from worker.model import Invoice, Order, OrderItem

REGION = "us-east-1"


@pytest.fixture(scope="module")
def emulator_region() -> str:
    return REGION


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@dataclass
class Stack:
    bucket: str
    queues: dict[str, str]
    dlqs: dict[str, str]
    audit: str
    shipping_dsn: str
    warehouse_dsn: str
    sqs: Any
    s3: Any

    def upload(self, invoice: Invoice | str, key: str | None = None) -> str:
        if isinstance(invoice, Invoice):
            key = key or f"{topology.INVOICE_PREFIX}{invoice.Order.OrderID}.json"
            body = invoice.to_json()
        else:
            assert key
            body = invoice
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
        return key

    def purge(self, key: str) -> None:
        """Delete every version of `key`: in the versioned invoice bucket a plain delete only adds a delete
        marker, and the consumer reads the version its event names, which S3 still serves."""
        listed = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        for version in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]:
            if version["Key"] == key:
                self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])

    def drain(self, url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            out += batch
            self.sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            )
        return out

    def env(self) -> dict[str, str]:
        return {
            "ORDERS_SHIPPING_DSN": self.shipping_dsn,
            "ORDERS_WAREHOUSE_DSN": self.warehouse_dsn,
            "AWS_REGION": REGION,
        }

    def run(self, name: str, **kwargs: Any) -> Any:
        consumer = build_consumer(name, self.env())
        try:
            return poll(consumer, self.queues[name], wait_seconds=0, retry_delay=0, idle_exit=0.5, **kwargs)
        finally:
            consumer.close()


@dataclass
class Provisioned:
    bucket: str
    queues: dict[str, str]
    dlqs: dict[str, str]
    audit: str
    test_event: str
    """The s3:TestEvent body S3 sent to the queues when the notification was configured."""


@pytest.fixture(scope="module")
def provisioned(emulator: Emulator) -> Provisioned:
    """The emulated stack, created from the Pulumi program itself, plus an audit queue on the topic."""
    exports = provision(REGION, endpoint=emulator.endpoint, stack="consumers").exports
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    # The audit queue keeps a copy of every event body, so a test can redeliver exactly what SQS delivered.
    audit = sqs.create_queue(QueueName="consumers-audit")["QueueUrl"]
    audit_arn = sqs.get_queue_attributes(QueueUrl=audit, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # As for the program's queues, the topic may deliver only with the queue's policy allowing it.
    policy = service_resource_policy(
        "TopicDelivers", "sns.amazonaws.com", "sqs:SendMessage", audit_arn, source_arn=exports["orderEventsTopicArn"]
    )
    sqs.set_queue_attributes(QueueUrl=audit, Attributes={"Policy": policy})
    sns.subscribe(
        TopicArn=exports["orderEventsTopicArn"],
        Protocol="sqs",
        Endpoint=audit_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    queues = dict(exports["fanoutQueueUrls"])
    first = sqs.receive_message(QueueUrl=queues["shipping"], MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    test_events = [m["Body"] for m in first if "s3:TestEvent" in m["Body"]]
    assert len(test_events) == 1, "S3 sends one s3:TestEvent when the notification is configured"
    return Provisioned(exports["invoicesBucketName"], queues, dict(exports["fanoutDlqUrls"]), audit, test_events[0])


@pytest.fixture
def stack(provisioned: Provisioned, postgres: PostgresServer) -> Stack:
    """Fresh shipping and warehouse databases (inventory seeded) and empty queues for each test."""
    run = uuid.uuid4().hex[:8]
    stack = Stack(
        provisioned.bucket,
        provisioned.queues,
        provisioned.dlqs,
        provisioned.audit,
        postgres.create_database(f"shipping_{run}"),
        postgres.create_database(f"warehouse_{run}"),
        boto3.client("sqs", region_name=REGION),
        boto3.client("s3", region_name=REGION),
    )
    for url in [*stack.queues.values(), *stack.dlqs.values(), stack.audit]:
        stack.drain(url)
    with psycopg.connect(stack.shipping_dsn, autocommit=True) as conn:
        migrate(conn)
        seed_inventory(conn, {"SKU-00001": 100, "SKU-00002": 50, "SKU-00003": 2, "SKU-00004": 10})
    return stack


T0 = datetime(2026, 11, 27, 8, 15, tzinfo=UTC)


def invoice(order_id: str, items: list[tuple[str, int, str]], *, minutes: int = 0, customer: str = "C-1") -> Invoice:
    lines = [OrderItem(SKU=s, Quantity=q, UnitPrice=Decimal(p)) for s, q, p in items]
    order = Order(
        OrderID=order_id,
        CustomerID=customer,
        Items=lines,
        Total=sum((li.amount for li in lines), Decimal("0")),
        Currency="USD",
        CreatedAt=T0 + timedelta(minutes=minutes),
    )
    return Invoice(Order=order, ProcessedAt=order.CreatedAt, SequenceNumber="1", Region=REGION)


def snapshot(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(stack.shipping_dsn) as conn:
        shipping = {
            "inventory": conn.execute("SELECT sku, on_hand FROM inventory ORDER BY sku").fetchall(),
            "shipments": conn.execute(
                "SELECT order_id, customer_id, status, total, created_at FROM shipments ORDER BY order_id"
            ).fetchall(),
            "lines": conn.execute("SELECT * FROM shipment_lines ORDER BY order_id, sku").fetchall(),
        }
    with psycopg.connect(stack.warehouse_dsn) as conn:
        exists = conn.execute("SELECT to_regclass('sales_fact') IS NOT NULL").fetchone()
        facts = (
            conn.execute("SELECT *, xmin::text FROM sales_fact ORDER BY order_id, line_no").fetchall()
            if exists and exists[0]
            else []
        )
    return {**shipping, "facts": facts}


# --- event parsing (no servers) ---------------------------------------------------------------------


def test_events_raw_sns_envelope_test_event_and_encoded_keys() -> None:
    from worker.consumers.events import InvalidEvent

    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "b"}, "object": {"key": "invoices/A+B%2B1.json", "versionId": "v1"}},
    }
    raw = json.dumps({"Records": [record]})
    (obj,) = objects_in(raw)
    assert (obj.bucket, obj.key, obj.version_id) == ("b", "invoices/A B+1.json", "v1")
    envelope = json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn", "Message": raw})
    assert objects_in(envelope) == [obj]
    assert objects_in(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})) == []
    removed = json.dumps({"Records": [{**record, "eventName": "ObjectRemoved:Delete"}]})
    assert objects_in(removed) == []
    for bad in ("not json", "[]", json.dumps({"Records": [{"eventSource": "aws:s3"}]}), json.dumps({"x": 1})):
        with pytest.raises(InvalidEvent):
            objects_in(bad)


# --- end to end through the pollers -----------------------------------------------------------------


def test_fanout_to_shipping_and_analytics_then_redelivery_changes_nothing(stack: Stack) -> None:
    orders = [
        invoice("O-1", [("SKU-00001", 2, "10.00"), ("SKU-00002", 1, "5.50")]),
        invoice("O-2", [("SKU-00001", 3, "10.00")], minutes=50),
        invoice("O-3", [("SKU-00003", 5, "99.99"), ("SKU-00004", 1, "1.25")], minutes=65),  # short on SKU-00003
        invoice("O-4", [("SKU-99999", 1, "3.00")], minutes=70),  # unknown SKU: backordered
    ]
    for inv in orders:
        stack.upload(inv)
    # A key with a space and a plus: S3 events carry it URL-encoded.
    stack.upload(invoice("O-5_x", [("SKU-00002", 4, "5.50")]), key="invoices/O 5+x.json")

    shipping = stack.run("shipping")
    analytics = stack.run("analytics")
    assert (shipping.succeeded, shipping.failed) == (5, 0)
    assert shipping.outcomes == {"ready": 3, "backordered": 2}
    assert (analytics.succeeded, analytics.failed) == (5, 0)
    assert analytics.outcomes == {"inserted": 5}

    state = snapshot(stack)
    assert dict(state["inventory"]) == {"SKU-00001": 95, "SKU-00002": 45, "SKU-00003": 2, "SKU-00004": 9}
    status = {row[0]: row[2] for row in state["shipments"]}
    assert status == {"O-1": "ready", "O-2": "ready", "O-3": "backordered", "O-4": "backordered", "O-5_x": "ready"}
    allocated = {(row[0], row[1]): row[3] for row in state["lines"]}
    assert allocated[("O-3", "SKU-00003")] is False and allocated[("O-3", "SKU-00004")] is True
    facts = state["facts"]
    assert [(f[0], f[1], f[4], f[5], f[7]) for f in facts] == [
        ("O-1", 1, "SKU-00001", 2, Decimal("20.00")),
        ("O-1", 2, "SKU-00002", 1, Decimal("5.50")),
        ("O-2", 1, "SKU-00001", 3, Decimal("30.00")),
        ("O-3", 1, "SKU-00003", 5, Decimal("499.95")),
        ("O-3", 2, "SKU-00004", 1, Decimal("1.25")),
        ("O-4", 1, "SKU-99999", 1, Decimal("3.00")),
        ("O-5_x", 1, "SKU-00002", 4, Decimal("22.00")),
    ]
    assert facts[2][2] == datetime(2026, 11, 27, 9, 5)  # stored in UTC

    # Redeliver exactly what SQS delivered (the audit queue holds a copy of each body) to both queues.
    bodies = [m["Body"] for m in stack.drain(stack.audit)]
    assert len(bodies) == 5
    for name in topology.FANOUT_QUEUES:
        for body in bodies:
            stack.sqs.send_message(QueueUrl=stack.queues[name], MessageBody=body)
    again = stack.run("shipping"), stack.run("analytics")
    assert again[0].outcomes == {"duplicate": 5}
    assert again[1].outcomes == {"duplicate": 5}
    assert snapshot(stack) == state, "a redelivered event must change nothing (xmin proves no row was rewritten)"
    assert all(stack.drain(stack.dlqs[n]) == [] for n in topology.FANOUT_QUEUES)

    # The report command reads the same facts with the same SQL the warehouse runs in AWS.
    from worker.consumers.analytics import revenue_per_hour, top_skus
    from worker.consumers.sql import PostgresWarehouse

    warehouse = PostgresWarehouse(stack.warehouse_dsn)
    hours = revenue_per_hour(warehouse)
    assert [(h[0].hour, h[2], h[4]) for h in hours] == [(8, 2, Decimal("47.50")), (9, 3, Decimal("534.20"))]
    assert top_skus(warehouse, 2)[0][:2] == ("SKU-00003", 5)
    warehouse.close()


def test_poison_records_reach_the_dlq_after_exactly_three_receives_and_the_rest_commit(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(stack.shipping_dsn, autocommit=True) as conn:
        # An operator's rule the model does not know: a real constraint failure for one record.
        conn.execute("ALTER TABLE shipments ADD CONSTRAINT not_blocked CHECK (customer_id <> 'BLOCKED')")
    good = [invoice(f"G-{i}", [("SKU-00001", 1, "10.00")], minutes=i) for i in range(6)]
    for inv in good[:3]:
        stack.upload(inv)
    stack.upload("{not json", key="invoices/malformed.json")
    bad_total = json.loads(invoice("BAD-TOTAL", [("SKU-00002", 1, "5.00")]).to_json())
    bad_total["Order"]["Total"] = "6.00"
    stack.upload(json.dumps(bad_total), key="invoices/bad-total.json")
    missing = stack.upload(invoice("GONE", [("SKU-00002", 1, "5.00")]))
    stack.purge(missing)
    stack.upload(invoice("BLOCKED-1", [("SKU-00002", 1, "5.00")], customer="BLOCKED"))
    for inv in good[3:]:
        stack.upload(inv)

    with caplog.at_level(logging.WARNING, logger="worker.consumers.poller"):
        stats = stack.run("shipping")
    assert (stats.succeeded, stats.outcomes) == (6, {"ready": 6})

    dead = stack.drain(stack.dlqs["shipping"])
    dead_keys = sorted(objects_in(m["Body"])[0].key for m in dead)
    assert dead_keys == sorted(
        ["invoices/malformed.json", "invoices/bad-total.json", "invoices/GONE.json", "invoices/BLOCKED-1.json"]
    )
    failures = Counter(re.search(r"message (\S+) failed", r.getMessage()).group(1) for r in caplog.records)  # type: ignore[union-attr]
    assert {m["MessageId"]: 3 for m in dead} == dict(failures), "each poison message is tried exactly 3 times"
    reasons = " ".join(r.getMessage() for r in caplog.records)
    for expected in (
        "invalid invoice",
        "malformed JSON",
        "does not equal",
        "invoice object missing",
        "database constraint",
    ):
        assert expected in reasons

    state = snapshot(stack)
    assert sorted(row[0] for row in state["shipments"]) == [f"G-{i}" for i in range(6)]
    assert dict(state["inventory"])["SKU-00001"] == 94
    assert dict(state["inventory"])["SKU-00002"] == 50, "the failed records took no stock"
    assert stack.drain(stack.queues["shipping"]) == []

    # Analytics has no such constraint: the blocked customer's order is a sale; the other three are poison.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="worker.consumers.poller"):
        stats = stack.run("analytics")
    assert (stats.succeeded, stats.outcomes) == (7, {"inserted": 7})
    dead = stack.drain(stack.dlqs["analytics"])
    assert sorted(objects_in(m["Body"])[0].key for m in dead) == sorted(
        ["invoices/malformed.json", "invoices/bad-total.json", "invoices/GONE.json"]
    )
    assert len(caplog.records) == 3 * 3
    assert sorted({f[0] for f in snapshot(stack)["facts"]}) == sorted([*(f"G-{i}" for i in range(6)), "BLOCKED-1"])


# --- the Lambda adapter -----------------------------------------------------------------------------


def lambda_event(stack: Stack, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The SQS event Lambda's event source mapping delivers, built from messages SQS really returned."""
    arn = stack.sqs.get_queue_attributes(QueueUrl=stack.queues["shipping"], AttributeNames=["QueueArn"])
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn["Attributes"]["QueueArn"],
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def test_lambda_adapter_reports_only_the_failed_records(
    stack: Stack, provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.upload(invoice("L-1", [("SKU-00001", 1, "10.00")]))
    stack.upload("[1, 2]", key="invoices/not-an-object.json")
    stack.upload(invoice("L-2", [("SKU-00004", 2, "1.25")]))
    gone = stack.upload(invoice("L-GONE", [("SKU-00001", 1, "10.00")]))
    stack.purge(gone)
    stack.sqs.send_message(QueueUrl=stack.queues["shipping"], MessageBody=provisioned.test_event)
    messages = stack.drain(stack.queues["shipping"])
    assert len(messages) == 5  # four invoices and the real s3:TestEvent, which succeeds as a no-op
    by_key = {o.key: m["MessageId"] for m in messages for o in objects_in(m["Body"])}
    assert len(by_key) == 4

    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(lambda_handlers, "_consumers", {})
    response = lambda_handlers.shipping_handler(lambda_event(stack, messages), None)
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        [by_key["invoices/not-an-object.json"], by_key["invoices/L-GONE.json"]]
    )
    # An all-failed batch is reported record by record as well.
    bad_only = [m for m in messages if m["MessageId"] in {by_key["invoices/L-GONE.json"]}]
    assert lambda_handlers.shipping_handler(lambda_event(stack, bad_only), None) == {
        "batchItemFailures": [{"itemIdentifier": by_key["invoices/L-GONE.json"]}]
    }
    state = snapshot(stack)
    assert [row[0] for row in state["shipments"]] == ["L-1", "L-2"]
    assert dict(state["inventory"])["SKU-00004"] == 8
    lambda_handlers._consumers["shipping"].close()


def test_fact_insert_is_a_valid_data_api_request_and_binds_every_placeholder() -> None:
    """The SQL that runs on PostgreSQL above is what the Data API gets: every `:name` bound, as strings."""
    import botocore.session
    from botocore.validate import ParamValidator

    from worker.consumers.analytics import fact_insert
    from worker.consumers.sql import _PLACEHOLDER

    sql, params = fact_insert(invoice("D-1", [("SKU-00001", 2, "10.00"), ("SKU-00002", 1, "0.99")]))
    assert set(_PLACEHOLDER.findall(sql)) == set(params)
    assert all(isinstance(v, str) and v for v in params.values())
    request = {
        "Sql": sql,
        "WorkgroupName": "orders-dev-sales",
        "Database": "sales",
        "Parameters": [{"name": k, "value": v} for k, v in params.items()],
    }
    model = botocore.session.get_session().get_service_model("redshift-data")
    report = ParamValidator().validate(request, model.operation_model("ExecuteStatement").input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_commands_seed_consume_and_report_as_a_user_runs_them(
    stack: Stack, emulator: Emulator, tmp_path: Path
) -> None:
    """`python -m worker seed-inventory | consume | report` in child processes, configured by env and flags."""
    env = {**os.environ, **emulator.env(), "AWS_REGION": REGION}
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,quantity\nSKU-00001,7\n")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "worker", *argv], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    seeded = run("seed-inventory", "--dsn", stack.shipping_dsn, "--file", str(stock), "--sku", "SKU-00009=3")
    assert seeded.returncode == 0, seeded.stderr
    assert "inventory rows written: 2" in seeded.stdout
    bad = run("seed-inventory", "--dsn", stack.shipping_dsn, "--sku", "SKU-00009")
    assert bad.returncode != 0 and "expected SKU=QUANTITY" in bad.stderr

    stack.upload(invoice("CLI-1", [("SKU-00001", 2, "10.00"), ("SKU-00009", 1, "4.00")]))
    stack.upload(invoice("CLI-2", [("SKU-00001", 6, "10.00")], minutes=61))
    for name, dsn in (("shipping", stack.shipping_dsn), ("analytics", stack.warehouse_dsn)):
        done = run(
            "consume", name, "--queue-url", stack.queues[name], "--dsn", dsn, "--wait-seconds", "0", "--idle-exit", "1"
        )
        assert done.returncode == 0, done.stderr
        assert f"{name}: received 2, done 2, failed 0" in done.stderr
    state = snapshot(stack)
    assert {r[0]: r[2] for r in state["shipments"]} == {"CLI-1": "ready", "CLI-2": "backordered"}
    assert dict(state["inventory"])["SKU-00001"] == 5 and dict(state["inventory"])["SKU-00009"] == 2

    report = run("report", "--dsn", stack.warehouse_dsn, "--json", "--top", "1")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert [(h["hour"][:13], h["revenue"]) for h in data["revenuePerHour"]] == [
        ("2026-11-27T08", "24.00"),
        ("2026-11-27T09", "60.00"),
    ]
    assert data["topSkus"] == [{"sku": "SKU-00001", "units": 8, "revenue": "80.00", "orders": 2}]
    tables = run("report", "--dsn", stack.warehouse_dsn)
    assert "Revenue per hour" in tables.stdout and "SKU-00001" in tables.stdout
