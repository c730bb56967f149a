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
`--rtt-ms 0,5,20` models that round trip as bench/producer.py does: every request of the consumer
process waits that long on the client side before it is sent (a botocore `before-send` hook on every
client the process creates, `python -m worker run` included, through `install_rtt`). The producer and
the completion checks stay on loopback: they are the load and the stopwatch, not the worker.
Each variant also reports its API calls per order (botocore `before-call`, counted in the child).
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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("ceiling", "naive", "ours")
RTT_ENV = "BENCH_RTT_MS"
"""The modelled round trip (ms) a child process adds before every request it sends."""
CALLS_MARK = "bench api calls: "
"""The line a naive/ceiling child prints on exit: CALLS_MARK + JSON {"sqs.ReceiveMessage": n, ...}."""
RUN_TIMEOUT_SECONDS = 900.0
CALL_KINDS = {
    "receives": ("sqs.ReceiveMessage",),
    "deletes": ("sqs.DeleteMessage", "sqs.DeleteMessageBatch"),
    "PutItem": ("dynamodb.PutItem",),
    "PutObject": ("s3.PutObject",),
}


# --- the consumer variants (child processes) -----------------------------------------------------


def install_rtt(rtt_ms: float, calls: Counter[str] | None = None) -> None:
    """Every botocore client created from now on in this process: sleep `rtt_ms` before each request
    (as bench/producer.py), and count each API call in `calls` ("<service>.<Operation>")."""
    from botocore.session import Session

    original = Session.create_client
    delay = rtt_ms / 1000

    def create_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        if delay > 0:
            client.meta.events.register("before-send", lambda **_: time.sleep(delay))
        if calls is not None:
            client.meta.events.register(
                "before-call", lambda event_name, **_: calls.update([event_name.split(".", 1)[1]])
            )
        return client

    Session.create_client = create_client  # type: ignore[method-assign]


def _stopper() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _report_calls(calls: Counter[str]) -> None:
    print(CALLS_MARK + json.dumps(dict(calls)), flush=True)


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

    calls: Counter[str] = Counter()
    install_rtt(float(os.environ.get(RTT_ENV, "0")), calls)
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
    _report_calls(calls)


def run_naive(queue_url: str, table: str, bucket: str) -> None:
    calls: Counter[str] = Counter()
    install_rtt(float(os.environ.get(RTT_ENV, "0")), calls)
    stop = _stopper()
    sqs, ddb, s3 = (boto3.client(s) for s in ("sqs", "dynamodb", "s3"))
    while not stop.is_set():
        for m in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            _put_order(ddb, s3, table, bucket, m["Body"], m)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    _report_calls(calls)


def run_ours(argv: list[str]) -> int:
    """`python -m worker run` itself, with the modelled round trip on every client it creates."""
    install_rtt(float(os.environ.get(RTT_ENV, "0")))
    from worker.fifo.cli import main as worker_main

    return worker_main(argv)


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


def _calls_per_order(api_calls: dict[str, int], orders: int) -> dict[str, float]:
    return {kind: sum(api_calls.get(op, 0) for op in ops) / orders for kind, ops in CALL_KINDS.items()}


