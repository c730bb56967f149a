"""`local up --json` as a user runs it: 100 orders sent with the AWS CLI are processed in order; Ctrl-C is clean."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

import boto3
import pytest

from simulation.emulator import DUMMY_CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
AWS_CLI = Path(sys.executable).parent / "aws"


def first_line(stream: IO[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


@pytest.mark.heavy
def test_aws_cli_walkthrough_against_local_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation", "local", "up", "--json", "--workers", "2", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(first_line(proc.stdout, timeout=120))  # type: ignore[arg-type]
        assert info["orderQueueUrl"].startswith(info["endpoint"]) and info["orderQueueUrl"].endswith(".fifo")
        assert info["resources"]["orderTableName"] and info["resources"]["fanoutQueueUrls"]
        cli_env = {**env, **DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": info["region"]}

        # The README walkthrough: the producer writes CLI batch files, the AWS CLI sends them.
        batches = tmp_path / "batches"
        made = subprocess.run(
            [sys.executable, "-m", "simulation", "produce", "--orders", "100", "--customers", "4", "--duplicates", "0",
             "--malformed", "0", "--seed", "42", "--write-batches", str(batches)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        files = sorted(batches.glob("batch-*.json"))
        assert len(files) == 10
        sent: dict[str, list[str]] = defaultdict(list)
        for batch in files:
            cli = subprocess.run(
                [str(AWS_CLI), "--endpoint-url", info["endpoint"], "sqs", "send-message-batch",
                 "--queue-url", info["orderQueueUrl"], "--entries", f"file://{batch}"],
                env=cli_env, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert cli.returncode == 0, cli.stderr
            assert len(json.loads(cli.stdout)["Successful"]) == 10
            for entry in json.loads(batch.read_text()):
                sent[entry["MessageGroupId"]].append(entry["MessageDeduplicationId"])
        assert sum(map(len, sent.values())) == 100

        ddb = boto3.client("dynamodb", endpoint_url=info["endpoint"], region_name=info["region"], **_creds())
        items: list[dict[str, Any]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            items = ddb.scan(TableName=info["resources"]["orderTableName"], ConsistentRead=True)["Items"]
            if len(items) >= 100:
                break
            time.sleep(0.5)
        assert len(items) == 100
        processed: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            processed[item["CustomerID"]["S"]].append(item)
        assert set(processed) == set(sent)
        for customer, orders in processed.items():
            by_time = [i["OrderID"]["S"] for i in sorted(orders, key=lambda i: i["ProcessedAt"]["S"])]
            by_seq = [i["OrderID"]["S"] for i in sorted(orders, key=lambda i: int(i["SequenceNumber"]["S"]))]
            assert by_time == by_seq == sent[customer], f"{customer}: processed out of order"

        # The front door, as docs/local-simulation.md shows it: a signed POST /orders as the storefront's
        # profile, from the AWS config files local up wrote; unsigned is refused.
        order = make_order("front-door-1")
        aws_files = {"AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
                     "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws" / "credentials")}  # fmt: skip
        post = [sys.executable, "-m", "simulation", "post-order", "--url", info["intakeOrdersUrl"]]
        signed = subprocess.run(
            [*post, "--profile", info["intakeClientProfile"], order],
            cwd=ROOT, env={**env, **aws_files}, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert signed.returncode == 0 and signed.stdout.startswith("HTTP 202"), signed.stdout + signed.stderr
        unsigned = subprocess.run([*post, order], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert unsigned.returncode == 1 and unsigned.stdout.startswith("HTTP 403"), unsigned.stdout
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "Item" not in (
            got := ddb.get_item(TableName=info["resources"]["orderTableName"], Key={"OrderID": {"S": "front-door-1"}})
        ):
            time.sleep(0.5)
        assert got["Item"]["CustomerID"]["S"] == "CUST-00042", "the signed order went through the queue to the table"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err[-2000:]
    assert "all clean" in err
    for log in ("worker-1.log", "worker-2.log"):
        assert '"worker stopped"' in (tmp_path / "logs" / log).read_text()


def make_order(order_id: str) -> str:
    return json.dumps(
        {
            "OrderID": order_id,
            "CustomerID": "CUST-00042",
            "Items": [{"SKU": "SKU-00001", "Quantity": 2, "UnitPrice": "9.99"}],
            "Total": "19.98",
            "Currency": "USD",
            "CreatedAt": "2026-11-27T08:00:00Z",
        }
    )


def _creds() -> dict[str, str]:
    return {
        "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def test_a_new_run_does_not_count_the_last_runs_worker_logs(tmp_path: Path) -> None:
    """A second `make demo` into the same `.demo/` reports its own workers' counters, not the sum of both runs."""
    from types import SimpleNamespace

    from simulation.demo.readback import worker_summaries
    from simulation.stack import fresh_log_dir

    def stopped(received: int) -> str:
        return json.dumps({"message": "worker stopped", "summary": {"counters": {"received": received}}}) + "\n"

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "worker-1.log").write_text(stopped(2012))
    (logs / "notes.txt").write_text("kept")
    assert worker_summaries(SimpleNamespace(log_dir=logs)) == {"received": 2012}  # type: ignore[arg-type]

    assert fresh_log_dir(tmp_path) == logs
    with (logs / "worker-1.log").open("a") as log:  # the new run's worker, appending as spawn() does
        log.write(stopped(1999))
    assert worker_summaries(SimpleNamespace(log_dir=logs)) == {"received": 1999}  # type: ignore[arg-type]
    assert (logs / "notes.txt").read_text() == "kept"
