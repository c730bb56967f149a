"""Helpers for the FIFO worker tests: worker processes, their logs, waits and queue counts.

The resources (provisioned from the program), the orders and the check from the table are in
`simulation/fifo_harness.py`, shared with the worker benchmark."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from worker import topology

ROOT = Path(__file__).resolve().parent.parent


def start_worker(env: dict[str, str], log_path: Path, *args: str) -> subprocess.Popen[bytes]:
    out = log_path.open("ab")
    return subprocess.Popen([sys.executable, "-m", "worker", "run", *args], cwd=ROOT, env=env, stdout=out, stderr=out)


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def summary(path: Path) -> dict[str, Any]:
    stopped = [entry for entry in log_lines(path) if entry.get("message") == "worker stopped"]
    assert stopped, f"no summary in {path}:\n{path.read_text()[-3000:]}"
    return dict(stopped[-1]["summary"])


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def invoice_count(bucket: str, prefix: str = topology.INVOICE_PREFIX) -> int:
    s3 = boto3.client("s3")
    return sum(
        page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )


def queue_counts(queue_url: str) -> tuple[int, int]:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])
