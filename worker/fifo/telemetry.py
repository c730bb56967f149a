"""Structured JSON logs (Powertools Logger) and counters as CloudWatch embedded metric format lines.

Counters are thread-safe deltas flushed every `metrics_interval` seconds and on exit as one EMF line
(CloudWatch Logs turns it into metrics with no API call), plus a plain summary line on exit.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from worker import topology

SERVICE = "fifo-worker"
NAMESPACE = topology.METRIC_NAMESPACE
COUNTERS = (
    "received",
    "processed",
    "duplicates",
    "rejected",
    "released",
    "retries",
    "deleted",
    "heartbeats",
    "receive_errors",
    "delete_errors",
    "write_units",
)

log = Logger(service=SERVICE)


class Counters:
    def __init__(self, queue_name: str) -> None:
        self._lock = threading.Lock()
        self._total: Counter[str] = Counter()
        self._unflushed: Counter[str] = Counter()
        self._queue_name = queue_name
        self._metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

    def add(self, name: str, value: int = 1) -> None:
        if value:
            with self._lock:
                self._total[name] += value
                self._unflushed[name] += value

    def count_call(self, operation: str) -> None:
        self.add("api." + operation)

    def api_calls(self) -> dict[str, int]:
        with self._lock:
            return {k.removeprefix("api."): v for k, v in sorted(self._total.items()) if k.startswith("api.")}

    def get(self, name: str) -> int:
        with self._lock:
            return self._total[name]

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {name: self._total[name] for name in COUNTERS}

    def flush(self) -> None:
        """Emit the counts since the last flush as one EMF log line (zeros included: a flat line is data)."""
        with self._lock:
            delta = {name: self._unflushed[name] for name in COUNTERS}
            self._unflushed.clear()
            self._metrics.add_dimension(name="Queue", value=self._queue_name)
            for name, value in delta.items():
                self._metrics.add_metric(name=_metric_name(name), unit=MetricUnit.Count, value=value)
            self._metrics.flush_metrics()

    def summary(self, **extra: Any) -> dict[str, Any]:
        return {"counters": self.totals(), "api_calls": self.api_calls(), **extra}


def _metric_name(counter: str) -> str:
    return "".join(part.capitalize() for part in counter.split("_"))
