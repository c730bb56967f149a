"""The emulator's SQS lookup patch (simulation/emulator_sqs.py): still applies, still SQS.

Behaviour is checked over HTTP against the launcher's own child process (every patch applied, as
the demo runs it): FIFO order and group blocking, visibility timeout and its changes, receive counts
and the move to the DLQ after 3 receives, deletes. That the lookups really skip the scan is checked
in a separate interpreter (the patch changes moto for the whole process) by counting moto's per-message
handle checks, not by timing.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from simulation.emulator import Emulator
from simulation.emulator_process import emulator_process

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with emulator_process(export_env=False) as emu:
        yield emu


@pytest.fixture
def sqs(emulator: Emulator) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=emulator.endpoint,
        region_name=emulator.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def fifo_queue(sqs: Any, name: str, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", **attributes})["QueueUrl"]
    return url


def send_groups(sqs: Any, url: str, groups: int, per_group: int) -> None:
    entries = [
        {"MessageBody": f"g{g}-{i}", "MessageGroupId": f"g{g}", "MessageDeduplicationId": f"g{g}-{i}"}
        for i in range(per_group)
        for g in range(groups)
    ]
    for start in range(0, len(entries), 10):
        chunk = [{"Id": str(n), **e} for n, e in enumerate(entries[start : start + 10])]
        assert len(sqs.send_message_batch(QueueUrl=url, Entries=chunk)["Successful"]) == len(chunk)


def receive(sqs: Any, url: str, n: int = 10, visibility: int = 30) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=n,
        VisibilityTimeout=visibility,
        MessageSystemAttributeNames=["All"],
    ).get("Messages", [])
    return got


def delete(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    assert len(sqs.delete_message_batch(QueueUrl=url, Entries=entries)["Successful"]) == len(entries)


def test_fifo_order_and_group_blocking_hold(sqs: Any) -> None:
    url = fifo_queue(sqs, "order")
    send_groups(sqs, url, groups=3, per_group=20)
    first = receive(sqs, url)
    assert [m["Body"] for m in first] == [f"g{g}-{i}" for i in range(4) for g in range(3)][:10]
    # every group has a message in flight: nothing else may be delivered until they are settled
    assert receive(sqs, url) == []
    delete(sqs, url, first)
    seen: dict[str, list[int]] = {}
    for m in first:
        g, i = m["Body"].split("-")
        seen.setdefault(g, []).append(int(i))
    while batch := receive(sqs, url):
        for m in batch:
            g, i = m["Body"].split("-")
            seen.setdefault(g, []).append(int(i))
        delete(sqs, url, batch)
    assert seen == {f"g{g}": list(range(20)) for g in range(3)}
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_visibility_timeout_and_its_changes(sqs: Any) -> None:
    url = fifo_queue(sqs, "visibility")
    send_groups(sqs, url, groups=1, per_group=3)
    batch = receive(sqs, url, visibility=1)
    assert [m["Body"] for m in batch] == ["g0-0", "g0-1", "g0-2"]
    assert receive(sqs, url) == []  # in flight
    time.sleep(1.3)
    again = receive(sqs, url, visibility=30)
    assert [m["Body"] for m in again] == ["g0-0", "g0-1", "g0-2"]  # an expired batch comes back in order
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in again} == {"2"}
    # a new receive gives new handles; the new one releases the message at once
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"], VisibilityTimeout=0)
    delete(sqs, url, again[1:])
    third = receive(sqs, url)
    assert [m["Body"] for m in third] == ["g0-0"]
    with pytest.raises(ClientError) as err:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="not-a-handle", VisibilityTimeout=0)
    assert "ReceiptHandleIsInvalid" in str(err.value)
    with pytest.raises(ClientError) as err:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third[0]["ReceiptHandle"], VisibilityTimeout=43201)
    assert "InvalidParameterValue" in str(err.value)


def test_three_receives_then_the_dlq(sqs: Any) -> None:
    dlq = fifo_queue(sqs, "poison-dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    url = fifo_queue(sqs, "poison", RedrivePolicy=redrive)
    send_groups(sqs, url, groups=2, per_group=1)
    for n in range(1, 4):
        batch = receive(sqs, url, visibility=0)
        assert sorted(m["Body"] for m in batch) == ["g0-0", "g1-0"]
        assert {m["Attributes"]["ApproximateReceiveCount"] for m in batch} == {str(n)}
    assert receive(sqs, url) == []  # the 4th receive moves them instead
    dead = receive(sqs, dlq)
    assert sorted(m["Body"] for m in dead) == ["g0-0", "g1-0"]
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 3 for m in dead)
    delete(sqs, dlq, dead)
    assert receive(sqs, dlq) == []


def test_deletes_on_a_standard_queue(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="fanout")["QueueUrl"]
    for start in range(0, 50, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
        )
    got = receive(sqs, url, visibility=1)
    assert len(got) == 10
    delete(sqs, url, got)
    delete(sqs, url, got[:1])  # deleting twice is fine, as in SQS
    bad = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": "not-a-handle"}])
    assert bad["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    time.sleep(1.3)
    bodies = set()
    while batch := receive(sqs, url):
        bodies |= {m["Body"] for m in batch}
        delete(sqs, url, batch)
    assert bodies == {f"m{i}" for i in range(50)} - {m["Body"] for m in got}  # deleted ones never return
    sqs.send_message(QueueUrl=url, MessageBody="late")
    late = receive(sqs, url)
    sqs.purge_queue(QueueUrl=url)
    with pytest.raises(ClientError):  # the purged message's handle is no longer valid
        sqs.delete_message(QueueUrl=url, ReceiptHandle=late[0]["ReceiptHandle"])


def _lookup_probe() -> dict[str, int]:
    """Run in a fresh interpreter: how many per-message handle checks a delete/visibility change costs."""
    from simulation.emulator import patch_moto_sqs
    from simulation.emulator_process import patch_for_depth
    from simulation.emulator_sqs import patch_sqs_lookups

    patch_for_depth()
    patch_sqs_lookups()
    patch_moto_sqs()
    from moto.sqs import models

    checks = {"n": 0}
    had = models.Message.had_receipt_handle

    def counting(self: Any, handle: str) -> bool:
        checks["n"] += 1
        return bool(had(self, handle))

    models.Message.had_receipt_handle = counting  # type: ignore[method-assign, assignment]
    backend = models.sqs_backends["123456789012"]["us-east-1"]
    backend.create_queue("deep")
    for i in range(2000):
        backend.send_message("deep", f"m{i}")
    got = backend.receive_message("deep", 10, 0, 30)
    backend.change_message_visibility("deep", str(got[0].receipt_handle), 60)
    backend.delete_message_batch("deep", [{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(got)])
    indexed = checks["n"]
    with contextlib.suppress(models.ReceiptHandleIsInvalid):
        backend.delete_message("deep", "not-a-handle")
    return {"indexed": indexed, "unknown": checks["n"] - indexed, "left": len(backend.get_queue("deep")._messages)}


def test_lookups_skip_the_scan() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import json, tests.test_emulator_sqs as t; print(json.dumps(t._lookup_probe()))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    assert probe["left"] == 1990
    assert probe["indexed"] == 0  # delete and visibility change went straight to their message
    assert probe["unknown"] >= 1990  # an unknown handle still takes moto's own path (and error)


def test_refuses_another_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto
    from moto.sqs import models

    from simulation.emulator_sqs import patch_sqs_lookups

    monkeypatch.setattr(moto, "__version__", "0.0.0")
    monkeypatch.setattr(models, "_orders_lookups_patched", False, raising=False)
    with pytest.raises(RuntimeError, match=r"5\.2\.5"):
        patch_sqs_lookups()
