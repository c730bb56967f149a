"""FIFO worker benchmark: the emulator's work-equivalent ceiling vs a naive seed-style worker vs ours.

`python -m bench.worker` (defaults: 10,000 orders in 100 groups, medians of 3 runs). Each run gets a
fresh emulator state; orders are produced (batches of 10) while the consumer runs, and the clock stops
when the table holds every order. After every run, exactly-once and per-group order are checked from
the table. Variants, each its own process: CPU seconds from os.wait4, peak RSS from its VmHWM:
  ceiling  our worker's shape and calls with no logic: 4 receive loops (receive 10), each batch's
           groups written in parallel on 16 threads (conditional PutItem, conditional PutObject),
           DeleteMessageBatch; no validation, heartbeat, pipelining or bookkeeping;
  naive    the seed's loop: receive 1, parse, write the order, put the invoice, delete 1;
  ours     `python -m worker run`.
Loopback caveat: the emulator (one Python process) is the bottleneck and there is no network latency,
so these ratios understate what batching and concurrency buy against a real region's round trips.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("ceiling", "naive", "ours")


# --- the consumer variants (child processes) -----------------------------------------------------


def _stopper() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _put_order(ddb: Any, s3: Any, table: str, bucket: str, body: str, msg: dict[str, Any]) -> None:
    """The same two writes per order as the worker: conditional PutItem, conditional PutObject."""
    order = json.loads(body)
    attrs = msg.get("Attributes", {})
    ddb.put_item(
        TableName=table,
        Item={
            "OrderID": {"S": order["OrderID"]},
            "CustomerID": {"S": order["CustomerID"]},
            "Total": {"N": str(order["Total"])},
            "MessageGroupId": {"S": attrs.get("MessageGroupId", "")},
            "SequenceNumber": {"S": attrs.get("SequenceNumber", "")},
            "ProcessedAt": {"S": datetime.now(UTC).isoformat(timespec="microseconds")},
        },
        ConditionExpression="attribute_not_exists(OrderID)",
    )
    s3.put_object(Bucket=bucket, Key=f"invoices/{order['OrderID']}.json", Body=body.encode(), IfNoneMatch="*")


def run_ceiling(queue_url: str, table: str, bucket: str, threads: int) -> None:
    """Our worker's shape with nothing else: 4 receive loops, each batch's writes on a pool of `threads`."""
    from concurrent.futures import ThreadPoolExecutor

    stop = _stopper()
    sqs, ddb, s3 = (boto3.client(s) for s in ("sqs", "dynamodb", "s3"))
    pool = ThreadPoolExecutor(threads)

    def write_run(run: list[dict[str, Any]]) -> None:
        for m in run:
            _put_order(ddb, s3, table, bucket, m["Body"], m)

    def loop() -> None:
        while not stop.is_set():
            msgs = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
            by_group: dict[str, list[dict[str, Any]]] = {}
            for m in msgs:
                by_group.setdefault(m["Attributes"]["MessageGroupId"], []).append(m)
            # groups in parallel, each group's messages in order (the same calls in the same order as ours)
            list(pool.map(write_run, by_group.values()))
            if msgs:
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
                )

    receivers = [threading.Thread(target=loop, daemon=True) for _ in range(4)]
    for r in receivers:
        r.start()
    for r in receivers:
        r.join()


def run_naive(queue_url: str, table: str, bucket: str) -> None:
    stop = _stopper()
    sqs, ddb, s3 = (boto3.client(s) for s in ("sqs", "dynamodb", "s3"))
    while not stop.is_set():
        for m in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            _put_order(ddb, s3, table, bucket, m["Body"], m)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


# --- the parent -------------------------------------------------------------------------------------


def _all_stored(table: str, last_per_group: list[str]) -> bool:
    """Each group's last order is stored (groups complete in order; the full check follows the run).

    A point read of <= 100 keys per poll: moto's ItemCount iterates the table while writes land."""
    ddb = boto3.client("dynamodb")
    for start in range(0, len(last_per_group), 100):
        keys = [{"OrderID": {"S": oid}} for oid in last_per_group[start : start + 100]]
        got = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ProjectionExpression": "OrderID"}})
        if len(got["Responses"].get(table, [])) < len(keys) or got.get("UnprocessedKeys"):
            return False
    return True


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of the process since its exec (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_run(variant: str, args: argparse.Namespace, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    from simulation.fifo_harness import assert_exactly_once_in_order, plan_orders, provision, send

    res = provision(fan_out=False)  # the worker alone, as measured: no S3 -> SNS -> SQS inside each PutObject
    sent = plan_orders(args.orders, args.groups, prefix=variant)
    log = workdir / f"{variant}-{time.time_ns()}.log"
    base = [sys.executable, "-m"]
    cmd = {
        "ceiling": [*base, "bench.worker", "_ceiling", res.queue_url, res.table, res.bucket, str(args.threads)],
        "naive": [*base, "bench.worker", "_naive", res.queue_url, res.table, res.bucket],
        "ours": [*base, "worker", "run"],
    }[variant]
    child_env = {
        **env,
        "ORDERS_QUEUE_URL": res.queue_url,
        "ORDERS_TABLE": res.table,
        "ORDERS_BUCKET": res.bucket,
        "ORDERS_IMDS_URL": "",
        "ORDERS_METRICS_INTERVAL": "3600",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, *(["--wait-seconds", "2"] if variant == "ours" else [])],
            cwd=ROOT,
            env=child_env,
            stdout=out,
            stderr=out,
        )
    time.sleep(1.5)  # let it import and start polling
    producer = threading.Thread(target=send, args=(res.queue_url, sent, boto3.client("sqs")), daemon=True)
    started = time.monotonic()
    producer.start()
    last_per_group = list({s.group: s.order_id for s in sent}.values())
    while not _all_stored(res.table, last_per_group):
        if proc.poll() is not None:
            raise RuntimeError(f"{variant} exited early:\n{log.read_text()[-2000:]}")
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    producer.join()
    peak_rss_mb = _peak_rss_mb(proc.pid)  # before it exits; rusage's maxrss would include our pre-exec fork
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert_exactly_once_in_order(res.table, sent)  # exactly once, per-group order, after every run
    result: dict[str, Any] = {
        "orders_per_s": args.orders / elapsed,
        "cpu_s_per_1000": (usage.ru_utime + usage.ru_stime) * 1000 / args.orders,
        "peak_rss_mb": max(peak_rss_mb, 0.0),
    }
    if variant == "ours":
        summary = next(
            json.loads(line)["summary"] for line in reversed(log.read_text().splitlines()) if '"worker stopped"' in line
        )
        result["api_calls"] = summary["api_calls"]
        result["write_units"] = summary["counters"]["write_units"]
    return result


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_ceiling":
        run_ceiling(argv[1], argv[2], argv[3], int(argv[4]))
        return 0
    if argv and argv[0] == "_naive":
        run_naive(argv[1], argv[2], argv[3])
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--groups", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=16, help="ceiling write threads (ours: 16 processors)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]

    from simulation.emulator_process import emulator_process

    with emulator_process() as emulator:  # its own process: the emulator gets a core of its own
        env = {**os.environ, **emulator.env(), "PYTHONPATH": str(ROOT)}
        results = run_all(args, variants, emulator, env)
    report(results, args)
    return 0


