"""`python -m simulation demo`: the Black Friday simulation of the whole system on one machine.

The command itself: the stack up, the processes and the producer started, the progress loop, the checks,
the report; each part lives in its own module of this package (see its docstring).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from simulation.demo.checks import EXACTLY_ONCE, Check, verify
from simulation.demo.live import Watch
from simulation.demo.plan import Plan, Progress, expected_counts, plan_spike, produce
from simulation.demo.probe import Probe
from simulation.demo.readback import worker_summaries
from simulation.demo.report import Timings, build_report, chart, print_report
from simulation.demo.spot_drill import SpotDrill
from simulation.producer import add_spike_arguments
from simulation.stack import ENDPOINT_HELP, ROOT, EmulatedStack, default_stock, emulated_stack


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulation demo", description=__doc__.split("\n\n")[0])
    add_spike_arguments(p, orders=10_000)
    p.add_argument("--workers", type=int, default=4, help="FIFO worker processes (default 4)")
    p.add_argument("--pollers", type=int, default=1, help="consumer processes per fan-out queue (default 1)")
    p.add_argument("--to-s3", type=float, default=0.0, help="share of customers whose orders use the S3 bulk path")
    p.add_argument(
        "--to-api",
        type=float,
        default=0.05,
        help="share of customers whose orders are POSTed to the intake API, SigV4-signed as an iam-mode client "
        "(default 0.05)",
    )
    p.add_argument("--rate", type=float, default=None, help="producer messages/s (default: as fast as possible)")
    p.add_argument(
        "--max-backlog",
        type=int,
        default=300,
        help="hold the producer back while a work queue (FIFO or fan-out) is deeper (default 300, 0 = never): "
        "the emulator's receives and deletes scan the whole queue",
    )
    p.add_argument("--endpoint", help=ENDPOINT_HELP)
    p.add_argument(
        "--revoke",
        metavar="ROLE:ACTION",
        help="drill: take one permission away from one of the stack's roles in the emulator before the spike, "
        "e.g. workers-instance:dynamodb:PutItem; the demo must stop at the denial and fail a check naming it",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the queues to drain")
    p.add_argument("--out", default=str(ROOT / ".demo"), help="report.json, report.png and logs (default .demo/)")
    p.add_argument("--plain", action="store_true", help="no live view (default when stdout is not a terminal)")
    p.add_argument(
        "--spot-drill",
        type=int,
        default=0,
        metavar="N",
        help="mid-spike (half the FIFO orders stored), send N workers a Spot interruption notice through their "
        "IMDS stand-ins, time their drains and start replacements (default 0: no drill)",
    )
    return p


def announce_plan(console: Console, args: argparse.Namespace, plan: Plan) -> None:
    spike = plan.spike
    console.print(
        f"[bold]Black Friday simulation[/]: {args.orders} orders ({len(plan.fifo)} messages to the FIFO queue, "
        f"{len(plan.api)} through the intake API, "
        f"{len(plan.s3)} objects to S3), {spike.count('duplicate')} duplicate sends, {spike.count('malformed')} malformed, "
        f"{args.customers} customers, {args.workers} FIFO workers"
    )


def announce_stack(console: Console, stack: EmulatedStack, setup_seconds: float) -> None:
    console.print(
        f"stack up in {setup_seconds:.1f}s: emulator {stack.emulator.endpoint}, PostgreSQL "
        f"(ready in {stack.postgres.started_in:.2f}s), {len(stack.provisioned.created)} resources created from the "
        f"Pulumi program, {len(stack.provisioned.aws_only)} AWS-only"
    )


def start_processes(stack: EmulatedStack, args: argparse.Namespace, standins: contextlib.ExitStack) -> SpotDrill | None:
    """The FIFO workers (each with its own IMDS stand-in under a Spot drill) and the consumers."""
    drill = SpotDrill(stack, args.spot_drill, standins) if args.spot_drill else None
    if drill:
        for _ in range(args.workers):
            drill.start_worker()
    else:
        stack.start_workers(args.workers)
    stack.start_consumers(args.pollers)
    return drill


def all_checks(
    stack: EmulatedStack, plan: Plan, progress: Progress, drained: bool, drill: SpotDrill | None
) -> tuple[list[Check], dict[str, Any], dict[str, Any] | None]:
    """Stop every process, then the checks and figures, the clean exits and the Spot drill's (if any)."""
    cpu = stack.cpu_seconds()
    exit_codes = stack.stop_children()
    checks, figures = verify(stack, plan, progress, drained)
    checks.append(
        Check("every process exited cleanly", all(c == 0 for c in exit_codes.values()), json.dumps(exit_codes))
    )
    spot_drill = drill.report() if drill else None
    if drill and spot_drill:
        checks += drill.checks(spot_drill, [c for c in checks if c.name in EXACTLY_ONCE])
    figures["worker_counters"] = worker_summaries(stack)
    figures["cpu_seconds"] = cpu
    return checks, figures, spot_drill


def revoke(console: Console, stack: EmulatedStack, spec: str) -> None:
    """`--revoke ROLE:ACTION`: the drill's one missing permission (refused if the role never had it)."""
    role, _, action = spec.partition(":")
    if not stack.revoke(role, action):
        raise SystemExit(f"--revoke {spec}: role {role} has no statement allowing {action}")
    console.print(f"[yellow]drill: {action} taken away from role {role} in the emulator")


def run(args: argparse.Namespace, console: Console) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    plan = plan_spike(args)
    expected = expected_counts(plan)
    announce_plan(console, args, plan)
    with (
        emulated_stack(
            out, stock=default_stock(args.orders, args.skus), stack_name="demo", endpoint=args.endpoint
        ) as stack,
        contextlib.ExitStack() as standins,
    ):
        setup_seconds = time.monotonic() - started
        announce_stack(console, stack, setup_seconds)
        if args.revoke:
            revoke(console, stack, args.revoke)
        drill = start_processes(stack, args, standins)
        progress = Progress(max_backlog=args.max_backlog)
        producer = threading.Thread(target=produce, args=(plan, stack, progress, args.rate), name="producer")
        t0 = time.monotonic()
        producer.start()
        watch = Watch(console, args, stack, progress, drill, expected, t0, Probe(stack))
        drained = watch.run()
        producer.join()
        timings = Timings(started, setup_seconds, time.monotonic() - t0)
        watch.probe.close()
        outcome = all_checks(stack, plan, progress, drained, drill)
        report = build_report(args, expected, stack, timings, outcome, watch.samples)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    if watch.samples:
        chart(watch.samples, out / "report.png")
    print_report(console, report, out)
    return 0 if report["passed"] else 1


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.orders < 1 or args.workers < 1 or not 0 <= args.to_s3 <= 1 or not 0 <= args.to_s3 + args.to_api <= 1:
        parser().error("--orders >= 1, --workers >= 1 and 0 <= --to-s3, --to-api, their sum <= 1 are required")
    if not 0 <= args.spot_drill <= args.workers:
        parser().error("--spot-drill N needs 0 <= N <= --workers")
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # logs and CI: wide enough for the report table
    code = run(args, console)
    # Every child process, server and temporary directory was released by its context manager in `run`. The
    # interpreter's own teardown of what is left (the Pulumi runtime, the spike, the samples) takes seconds
    # after the report is printed, so the command ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
