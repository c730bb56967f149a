"""`report.json`, `report.png` and the table printed at the end."""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from simulation.demo.checks import Check
from simulation.demo.probe import Sample
from simulation.stack import EmulatedStack


@dataclass
class Timings:
    started: float
    """time.monotonic() when the run began."""
    setup_seconds: float
    processing_seconds: float


def chart(samples: list[Sample], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in samples]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name in samples[0].depth if samples else []:
        ax1.plot(t, [s.depth[name] for s in samples], label=name)
    ax1.set_ylabel("messages (visible + in flight)")
    ax1.set_title("Queue depth")
    ax1.legend(loc="upper right", fontsize="small")
    rates: dict[str, list[float]] = {"processed (DynamoDB)": [], "shipped": [], "analysed": []}
    for a, b in itertools.pairwise(samples):
        dt = max(b.t - a.t, 1e-6)
        rates["processed (DynamoDB)"].append((b.processed - a.processed) / dt)
        rates["shipped"].append((b.shipped - a.shipped) / dt)
        rates["analysed"].append((b.analysed - a.analysed) / dt)
    for name, values in rates.items():
        ax2.plot(t[1:], values, label=name)
    ax2.set_ylabel("orders/s")
    ax2.set_xlabel("seconds since the workers started")
    ax2.set_title("Throughput")
    ax2.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_report(
    args: argparse.Namespace,
    expected: dict[str, int],
    stack: EmulatedStack,
    timings: Timings,
    outcome: tuple[list[Check], dict[str, Any], dict[str, Any] | None],
    samples: list[Sample],
) -> dict[str, Any]:
    """What `report.json` holds: the run's parameters, timings, checks, figures and timeline."""
    checks, figures, spot_drill = outcome
    report = {
        "orders": args.orders,
        "workers": args.workers,
        "customers": args.customers,
        "to_s3_share": args.to_s3,
        "messages": expected["messages"],
        "seed": args.seed,
        "setup_seconds": round(timings.setup_seconds, 1),
        "processing_seconds": round(timings.processing_seconds, 1),
        "wall_seconds": round(time.monotonic() - timings.started, 1),
        "checks": [c.__dict__ for c in checks],
        "passed": all(c.ok for c in checks),
        "figures": figures,
        "emulated": sorted({t for t, _, _ in stack.provisioned.created}),
        "aws_only": stack.provisioned.aws_only_types(),
        "not_applied": [list(x) for x in stack.provisioned.not_applied],
        "timeline": [s.__dict__ for s in samples],
    }
    if spot_drill:
        report["spot_drill"] = spot_drill
    return report


def print_report(console: Console, report: dict[str, Any], out: Path) -> None:
    f = report["figures"]
    table = Table(
        title=f"{report['orders']} orders, {report['workers']} workers: {'PASSED' if report['passed'] else 'FAILED'}"
    )
    table.add_column("check")
    table.add_column("", justify="center")
    table.add_column("detail")
    for c in report["checks"]:
        table.add_row(c["name"], "[green]ok[/]" if c["ok"] else "[red]FAIL[/]", c["detail"])
    console.print(table)
    lat = f.get("latency_seconds_sent_to_stored", {})
    ship = f.get("latency_seconds_sent_to_shipped", {})
    console.print(
        f"wall {report['wall_seconds']}s (stack {report['setup_seconds']}s, spike {report['processing_seconds']}s); "
        f"FIFO throughput {f.get('fifo_orders_per_second', 0)} orders/s; producer {f.get('producer')}"
    )
    console.print(f"latency sent->stored {lat}; sent->shipped {ship}")
    console.print(f"worker counters {f.get('worker_counters')}")
    if cpu := f.get("cpu_seconds"):
        per_k = {part: round(sec * 1000 / report["orders"], 2) for part, sec in cpu.items() if sec is not None}
        console.print(f"CPU seconds per 1,000 orders: {per_k}")
    if drill := report.get("spot_drill"):
        spot = Table(
            title=f"Spot drill: {drill['workers_interrupted']} notices at {drill['notice_sent_at_seconds']}s "
            f"({drill['trigger']}), {drill['replacements_started']} replacements, max drain {drill['max_drain_seconds']}s"
        )
        for col in (
            "worker",
            "queue depth",
            "stored at notice",
            "notice seen (s)",
            "notice -> exit (s)",
            "worker drain (s)",
            "reason",
            "replacement",
        ):
            spot.add_column(col, justify="right")
        for r in drill["per_worker"]:
            spot.add_row(
                r["worker"],
                str(r["queue_depth_at_notice"]),
                str(r["orders_stored_at_notice"]),
                str(r["notice_seen_after_seconds"]),
                str(r["drain_seconds"]),
                str(r["worker_drained_in_seconds"]),
                str(r["stop_reason"]),
                r["replacement"],
            )
        console.print(spot)
    console.print(f"emulated from the Pulumi program: {', '.join(t.split(':')[-1] for t in report['emulated'])}")
    console.print(f"deployed to AWS only: {', '.join(t.split(':')[-1] for t in report['aws_only'])}")
    if report["not_applied"]:
        console.print(f"validated, not applied in the emulator: {report['not_applied']}")
    console.print(f"report: {out / 'report.json'}  chart: {out / 'report.png'}")
