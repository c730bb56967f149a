"""FIFO worker benchmark: the emulator's work-equivalent ceiling vs a naive seed-style worker vs ours.

`python -m bench.worker` (defaults: 10,000 orders in 100 groups, medians of 3 runs). Each run gets a
fresh emulator state; orders are produced (batches of 10) while the consumer runs, and the clock stops
when the table holds every order. After every run, exactly-once and per-group order are checked from
the table. Variants, each its own process: CPU seconds from os.wait4, peak RSS from its VmHWM:
  ceiling  our worker's shape and calls with no logic: 4 receive loops (receive 10), each batch's
           groups written in parallel on 16 threads (conditional PutItem, conditional PutObject, sent as
           the worker sends them), DeleteMessageBatch; no validation, heartbeat, pipelining or bookkeeping;
  naive    the seed's loop: receive 1, parse, write the order, put the invoice, delete 1 (boto3 defaults);
  ours     `python -m worker run`.
The emulator is MiniStack in its own process; its CPU seconds per order are read from /proc for each run.
Loopback caveat: there is no network latency, so these ratios understate what batching and concurrency buy
against a real region's round trips.
`--rtt-ms 0,5,20` models that round trip as bench/producer.py does: every request of the consumer
process waits that long on the client side before it is sent (a botocore `before-send` hook on every
client the process creates, `python -m worker run` included, through `install_rtt`); a request that
carries `Expect: 100-continue` waits twice (its headers and its body are two round trips on a network).
The producer and the completion checks stay on loopback: they are the load and the stopwatch, not the worker.
Each variant also reports its API calls per order (botocore `before-call`, counted in the child) and its
Expect: 100-continue waits per order (`before-send`): the round trips an order costs its processor thread
are PutItem + PutObject + those waits. `--measured FILE` writes what the planner derives a per-instance
throughput from (ops/measured.json): ours' and the ceiling's orders/s and CPU per order, the ratio of the
two, round trips per order, and the worker's concurrency.
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

from worker.model import order_table

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("ceiling", "naive", "ours")
RTT_ENV = "BENCH_RTT_MS"
"""The modelled round trip (ms) a child process adds before every request it sends."""
CALLS_MARK = "bench api calls: "
"""The line a naive/ceiling child prints on exit: CALLS_MARK + JSON {"sqs.ReceiveMessage": n, ...}."""
RUN_TIMEOUT_SECONDS = 900.0
EXPECT_100 = "http.Expect-100-continue"
"""Counted per request sent with `Expect: 100-continue` (an extra round trip before the body goes)."""
CALL_KINDS = {
    "receives": ("sqs.ReceiveMessage",),
    "deletes": ("sqs.DeleteMessage", "sqs.DeleteMessageBatch"),
    "PutItem": ("dynamodb.PutItem",),
    "PutObject": ("s3.PutObject",),
    "expect_100_continue": (EXPECT_100,),
}


# --- the consumer variants (child processes) -----------------------------------------------------


def install_rtt(rtt_ms: float, calls: Counter[str] | None = None, expects: Counter[str] | None = None) -> None:
    """Every botocore client created from now on in this process: sleep `rtt_ms` before each request
    (as bench/producer.py; twice for a request with `Expect: 100-continue`), count each API call in `calls`
    ("<service>.<Operation>") and each 100-continue wait in `expects` (EXPECT_100)."""
    from botocore.session import Session

    original = Session.create_client
    delay = rtt_ms / 1000

    def before_send(request: Any, **_: Any) -> None:
        expect = request.headers.get("Expect", b"")
        waits = expect.lower() == (b"100-continue" if isinstance(expect, bytes) else "100-continue")
        if expects is not None and waits:
            expects.update([EXPECT_100])
        if delay > 0:
            time.sleep(delay * (2 if waits else 1))

    def create_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-send", before_send)
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
            **order_table.key_of(order["OrderID"]),
            "CustomerID": {"S": order["CustomerID"]},
            "Total": {"N": str(order["Total"])},
            "MessageGroupId": {"S": attrs.get("MessageGroupId", "")},
            "SequenceNumber": {"S": attrs.get("SequenceNumber", "")},
            "ProcessedAt": {"S": datetime.now(UTC).isoformat(timespec="microseconds")},
        },
        **order_table.if_absent,
    )
    s3.put_object(Bucket=bucket, Key=f"invoices/{order['OrderID']}.json", Body=body.encode(), IfNoneMatch="*")


def run_ceiling(queue_url: str, table: str, bucket: str, threads: int) -> None:
    """Our worker's shape with nothing else: 4 receive loops, each batch's writes on a pool of `threads`."""
    from concurrent.futures import ThreadPoolExecutor

    calls: Counter[str] = Counter()
    install_rtt(float(os.environ.get(RTT_ENV, "0")), calls, calls)
    stop = _stopper()
    sqs, ddb, s3 = (boto3.client(s) for s in ("sqs", "dynamodb", "s3"))
    as_the_worker_sends(s3)
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
    install_rtt(float(os.environ.get(RTT_ENV, "0")), calls, calls)
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
    """`python -m worker run` itself, with the modelled round trip on every client it creates; its API
    calls are in its own summary, its 100-continue waits are reported here on exit."""
    expects: Counter[str] = Counter()
    install_rtt(float(os.environ.get(RTT_ENV, "0")), expects=expects)
    from worker.fifo.cli import main as worker_main

    code = worker_main(argv)
    _report_calls(expects)
    return code


def as_the_worker_sends(s3: Any) -> None:
    """The ceiling's S3 client sends PutObject as the worker's does (worker/fifo/aws.py: no
    `Expect: 100-continue` on its small bodies), so the two make the same round trips."""
    from worker.fifo.aws import without_expect_continue

    without_expect_continue(s3)


# --- the parent -------------------------------------------------------------------------------------


def _all_stored(table: str, last_per_group: list[str]) -> bool:
    """Each group's last order is stored (groups complete in order; the full check follows the run).

    A point read of <= 100 keys per poll: a table scan or ItemCount would cost the emulator more per poll."""
    ddb = boto3.client("dynamodb")
    for start in range(0, len(last_per_group), 100):
        keys = [order_table.key_of(oid) for oid in last_per_group[start : start + 100]]
        got = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ProjectionExpression": order_table.key}})
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


def _cpu_seconds(pid: int | None) -> float:
    """utime + stime of a running process (Linux /proc), 0 when unknown."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _emulator_pid(emulator: Any) -> int | None:
    """The embedded MiniStack's pid (its CPU per order is part of each run's figures)."""
    proc = getattr(getattr(emulator, "_process", None), "proc", None)
    return int(proc.pid) if proc is not None else None


