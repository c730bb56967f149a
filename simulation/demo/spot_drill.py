"""The local Spot drill (`--spot-drill N`): interruption notices through IMDS stand-ins, drains timed, replacements started."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulation.demo.checks import Check
from simulation.imds_standin import ImdsStub, running_imds
from simulation.stack import Child, EmulatedStack

SPOT_NOTICE_SECONDS = 120
"""A Spot interruption notice comes two minutes before the instance is reclaimed."""


@dataclass
class Drilled:
    name: str
    notice_at: float
    depth_at_notice: int
    stored_at_notice: int
    child: Child
    stub: ImdsStub
    exited_at: float | None = None
    replacement: str = ""


class SpotDrill:
    """`--spot-drill N`: the Spot game day on one machine.

    Every FIFO worker gets its own IMDS stand-in, as every instance has its own metadata service. Mid-spike
    (at the first progress sample where the table holds half the FIFO orders) the first N workers' stand-ins
    start serving the interruption notice (`terminate` in 120 s); each worker is timed from the notice to
    its process exit, and when it exits a replacement worker (with its own stand-in) starts, as the Auto
    Scaling group replaces a reclaimed instance. Whether anything was lost or duplicated is the verify
    step's exactly-once checks, read from the stores.
    """

    def __init__(self, stack: EmulatedStack, count: int, standins: contextlib.ExitStack) -> None:
        self.stack = stack
        self.count = count
        self.standins = standins
        self.workers: list[tuple[Child, ImdsStub]] = []
        self.drilled: list[Drilled] = []
        self.sent_at_seconds: float | None = None

    def start_worker(self) -> str:
        n = len(self.workers) + 1
        stub = self.standins.enter_context(running_imds(f"i-{n:017x}"))
        name = f"worker-{n}"
        child = self.stack.spawn(name, ["run", "--wait-seconds", "5"], self.stack.worker_env(name, stub.url))
        self.workers.append((child, stub))
        return child.name

    def step(self, t: float, trigger: bool, depth: int, stored: int) -> None:
        """Called on every progress sample (the order queue's `depth` and the orders `stored` so far): send the
        notices once `trigger` holds, replace who has exited."""
        if self.sent_at_seconds is None and trigger:
            self.sent_at_seconds = round(t, 1)
            for child, stub in self.workers[: self.count]:
                stub.interrupt("terminate", SPOT_NOTICE_SECONDS)
                d = Drilled(child.name, time.time(), depth, stored, child, stub)
                threading.Thread(target=self._await_exit, args=(d,), name=f"exit-{child.name}", daemon=True).start()
                self.drilled.append(d)
        for d in self.drilled:
            if d.exited_at is not None and not d.replacement:
                d.replacement = self.start_worker()

    @staticmethod
    def _await_exit(d: Drilled) -> None:
        d.child.proc.wait()
        d.exited_at = time.time()

    def done(self) -> bool:
        return self.sent_at_seconds is not None and all(d.replacement for d in self.drilled)

    def report(self) -> dict[str, Any]:
        rows = []
        for d in self.drilled:
            summary = _stopped_summary(d.child.log_path)
            seen = d.stub.notice_served_at
            rows.append(
                {
                    "worker": d.name,
                    "queue_depth_at_notice": d.depth_at_notice,
                    "orders_stored_at_notice": d.stored_at_notice,
                    "notice_seen_after_seconds": round(seen - d.notice_at, 2) if seen else None,
                    "drain_seconds": round(d.exited_at - d.notice_at, 2) if d.exited_at else None,
                    "worker_drained_in_seconds": summary.get("drained_in_seconds"),
                    "stop_reason": summary.get("reason"),
                    "within_worker_deadline": summary.get("within_deadline"),
                    "left_held": summary.get("left_held"),
                    "exit_code": d.child.proc.returncode,
                    "replacement": d.replacement,
                }
            )
        drains = [r["drain_seconds"] for r in rows if r["drain_seconds"] is not None]
        return {
            "workers_interrupted": len(rows),
            "notice_sent_at_seconds": self.sent_at_seconds,
            "trigger": "first sample with half the FIFO orders stored",
            "notice_seconds": SPOT_NOTICE_SECONDS,
            "replacements_started": sum(1 for r in rows if r["replacement"]),
            "max_drain_seconds": max(drains) if drains else None,
            "per_worker": rows,
        }

    def checks(self, report: dict[str, Any], exactly_once: list[Check]) -> list[Check]:
        rows = report["per_worker"]
        drains = [r["drain_seconds"] for r in rows]
        return [
            Check(
                f"spot drill: {self.count} notices sent, drained on the notice and replaced",
                len(rows) == self.count
                and all(r["stop_reason"] == "spot-interruption" and r["exit_code"] == 0 for r in rows)
                and report["replacements_started"] == self.count,
                f"{len(rows)} notices at {report['notice_sent_at_seconds']}s, stop reasons "
                f"{[r['stop_reason'] for r in rows]}, {report['replacements_started']} replacements",
            ),
            Check(
                f"spot drill: every drain within the {SPOT_NOTICE_SECONDS} s notice",
                bool(rows) and all(x is not None and x < SPOT_NOTICE_SECONDS for x in drains),
                f"notice -> exit {drains} s (max {report['max_drain_seconds']})",
            ),
            Check(
                "spot drill: nothing lost or duplicated",
                bool(exactly_once) and all(c.ok for c in exactly_once),
                "; ".join(f"{c.name}: {'ok' if c.ok else 'FAIL'}" for c in exactly_once),
            ),
        ]


def _stopped_summary(log_path: Path) -> dict[str, Any]:
    """The summary of a worker's "worker stopped" log line ({} if it never wrote one)."""
    with contextlib.suppress(OSError):
        for line in reversed(log_path.read_text(errors="replace").splitlines()):
            if '"worker stopped"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    return dict(json.loads(line)["summary"])
    return {}
