"""The demo end to end, as `make demo` runs it, on a few hundred orders: every check passes, exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from simulation.emulator import free_port, ministack_command

ROOT = Path(__file__).resolve().parent.parent
CHECKS = {
    "every valid order exactly once in DynamoDB",
    "one invoice per stored order (fan-out started once)",
    "per-customer order held",
    "one shipment per valid order (both paths)",
    "inventory = seeded - allocated, backorders exactly where stock ran out",
    "sales facts: one row per order line, revenue adds up",
    "malformed orders in the FIFO DLQ after 3 receives",
    "malformed bulk-import objects in each fan-out DLQ",
    "nothing lost: produced = processed + dead-lettered + still queued",
    "no process was denied access (each under its own role)",
    "every process exited cleanly",
}


def demo(tmp_path: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run = subprocess.run(
        [sys.executable, "-m", "simulation", "demo", "--out", str(tmp_path), "--plain", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    report_path = tmp_path / "report.json"
    assert report_path.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    return run, json.loads(report_path.read_text())


@pytest.mark.heavy
def test_demo_with_a_few_hundred_orders_passes_every_check(tmp_path: Path) -> None:
    args = ["--orders", "250", "--workers", "2", "--customers", "30", "--to-s3", "0.1"]
    run, report = demo(tmp_path, *args, "--malformed", "0.03", "--duplicates", "0.05")
    failed = [c for c in report["checks"] if not c["ok"]]
    assert run.returncode == 0 and report["passed"], failed or run.stdout[-3000:]
    assert {c["name"] for c in report["checks"]} >= CHECKS
    figures = report["figures"]
    assert figures["duplicate_sends"] > 0
    assert figures["worker_counters"]["rejected"] >= 3 * 1  # each malformed order: 3 receives, then the DLQ
    assert figures["latency_seconds_sent_to_stored"]["p50"] > 0
    assert report["timeline"] and report["timeline"][-1]["processed"] > 0
    assert "aws:sqs/queue:Queue" in report["emulated"] and "aws:ec2/vpc:Vpc" in report["aws_only"]
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "PASSED" in run.stdout


@pytest.mark.heavy
def test_demo_fails_loudly_when_the_queues_do_not_drain(tmp_path: Path) -> None:
    run, report = demo(tmp_path, "--orders", "200", "--workers", "1", "--customers", "10", "--timeout", "1")
    assert run.returncode == 1
    by_name = {c["name"]: c["ok"] for c in report["checks"]}
    assert by_name["queues drained before the timeout"] is False
    assert "FAILED" in run.stdout


@pytest.mark.heavy
def test_demo_against_an_emulator_the_user_started(tmp_path: Path) -> None:
    """`--endpoint`: MiniStack started as a user starts it (its default account 000000000000, not the
    program's offline one): the stack is provisioned there in that account and every check passes."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MINISTACK_"))}
    user_emulator = subprocess.Popen(
        ministack_command(),
        env={**env, "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1"},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for_health(endpoint)
        args = ["--orders", "150", "--workers", "2", "--customers", "20", "--to-s3", "0.1", "--endpoint", endpoint]
        run, report = demo(tmp_path / "out", *args)
        failed = [c for c in report["checks"] if not c["ok"]]
        assert run.returncode == 0 and report["passed"], failed or run.stdout[-3000:]
        assert f"emulator {endpoint}" in run.stdout
        queues = requests.get(f"{endpoint}/?Action=ListQueues&Version=2012-11-05", timeout=10).text
        assert "/000000000000/orders-demo-orders.fifo" in queues, "provisioned in the emulator's own account"
    finally:
        user_emulator.terminate()
        user_emulator.wait(30)


def wait_for_health(endpoint: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{endpoint}/_ministack/health", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.heavy
def test_a_permission_taken_from_the_worker_role_stops_the_demo_naming_it_and_loses_no_order(tmp_path: Path) -> None:
    """The workers run as the instance role (AssumeRole through the launcher); without dynamodb:PutItem the
    first write is denied, the worker logs the role, action and table, the demo stops at once and fails the
    check that names them, and every order is still in the FIFO queue or its DLQ."""
    args = ["--orders", "120", "--workers", "1", "--customers", "12", "--malformed", "0", "--duplicates", "0"]
    run, report = demo(tmp_path, *args, "--revoke", "workers-instance:dynamodb:PutItem", "--timeout", "120")
    assert run.returncode == 1 and not report["passed"]
    by_name = {c["name"]: c for c in report["checks"]}
    denied = by_name["no process was denied access (each under its own role)"]
    assert not denied["ok"]
    assert "as role orders-demo-workers-instance may not dynamodb:PutItem on " in denied["detail"]
    assert "orders-demo-orders" in denied["detail"].split(" on ", 1)[1], "the resource: the order table"
    assert "access denied" in run.stdout and report["wall_seconds"] < 100, "stopped at the denial, not the timeout"
    assert by_name["nothing lost: produced = processed + dead-lettered + still queued"]["ok"], by_name
    assert by_name["every valid order exactly once in DynamoDB"]["ok"] is False  # none could be written
