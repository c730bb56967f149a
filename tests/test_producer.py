"""The producer: deterministic, valid orders; FIFO order per customer kept by concurrent senders."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import boto3
import pytest

from simulation.emulator import Emulator
from simulation.producer import generate_spike, send_fifo, targets_from_outputs
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