def one_run(
    variant: str, args: argparse.Namespace, env: dict[str, str], workdir: Path, rtt_ms: float
) -> dict[str, Any]:
    from simulation.fifo_harness import assert_exactly_once_in_order, plan_orders, provision, send

    res = provision(fan_out=False)  # the worker alone, as measured: no S3 -> SNS -> SQS inside each PutObject
    orders = args.naive_orders if variant == "naive" and args.naive_orders else args.orders
    sent = plan_orders(orders, args.groups, prefix=variant)
    log = workdir / f"{variant}-{time.time_ns()}.log"
    base = [sys.executable, "-m", "bench.worker"]
    cmd = {
        "ceiling": [*base, "_ceiling", res.queue_url, res.table, res.bucket, str(args.threads)],
        "naive": [*base, "_naive", res.queue_url, res.table, res.bucket],
        "ours": [*base, "_ours", "--wait-seconds", "2"],
    }[variant]
    child_env = {
        **env,
        "ORDERS_QUEUE_URL": res.queue_url,
        "ORDERS_TABLE": res.table,
        "ORDERS_BUCKET": res.bucket,
        "ORDERS_IMDS_URL": "",
        "ORDERS_METRICS_INTERVAL": "3600",
        RTT_ENV: str(rtt_ms),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=out, stderr=out)
    time.sleep(1.5)  # let it import and start polling
    producer = threading.Thread(target=send, args=(res.queue_url, sent, boto3.client("sqs")), daemon=True)
    started = time.monotonic()
    producer.start()
    last_per_group = list({s.group: s.order_id for s in sent}.values())
    while not _all_stored(res.table, last_per_group):
        if proc.poll() is not None:
            raise RuntimeError(f"{variant} exited early:\n{log.read_text()[-2000:]}")
        if time.monotonic() - started > RUN_TIMEOUT_SECONDS:
            proc.kill()
            raise RuntimeError(f"{variant} at {rtt_ms} ms did not store {orders} orders in {RUN_TIMEOUT_SECONDS}s")
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    producer.join()
    peak_rss_mb = _peak_rss_mb(proc.pid)  # before it exits; rusage's maxrss would include our pre-exec fork
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert_exactly_once_in_order(res.table, sent)  # exactly once, per-group order, after every run
    lines = log.read_text().splitlines()
    if variant == "ours":
        summary = next(json.loads(line)["summary"] for line in reversed(lines) if '"worker stopped"' in line)
        api_calls = summary["api_calls"]
    else:
        api_calls = next(json.loads(line[len(CALLS_MARK) :]) for line in reversed(lines) if line.startswith(CALLS_MARK))
    return {
        "orders": orders,
        "seconds": elapsed,
        "orders_per_s": orders / elapsed,
        "cpu_s_per_1000": (usage.ru_utime + usage.ru_stime) * 1000 / orders,
        "peak_rss_mb": max(peak_rss_mb, 0.0),
        "calls_per_order": _calls_per_order(api_calls, orders),
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_ceiling":
        run_ceiling(argv[1], argv[2], argv[3], int(argv[4]))
        return 0
    if argv and argv[0] == "_naive":
        run_naive(argv[1], argv[2], argv[3])
        return 0
    if argv and argv[0] == "_ours":
        return run_ours(argv[1:])
    p = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument(
        "--naive-orders", type=int, default=0, help="orders per naive run (default --orders; it is slow at high RTT)"
    )
    p.add_argument("--groups", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=16, help="ceiling write threads (ours: 16 processors)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--rtt-ms", default="0", help="comma-separated modelled round trips in ms (e.g. 0,5,20)")
    p.add_argument("--json", dest="json_out", type=Path, help="also write every run and the medians here")
    p.add_argument("--measured", type=Path, help="write ours' per-process figures (the planner's ops/measured.json)")
    args = p.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"--variants: unknown {unknown}; choose from {list(VARIANTS)}")
    try:
        rtts = [float(x) for x in args.rtt_ms.split(",") if x.strip()]
    except ValueError:
        p.error(f"--rtt-ms: expected comma-separated numbers, got {args.rtt_ms!r}")
    if not rtts or min(rtts) < 0:
        p.error("--rtt-ms: give at least one round trip >= 0")

    from simulation.emulator import running_emulator

    uptime_before = _uptime()
    with running_emulator(export_env=False) as emulator:  # its own process: the emulator gets a core of its own
        env = {**os.environ, **emulator.env(), "PYTHONPATH": str(ROOT)}
        results = run_all(args, variants, rtts, emulator, env)
    medians = report(results, args)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": _machine(),
        "uptime_before": uptime_before,
        "uptime_after": _uptime(),
        "command": "python -m bench.worker " + " ".join(argv),
    }
    print(f"uptime before: {meta['uptime_before']}\nuptime after:  {meta['uptime_after']}")
    if args.json_out:
        args.json_out.write_text(json.dumps({**meta, "runs": results, "medians": medians}, indent=2) + "\n")
    if args.measured and any("ours" in by_variant for by_variant in medians.values()):
        write_measured(args.measured, meta, medians)
    return 0


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown CPU",
    )
    mem_kb = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    )
    return f"{os.cpu_count()} vCPU {cpu}, {mem_kb / 1024 / 1024:.0f} GiB, shared with other jobs; moto emulator on loopback"