def run_all(
    args: argparse.Namespace, variants: list[str], emulator: Any, env: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-worker-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for run in range(args.runs):
        for variant in variants:
            emulator.reset()
            r = one_run(variant, args, env, workdir)
            results[variant].append(r)
            print(f"run {run + 1}/{args.runs} {variant:8s} {r['orders_per_s']:7.1f} orders/s", flush=True)
    return results


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def med(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    print(f"\n{args.orders} orders in {args.groups} groups, produced while consuming; medians of {args.runs} runs")
    print("| variant | orders/s | CPU s per 1,000 orders | peak RSS MB |")
    print("| --- | --- | --- | --- |")
    for v in results:
        print(f"| {v} | {med(v, 'orders_per_s'):.1f} | {med(v, 'cpu_s_per_1000'):.2f} | {med(v, 'peak_rss_mb'):.0f} |")
    if "ours" in results:
        ours = med("ours", "orders_per_s")
        for other in ("ceiling", "naive"):
            if other in results:
                print(f"ours / {other}: {ours / med(other, 'orders_per_s'):.2f}x")
        last = results["ours"][-1]
        per_order = {k: round(v / args.orders, 3) for k, v in last["api_calls"].items()}
        print(f"ours, API calls per order: {json.dumps(per_order)}")
        print(f"ours, DynamoDB write units per order: {last['write_units'] / args.orders:.2f}")
    print("Loopback caveat: CPU-bound emulator, no network latency; real-region gains from batching are larger.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
