"""The producer: deterministic, valid orders; FIFO order per customer kept by concurrent senders; the spike's
flags declared once; the FIFO ids the producer sends are the ones the intake API sends."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import boto3
import pytest

from simulation.emulator import Emulator
from simulation.producer import (
    add_spike_arguments,
    customer_id,
    generate_spike,
    parser,
    send_fifo,
    spike_from_args,
    targets_from_outputs,
)
from worker.model import InvalidOrder, parse_order

ROOT = Path(__file__).resolve().parent.parent


def test_same_seed_same_spike_and_every_valid_order_parses() -> None:
    a = generate_spike(300, customers=20, duplicates=0.1, malformed=0.05, seed=7)
    b = generate_spike(300, customers=20, duplicates=0.1, malformed=0.05, seed=7)
    assert a.messages == b.messages
    assert generate_spike(300, customers=20, seed=8).messages != a.messages
    assert len(a.orders) == a.count("valid") == 300
    assert a.count("duplicate") > 0
    assert a.count("malformed") == int(300 * 0.05) == 15  # exactly the share, spread evenly
    for m in a.messages:
        assert m.group_id.startswith("CUST-")
        if m.kind == "malformed":
            with pytest.raises(InvalidOrder):
                parse_order(m.body)
        else:
            order = parse_order(m.body)
            assert (order.OrderID, order.CustomerID) == (m.dedup_id, m.group_id)
            assert (order.dedup_id, order.group_id) == (m.dedup_id, m.group_id)
    dup = next(i for i, m in enumerate(a.messages) if m.kind == "duplicate")
    assert a.messages[dup - 1].dedup_id == a.messages[dup].dedup_id  # a retry follows its original


def test_bad_shares_are_refused() -> None:
    with pytest.raises(ValueError):
        generate_spike(10, duplicates=1.5)


def test_stack_outputs_on_stdin() -> None:
    outputs = targets_from_outputs(io.StringIO(json.dumps({"orderQueueUrl": "https://q/orders.fifo"})))
    assert outputs["orderQueueUrl"] == "https://q/orders.fifo"
    with pytest.raises(SystemExit, match="pulumi stack output"):
        targets_from_outputs(io.StringIO("Current stack is dev"))


def fifo_queue() -> str:
    sqs = boto3.client("sqs")
    return str(sqs.create_queue(QueueName="producer-test.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"])


def drain(url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    got: list[dict] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId", "SequenceNumber"]
        ).get("Messages", [])
        if not batch:
            return got
        got += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )


def test_concurrent_batched_sends_keep_each_customers_order(emulator: Emulator) -> None:
    url = fifo_queue()
    spike = generate_spike(400, customers=12, duplicates=0.05, malformed=0.0, seed=11)
    result = send_fifo(spike.messages, url, senders=6)
    assert result.failed == []
    assert result.sent == len(spike.messages)
    assert set(result.sent_at) == set(spike.orders)
    by_group: dict[str, list[int]] = defaultdict(list)
    seen = set()
    for message in sorted(drain(url), key=lambda m: int(m["Attributes"]["SequenceNumber"])):
        order_id = json.loads(message["Body"])["OrderID"]
        assert order_id not in seen, "a duplicate send within the dedup window must be suppressed"
        seen.add(order_id)
        by_group[message["Attributes"]["MessageGroupId"]].append(int(order_id.rsplit("-", 1)[1]))
    assert seen == set(spike.orders)
    for group, numbers in by_group.items():
        assert numbers == sorted(numbers), f"{group} out of order"


def test_cli_reads_stack_outputs_from_stdin(emulator: Emulator) -> None:
    url = fifo_queue()
    drain(url)
    outputs = json.dumps({"orderQueueUrl": url, "invoicesBucketName": "unused"})
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulation",
            "produce",
            "--orders",
            "25",
            "--duplicates",
            "0",
            "--malformed",
            "0.2",
            "--seed",
            "5",
        ],
        input=outputs,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**emulator.env(), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["valid"] == 25 and summary["sent"] == 25 + summary["malformed"] and summary["failed"] == 0
    assert len(drain(url)) == summary["sent"]


def spike_flags(*argv: str, orders: int = 10) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_spike_arguments(p, orders=orders)
    return p.parse_args(list(argv))


def test_the_spike_flags_are_declared_once_with_one_set_of_defaults() -> None:
    args = spike_flags()
    assert vars(args) == {"orders": 10, "customers": 500, "skus": 50, "duplicates": 0.02, "malformed": 0.002, "seed": 1}
    assert spike_from_args(args).messages == generate_spike(10).messages, "the flags' defaults are the generator's"
    custom = spike_flags("--orders", "30", "--customers", "3", "--skus", "4", "--duplicates", "0.5", "--malformed",
                         "0.1", "--seed", "9")  # fmt: skip
    expected = generate_spike(30, customers=3, skus=4, duplicates=0.5, malformed=0.1, seed=9)
    assert spike_from_args(custom).messages == expected.messages
    produce = parser().parse_args([])
    assert {k: getattr(produce, k) for k in vars(args)} == {**vars(args), "orders": 1000}
    for bad in (["--orders", "-1"], ["--customers", "0"], ["--malformed", "2"]):
        with pytest.raises(ValueError, match="--orders >= 0, --customers >= 1"):
            spike_from_args(spike_flags(*bad))


def test_customers_are_numbered_in_one_format() -> None:
    assert customer_id(7) == "CUST-00007"
    spike = generate_spike(200, customers=9, seed=3)
    assert {m.group_id for m in spike.messages} <= {customer_id(n) for n in range(9)}


def test_the_intake_api_sends_the_fifo_ids_the_producer_sends(emulator: Emulator) -> None:
    """The intake's mapping template, rendered as tests/test_front_door_graph.py renders it and sent to the SQS
    query API signed as API Gateway signs: SQS stores the `Order.group_id` and `Order.dedup_id` the producer uses."""
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from components.intake_api import INTEGRATION_HEADERS, send_message_template
    from tests.test_front_door_graph import render

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="intake-ids-test.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    headers = {k.rsplit(".", 1)[-1]: v.strip("'") for k, v in INTEGRATION_HEADERS.items()}
    credentials = Credentials(emulator.credentials["AWS_ACCESS_KEY_ID"], emulator.credentials["AWS_SECRET_ACCESS_KEY"])
    sent = generate_spike(12, customers=4, duplicates=0.0, malformed=0.0, seed=5).messages
    for m in sent:
        form = render(send_message_template(), m.body)
        request = AWSRequest(method="POST", url=url, data=form, headers=headers)
        SigV4Auth(credentials, "sqs", emulator.region).add_auth(request)
        response = requests.post(url, data=form.encode(), headers=dict(request.headers), timeout=10)
        assert response.status_code == 200, response.text
    got = {
        m["Body"]: (m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"])
        for m in drain_all_attributes(url)
    }
    assert len(got) == len(sent)
    for m in sent:
        order = parse_order(m.body)
        assert got[m.body] == (order.group_id, order.dedup_id) == (m.group_id, m.dedup_id)


def drain_all_attributes(url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    got: list[dict] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        got += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return got