def run_all(
    args: argparse.Namespace, variants: list[str], rtts: list[float], emulator: Any, env: dict[str, str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """rtt (as a string key) -> variant -> runs. Variants alternate within each repetition."""
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-worker-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for rtt in rtts:
        key = f"{rtt:g}"
        results[key] = {v: [] for v in variants}
        for run in range(args.runs):
            for variant in variants:
                emulator.reset()
                r = one_run(variant, args, env, workdir, rtt)
                results[key][variant].append(r)
                print(
                    f"rtt {key:>3} ms run {run + 1}/{args.runs} {variant:8s} {r['orders_per_s']:7.1f} orders/s "
                    f"cpu {r['cpu_s_per_1000']:.2f} s/1000",
                    flush=True,
                )
    return results


def report(
    results: dict[str, dict[str, list[dict[str, Any]]]], args: argparse.Namespace
) -> dict[str, dict[str, dict[str, Any]]]:
    """Print the table; return rtt -> variant -> medians."""
    medians: dict[str, dict[str, dict[str, Any]]] = {}
    print(f"\n{args.groups} groups, produced while consuming; medians of {args.runs} runs")
    print(
        "| RTT ms | variant | orders | orders/s | vs naive | CPU s per 1,000 orders | peak RSS MB "
        "| receives/order | deletes/order | PutItem/order | PutObject/order |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for rtt, by_variant in results.items():
        medians[rtt] = {}
        for v, runs in by_variant.items():
            m: dict[str, Any] = {
                k: statistics.median(r[k] for r in runs) for k in ("orders_per_s", "cpu_s_per_1000", "peak_rss_mb")
            }
            m["orders"] = runs[0]["orders"]
            m["per_run_orders_per_s"] = [round(r["orders_per_s"], 1) for r in runs]
            m["calls_per_order"] = {
                kind: round(statistics.median(r["calls_per_order"][kind] for r in runs), 3) for kind in CALL_KINDS
            }
            medians[rtt][v] = m
        naive = medians[rtt].get("naive")
        for v, m in medians[rtt].items():
            ratio = f"{m['orders_per_s'] / naive['orders_per_s']:.1f}x" if naive else "-"
            c = m["calls_per_order"]
            print(
                f"| {rtt} | {v} | {m['orders']} | {m['orders_per_s']:.1f} | {ratio} | {m['cpu_s_per_1000']:.2f} "
                f"| {m['peak_rss_mb']:.0f} | {c['receives']:.3f} | {c['deletes']:.3f} | {c['PutItem']:.3f} "
                f"| {c['PutObject']:.3f} |"
            )
    for rtt, meds in medians.items():
        print(
            f"per-run orders/s at {rtt} ms: " + "; ".join(f"{v} {m['per_run_orders_per_s']}" for v, m in meds.items())
        )
    print(
        "Caveat: loopback to a CPU-bound moto emulator on a shared 2-core machine; RTT > 0 is a client-side "
        "delay per request (bench/producer.py's model), not a real network."
    )
    return medians


def write_measured(path: Path, meta: dict[str, Any], medians: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The planner's input (ops/measured.json): ours' orders/s per worker process at each modelled RTT."""
    points = [
        {
            "rtt_ms": float(rtt),
            "orders_per_second": round(by_variant["ours"]["orders_per_s"], 1),
            "cpu_seconds_per_1000_orders": round(by_variant["ours"]["cpu_s_per_1000"], 2),
            "peak_rss_mb": round(by_variant["ours"]["peak_rss_mb"]),
            "calls_per_order": by_variant["ours"]["calls_per_order"],
            "naive_orders_per_second": round(by_variant["naive"]["orders_per_s"], 1) if "naive" in by_variant else None,
        }
        for rtt, by_variant in medians.items()
        if "ours" in by_variant
    ]
    doc = {
        "what": "orders/s of one `python -m worker run` process (medians), measured by bench/worker.py",
        **meta,
        "caveats": [
            "loopback to the moto emulator (one Python process, often the bottleneck), not a real region",
            "RTT is modelled: a client-side sleep before every request; no real network, no AWS service latency spread",
            "a shared 2-core machine, not the fleet's instance types: real per-instance throughput is unknown",
            "one worker process per instance is assumed",
        ],
        "points": points,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
