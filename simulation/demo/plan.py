"""The spike's plan (what goes to the FIFO queue directly, through the intake API, or to S3) and the producer
that sends it, held back by the emulator's depth."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulation.intake_client import post_orders
from simulation.producer import Outgoing, Produced, Spike, customer_id, send_fifo, spike_from_args, upload_s3
from simulation.stack import EmulatedStack


@dataclass
class Plan:
    """Which generated messages go where, split by customer: the S3 bulk-import path, the intake API
    (`POST /orders`, signed), or the FIFO queue directly. A malformed message of an API customer goes to
    the queue directly: the API's model would refuse some of them at the door, and the checks expect every
    malformed order in the DLQ (the API's 400 is tested on its own)."""

    spike: Spike
    fifo: list[Outgoing]
    """Sent to the FIFO queue directly."""
    s3: list[Outgoing]
    api: list[Outgoing] = field(default_factory=list)
    """Sent through the intake API, which puts them in the same FIFO queue."""

    @staticmethod
    def split(spike: Spike, s3_share: float, customers: int, api_share: float = 0.0) -> Plan:
        s3_cut = round(customers * s3_share)
        api_cut = s3_cut + round(customers * api_share)
        group = {customer_id(n): n for n in range(customers)}

        def lane(m: Outgoing) -> str:
            n = group.get(m.group_id, customers)
            if n < s3_cut:
                return "s3"
            return "api" if n < api_cut and m.kind != "malformed" else "fifo"

        lanes: dict[str, list[Outgoing]] = {"fifo": [], "s3": [], "api": []}
        for m in spike.messages:
            lanes[lane(m)].append(m)
        return Plan(spike, lanes["fifo"], lanes["s3"], lanes["api"])

    @property
    def queued(self) -> list[Outgoing]:
        """Everything that reaches the FIFO queue, directly or through the API."""
        return self.fifo + self.api

    def valid_ids(self, messages: list[Outgoing]) -> set[str]:
        return {m.order_id for m in messages if m.kind == "valid"}

    def malformed(self, messages: list[Outgoing]) -> list[Outgoing]:
        return [m for m in messages if m.kind == "malformed"]


@dataclass
class Progress:
    max_backlog: int = 0
    """Hold the producer back while the deepest work queue holds more than this (0: never)."""
    backlog: int = 0
    """The deepest work queue's depth (FIFO or fan-out) at the last sample."""
    produced: int = 0
    producing_done: bool = False
    produce_error: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)
    results: dict[str, Produced] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, n: int) -> None:
        with self.lock:
            self.produced += n

    def hold_back(self) -> None:
        """The emulator's receive and delete scan the whole queue (AWS's cost does not grow with depth): keep
        the deepest work queue, FIFO or fan-out, near `max_backlog` so the emulator's core is not spent on scans."""
        while self.max_backlog and self.backlog > self.max_backlog and not self.cancelled.is_set():
            time.sleep(0.2)
        if self.cancelled.is_set():
            raise RuntimeError("cancelled by Ctrl-C")


def produce(plan: Plan, stack: EmulatedStack, progress: Progress, rate: float | None) -> None:
    """FIFO sends and S3 uploads side by side, as the spike and the bulk import would arrive."""
    errors: list[str] = []

    def fifo() -> None:
        progress.results["fifo"] = send_fifo(
            plan.fifo, stack.exports["orderQueueUrl"], rate=rate, progress=progress.add, before_batch=progress.hold_back
        )

    def s3() -> None:
        progress.results["s3"] = upload_s3(
            plan.s3, stack.exports["invoicesBucketName"], prefix=stack.exports["invoicePrefix"], progress=progress.add
        )

    def api() -> None:
        progress.results["api"] = post_orders(
            plan.api, stack.intake_client(), progress=progress.add, before_message=progress.hold_back
        )

    def guarded(path: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                path()
            except Exception as exc:  # surfaced in the report, never swallowed
                errors.append(f"{path.__name__} producer failed: {exc}")

        return run

    threads = [
        threading.Thread(target=guarded(f), name=f.__name__)
        for f, msgs in ((fifo, plan.fifo), (s3, plan.s3), (api, plan.api))
        if msgs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = sum(len(r.failed) for r in progress.results.values())
    if failed:
        errors.append(f"{failed} messages could not be sent")
    progress.produce_error = "; ".join(errors)
    progress.producing_done = True


def plan_spike(args: argparse.Namespace) -> Plan:
    return Plan.split(spike_from_args(args), args.to_s3, args.customers, args.to_api)


def expected_counts(plan: Plan) -> dict[str, int]:
    """The totals the live view counts towards."""
    return {
        "messages": len(plan.spike.messages),
        "fifo": len(plan.valid_ids(plan.queued)),
        "valid": len(plan.spike.orders),
        "malformed": len(plan.malformed(plan.queued)),
    }
