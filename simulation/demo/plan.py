"""The spike's plan (what goes to the FIFO queue, what to S3) and the producer that sends it, held back by the emulator's depth."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulation.producer import Outgoing, Produced, Spike, generate_spike, send_fifo, upload_s3
from simulation.stack import EmulatedStack


@dataclass
class Plan:
    """Which generated messages go where: FIFO queue or the S3 bulk-import path (split by customer)."""

    spike: Spike
    fifo: list[Outgoing]
    s3: list[Outgoing]

    @staticmethod
    def split(spike: Spike, s3_share: float, customers: int) -> Plan:
        cut = round(customers * s3_share)
        to_s3 = {f"CUST-{n:05d}" for n in range(cut)}
        fifo = [m for m in spike.messages if m.group_id not in to_s3]
        s3 = [m for m in spike.messages if m.group_id in to_s3]
        return Plan(spike, fifo, s3)

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

    def guarded(path: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                path()
            except Exception as exc:  # surfaced in the report, never swallowed
                errors.append(f"{path.__name__} producer failed: {exc}")

        return run

    threads = [
        threading.Thread(target=guarded(f), name=f.__name__) for f, msgs in ((fifo, plan.fifo), (s3, plan.s3)) if msgs
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
    spike = generate_spike(
        args.orders,
        customers=args.customers,
        skus=args.skus,
        duplicates=args.duplicates,
        malformed=args.malformed,
        seed=args.seed,
    )
    return Plan.split(spike, args.to_s3, args.customers)


def expected_counts(plan: Plan) -> dict[str, int]:
    """The totals the live view counts towards."""
    return {
        "messages": len(plan.spike.messages),
        "fifo": len(plan.valid_ids(plan.fifo)),
        "valid": len(plan.spike.orders),
        "malformed": len(plan.malformed(plan.fifo)),
    }