def one_run(
    variant: str,
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    rtt_ms: float,
    emulator_pid: int | None = None,
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
    emulator_cpu = _cpu_seconds(emulator_pid)
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
    emulator_cpu = _cpu_seconds(emulator_pid) - emulator_cpu
    producer.join()
    peak_rss_mb = _peak_rss_mb(proc.pid)  # before it exits; rusage's maxrss would include our pre-exec fork
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert_exactly_once_in_order(res.table, sent)  # exactly once, per-group order, after every run
    lines = log.read_text().splitlines()
    api_calls = next(json.loads(line[len(CALLS_MARK) :]) for line in reversed(lines) if line.startswith(CALLS_MARK))
    if variant == "ours":
        summary = next(json.loads(line)["summary"] for line in reversed(lines) if '"worker stopped"' in line)
        api_calls.update(summary["api_calls"])
    return {
        "orders": orders,
        "seconds": elapsed,
        "orders_per_s": orders / elapsed,
        "cpu_s_per_1000": (usage.ru_utime + usage.ru_stime) * 1000 / orders,
        "emulator_cpu_s_per_1000": emulator_cpu * 1000 / orders,
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
    with running_emulator() as emulator:  # MiniStack, its own process; this one (provision, producer, checks) uses it
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
    return (
        f"{os.cpu_count()} vCPU {cpu}, {mem_kb / 1024 / 1024:.0f} GiB, shared with other jobs; "
        "MiniStack emulator on loopback"
    )


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
                r = one_run(variant, args, env, workdir, rtt, _emulator_pid(emulator))
                results[key][variant].append(r)
                print(
                    f"rtt {key:>3} ms run {run + 1}/{args.runs} {variant:8s} {r['orders_per_s']:7.1f} orders/s "
                    f"cpu {r['cpu_s_per_1000']:.2f} s/1000, emulator {r['emulator_cpu_s_per_1000']:.2f} s/1000",
                    flush=True,
                )
    return results


def report(
    results: dict[str, dict[str, list[dict[str, Any]]]], args: argparse.Namespace
) -> dict[str, dict[str, dict[str, Any]]]:
    """Print the table; return rtt -> variant -> medians (ours also gets its per-run ratio to the ceiling)."""
    medians: dict[str, dict[str, dict[str, Any]]] = {}
    print(f"\n{args.groups} groups, produced while consuming; medians of {args.runs} runs")
    print(
        "| RTT ms | variant | orders | orders/s | vs naive | vs ceiling | CPU s per 1,000 orders "
        "| emulator CPU s per 1,000 | peak RSS MB | receives/order | deletes/order | PutItem/order "
        "| PutObject/order | 100-continue/order |"
    )
    print("|" + " --- |" * 14)
    for rtt, by_variant in results.items():
        medians[rtt] = {}
        for v, runs in by_variant.items():
            keys = ("orders_per_s", "cpu_s_per_1000", "emulator_cpu_s_per_1000", "peak_rss_mb")
            m: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
            m["orders"] = runs[0]["orders"]
            m["per_run_orders_per_s"] = [round(r["orders_per_s"], 1) for r in runs]
            m["calls_per_order"] = {
                kind: round(statistics.median(r["calls_per_order"][kind] for r in runs), 3) for kind in CALL_KINDS
            }
            medians[rtt][v] = m
        if "ours" in by_variant and "ceiling" in by_variant:  # runs alternate: run i of each is side by side
            pairs = zip(by_variant["ours"], by_variant["ceiling"], strict=True)
            medians[rtt]["ours"]["to_ceiling"] = statistics.median(
                o["orders_per_s"] / c["orders_per_s"] for o, c in pairs
            )
        naive = medians[rtt].get("naive")
        for v, m in medians[rtt].items():
            ratio = f"{m['orders_per_s'] / naive['orders_per_s']:.1f}x" if naive else "-"
            to_ceiling = f"{m['to_ceiling']:.2f}x" if "to_ceiling" in m else "-"
            c = m["calls_per_order"]
            print(
                f"| {rtt} | {v} | {m['orders']} | {m['orders_per_s']:.1f} | {ratio} | {to_ceiling} "
                f"| {m['cpu_s_per_1000']:.2f} | {m['emulator_cpu_s_per_1000']:.2f} | {m['peak_rss_mb']:.0f} "
                f"| {c['receives']:.3f} | {c['deletes']:.3f} | {c['PutItem']:.3f} | {c['PutObject']:.3f} "
                f"| {c['expect_100_continue']:.3f} |"
            )
    for rtt, meds in medians.items():
        print(
            f"per-run orders/s at {rtt} ms: " + "; ".join(f"{v} {m['per_run_orders_per_s']}" for v, m in meds.items())
        )
    print(
        "Caveat: loopback to the MiniStack emulator (one Python process) on a shared 2-core machine; RTT > 0 is a "
        "client-side delay per request (bench/producer.py's model), not a real network."
    )
    return medians


def concurrency() -> dict[str, int]:
    """The worker's concurrency as the benchmark runs it (worker/fifo/settings.py defaults)."""
    from worker.fifo.settings import WorkerSettings

    defaults = {name: f.default for name, f in WorkerSettings.model_fields.items()}
    receivers, processors, batch = defaults["receivers"], defaults["processors"], defaults["batch_size"]
    return {
        "processors": processors,
        "receivers": receivers,
        "batch_size": batch,
        "max_in_flight": max(batch * receivers * 2, processors * 2),  # WorkerSettings.max_in_flight
        "deleters": 1,  # worker/fifo/deleter.py: one thread, DeleteMessageBatch of up to 10
    }


def write_measured(path: Path, meta: dict[str, Any], medians: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The planner's input (ops/measured.json): per modelled RTT, ours' orders/s and what the planner derives a
    per-instance figure from (CPU per order, round trips per order), side by side with the no-logic ceiling."""
    points = []
    for rtt, by_variant in medians.items():
        if "ours" not in by_variant:
            continue
        ours, ceiling, naive = by_variant["ours"], by_variant.get("ceiling"), by_variant.get("naive")
        calls = ours["calls_per_order"]
        points.append(
            {
                "rtt_ms": float(rtt),
                "orders_per_second": round(ours["orders_per_s"], 1),
                "cpu_seconds_per_1000_orders": round(ours["cpu_s_per_1000"], 2),
                "emulator_cpu_seconds_per_1000_orders": round(ours["emulator_cpu_s_per_1000"], 2),
                "peak_rss_mb": round(ours["peak_rss_mb"]),
                "calls_per_order": calls,
                "round_trips_per_order": round(calls["PutItem"] + calls["PutObject"] + calls["expect_100_continue"], 3),
                "naive_orders_per_second": round(naive["orders_per_s"], 1) if naive else None,
                "ceiling_orders_per_second": round(ceiling["orders_per_s"], 1) if ceiling else None,
                "ceiling_cpu_seconds_per_1000_orders": round(ceiling["cpu_s_per_1000"], 2) if ceiling else None,
                "ours_to_ceiling": round(ours["to_ceiling"], 3) if "to_ceiling" in ours else None,
            }
        )
    doc = {
        "what": "one `python -m worker run` process (medians), side by side with the no-logic ceiling, "
        "measured by bench/worker.py",
        **meta,
        "caveats": [
            "loopback to the MiniStack emulator (one Python process), not a real region: where ours is within 10% "
            "of the ceiling the emulator set the pace, and the planner derives the figure instead",
            "RTT is modelled: a client-side sleep before every request (two for an Expect: 100-continue one); "
            "no real network, no AWS service latency spread",
            "a shared 2-core machine, not the fleet's instance types; CPU per order is over plain HTTP (no TLS)",
            "one worker process per instance (the systemd unit runs one)",
        ],
        "concurrency": concurrency(),
        "points": points,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
