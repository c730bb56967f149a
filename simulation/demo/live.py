"""The progress loop and its live view: a sample a second until the queues drain, a process dies, the timeout passes or Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from simulation.demo.denials import DenialLog, describe
from simulation.demo.plan import Progress
from simulation.demo.probe import Probe, Sample
from simulation.demo.spot_drill import SpotDrill
from simulation.stack import EmulatedStack


def progress_view(samples: list[Sample], expected: dict[str, int], workers: int) -> Group:
    """The live view: totals against what is expected, rates over the last 5 s, every queue's depth."""
    s = samples[-1]
    window = [x for x in samples if x.t >= s.t - 5]
    span = max(window[-1].t - window[0].t, 1e-6)

    def rate(field: str) -> str:
        return f"{(getattr(window[-1], field) - getattr(window[0], field)) / span:6.1f}" if len(window) > 1 else "-"

    top = Table(title=f"Black Friday on one machine - {s.t:5.1f}s - {workers} FIFO workers", expand=False)
    for col in ("produced", "processed (DynamoDB)", "shipped", "analysed", "in DLQs", "stored/s", "shipped/s"):
        top.add_column(col, justify="right")
    top.add_row(
        f"{s.produced}/{expected['messages']}",
        f"{s.processed}/{expected['fifo']}",
        f"{s.shipped}/{expected['valid']}",
        f"{s.analysed}/{expected['valid']}",
        f"{s.dead}/{expected['malformed']}",
        rate("processed"),
        rate("shipped"),
    )
    queues = Table(title="queue depth (visible + in flight)")
    for name in s.depth:
        queues.add_column(name, justify="right")
    queues.add_row(*(str(v) for v in s.depth.values()))
    return Group(top, queues)


@dataclass
class Watch:
    """The progress loop: a sample a second, shown live (or every 10th as a line), until the queues
    drain, a process dies, the timeout passes or Ctrl-C."""

    console: Console
    args: argparse.Namespace
    stack: EmulatedStack
    progress: Progress
    drill: SpotDrill | None
    expected: dict[str, int]
    t0: float
    probe: Probe
    samples: list[Sample] = field(default_factory=list)
    quiet: int = 0
    """Consecutive samples with the producer done and every work queue empty."""
    drained: bool = False
    interrupted: threading.Event = field(default_factory=threading.Event)
    denials: DenialLog = field(init=False)

    def __post_init__(self) -> None:
        self.denials = DenialLog(self.stack.log_dir)

    def run(self) -> bool:
        """Watch until done; whether the queues drained. Ctrl-C stops the loop cleanly, to report."""
        live_on = not self.args.plain and self.console.is_terminal
        previous = signal.signal(signal.SIGINT, lambda *_: self.interrupted.set())
        with Live(console=self.console, refresh_per_second=2, transient=False) if live_on else _NoLive() as live:
            while True:
                s = self.sample()
                if live_on:
                    live.update(progress_view(self.samples, self.expected, self.args.workers))
                elif len(self.samples) % 10 == 1:
                    self.console.print(
                        f"{s.t:6.1f}s produced {s.produced} processed {s.processed} shipped {s.shipped} "
                        f"analysed {s.analysed} dead {s.dead} depth {s.depth}"
                    )
                if self.finished(s):
                    break
        signal.signal(signal.SIGINT, previous)
        return self.drained

    def sample(self) -> Sample:
        """Take a sample; tell the producer the queue's depth and the drill how far the spike is."""
        self.samples.append(self.probe.sample(time.monotonic() - self.t0, lambda: self.progress.produced))
        s = self.samples[-1]
        self.progress.backlog = max(v for k, v in s.depth.items() if not k.endswith("DLQ"))
        if self.drill:
            self.drill.step(s.t, s.processed >= self.expected["fifo"] / 2, s.depth["orders"], s.processed)
        return s

    def finished(self, s: Sample) -> bool:
        """Drained (three settled samples in a row), a child exited early, timed out, or interrupted."""
        work = sum(v for k, v in s.depth.items() if not k.endswith("DLQ"))
        settled = self.progress.producing_done and work == 0 and (not self.drill or self.drill.done())
        self.quiet = self.quiet + 1 if settled else 0
        if self.quiet >= 3:
            self.drained = True
            return True
        if new := self.denials.scan():
            for denial in new:
                self.console.print(f"[red]access denied: {describe(denial, self.denials.seen[denial])}")
            self.console.print("[red]stopping: a process lacks a permission its role should have (see the check)")
            return True
        if failed := self.stack.failed_children():
            self.console.print(f"[red]{', '.join(c.name for c in failed)} exited early; see {self.stack.log_dir}")
            return True
        if s.t > self.args.timeout:
            self.console.print(f"[red]timeout after {self.args.timeout:.0f}s with {work} messages still queued")
            return True
        if self.interrupted.wait(1.0):
            self.console.print("[yellow]interrupted: stopping the workers and checking what got done")
            self.progress.cancelled.set()
            return True
        return False


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *_: object) -> None:
        return None
