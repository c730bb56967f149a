"""`python -m bench.producer`: our producer vs a sequential one-call-per-order producer, side by side.

Both write the same spike (same seed) into the same kind of freshly provisioned stack (the Pulumi
program, provisioned into the embedded emulator): N orders into the FIFO queue, then N objects into
the invoices bucket, whose S3 -> SNS -> SQS fan-out delivers each one to every fan-out queue. Runs
alternate between the two producers and each is repeated; the report gives medians and the ratio.

Loopback caveat: there is no network latency here (and no netem to add it), so every call costs only
the emulator's CPU time on a shared 2-core machine, and the emulator's single interpreter is the
bottleneck of both producers. Against a real region each call is also a network round trip, which is
what batching and concurrency hide. `--rtt-ms` models that round trip by delaying every request on the
client side (a botocore `before-send` hook); the table reports loopback and modelled-RTT runs apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3

from offline.provision.provisioner import provision
from simulation.emulator import Emulator, running_emulator
from simulation.producer import DEFAULT_SENDERS, Outgoing, client_config, generate_spike, send_fifo, upload_s3

S3_CONCURRENCY = 16


RTT_SECONDS = 0.0
"""Modelled network round trip added before every request (0: plain loopback)."""


def client(service: str, concurrency: int) -> Any:
    c = boto3.client(service, config=client_config(concurrency))
    if RTT_SECONDS:
        c.meta.events.register("before-send", lambda **_: time.sleep(RTT_SECONDS))
    return c


def sequential_fifo(messages: list[Outgoing], queue_url: str) -> float:
    sqs = client("sqs", 1)
    started = time.monotonic()
    for m in messages:
        sqs.send_message(
            QueueUrl=queue_url, MessageBody=m.body, MessageGroupId=m.group_id, MessageDeduplicationId=m.dedup_id
        )
    return time.monotonic() - started


def sequential_s3(messages: list[Outgoing], bucket: str, prefix: str) -> float:
    s3 = client("s3", 1)
    started = time.monotonic()
    for m in messages:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{m.order_id}.json", Body=m.body.encode())
    return time.monotonic() - started


def ours_fifo(messages: list[Outgoing], queue_url: str) -> float:
    result = send_fifo(messages, queue_url, sqs=client("sqs", DEFAULT_SENDERS))
    if result.failed:
        raise RuntimeError(f"{len(result.failed)} not sent: {result.failed[:3]}")
    return result.seconds


def ours_s3(messages: list[Outgoing], bucket: str, prefix: str) -> float:
    result = upload_s3(messages, bucket, prefix=prefix, concurrency=S3_CONCURRENCY, s3=client("s3", S3_CONCURRENCY))
    if result.failed:
        raise RuntimeError(f"{len(result.failed)} not uploaded: {result.failed[:3]}")
    return result.seconds


def depth(url: str) -> int:
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def one_run(
    emulator: Emulator,
    messages: list[Outgoing],
    expected_fifo: int,
    fifo: Callable[[list[Outgoing], str], float],
    s3: Callable[[list[Outgoing], str, str], float],
) -> dict[str, float]:
    emulator.reset()
    exports = provision(emulator.region, endpoint=emulator.endpoint, stack="bench").exports
    fifo_seconds = fifo(messages, exports["orderQueueUrl"])
    if depth(exports["orderQueueUrl"]) != expected_fifo:
        raise RuntimeError(f"FIFO queue holds {depth(exports['orderQueueUrl'])}, expected {expected_fifo}")
    # Counted from the depth before the uploads: S3's s3:TestEvent, sent when the notification was
    # configured, may already be there.
    before = {name: depth(url) for name, url in exports["fanoutQueueUrls"].items()}
    s3_seconds = s3(messages, exports["invoicesBucketName"], exports["invoicePrefix"])
    for name, url in exports["fanoutQueueUrls"].items():
        got = depth(url) - before[name]
        if got != len(messages):
            raise RuntimeError(f"fan-out queue {name} holds {got} events, expected {len(messages)}")
    return {"fifo": fifo_seconds, "s3": s3_seconds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.producer", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rtt-ms", default="0,10", help="comma-separated modelled round trips in ms (default 0,10)")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = p.parse_args(argv)
    global RTT_SECONDS
    messages = generate_spike(args.orders, duplicates=0.0, malformed=0.0, seed=2026).messages
    rtts = [float(x) for x in args.rtt_ms.split(",") if x.strip()]
    result: dict[str, Any] = {"orders": args.orders, "repeat": args.repeat, "runs": []}
    with running_emulator() as emulator:
        for rtt in rtts:
            RTT_SECONDS = rtt / 1000
            runs: dict[str, list[dict[str, float]]] = {"ours": [], "sequential": []}
            for i in range(args.repeat):
                for name, fifo, s3 in (("ours", ours_fifo, ours_s3), ("sequential", sequential_fifo, sequential_s3)):
                    run = one_run(emulator, messages, len(messages), fifo, s3)
                    runs[name].append(run)
                    print(
                        f"rtt {rtt:g} ms run {i + 1}/{args.repeat} {name:<10} fifo {run['fifo']:7.2f}s  s3 {run['s3']:7.2f}s",
                        file=sys.stderr,
                    )
            for path in ("fifo", "s3"):
                ours = statistics.median(r[path] for r in runs["ours"])
                seq = statistics.median(r[path] for r in runs["sequential"])
                result["runs"].append(
                    {
                        "rtt_ms": rtt,
                        "path": path,
                        "ours_seconds": round(ours, 2),
                        "sequential_seconds": round(seq, 2),
                        "ours_per_second": round(args.orders / ours, 1),
                        "sequential_per_second": round(args.orders / seq, 1),
                        "ratio": round(seq / ours, 2),
                    }
                )
    if args.json:
        print(json.dumps(result))
    else:
        print(f"producer benchmark: {args.orders} orders per path, median of {args.repeat} runs each")
        print(f"{'rtt':>6} {'path':<5} {'ours':>14} {'sequential':>16} {'ratio':>7}")
        for r in result["runs"]:
            print(
                f"{r['rtt_ms']:>4g}ms {r['path']:<5} {r['ours_per_second']:>9.1f} msg/s "
                f"{r['sequential_per_second']:>11.1f} msg/s {r['ratio']:>6.2f}x"
            )
        print("rtt 0 = loopback (emulator CPU-bound); rtt > 0 = round trip modelled client-side, see module docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
