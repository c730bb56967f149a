"""`python -m simulation demo`: the Black Friday simulation of the whole system on one machine.

Starts the local stack (emulator provisioned from the Pulumi program, PostgreSQL, inventory), runs W
FIFO workers and both consumers, produces the spike (duplicates and malformed orders mixed in, and an
optional share through the S3 bulk-import path), shows live progress, and when the queues drain (or
the timeout passes) verifies the outcome from the stores themselves - DynamoDB, S3, PostgreSQL, the
DLQs - not from anyone's counters. Writes `report.json` and `report.png` to `--out` (default .demo/)
and exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import signal
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from simulation.imds_standin import ImdsStub, running_imds
from simulation.producer import Outgoing, Produced, Spike, generate_spike, send_fifo, upload_s3
from simulation.stack import ENDPOINT_HELP, ROOT, Child, EmulatedStack, default_stock, emulated_stack
from worker.model import Order
from worker.topology import MAX_RECEIVE_COUNT

SPOT_NOTICE_SECONDS = 120
"""A Spot interruption notice comes two minutes before the instance is reclaimed."""
BOTO = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=20, read_timeout=60)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Sample:
    t: float
    produced: int
    processed: int
    shipped: int
    analysed: int
    dead: int
    depth: dict[str, int]


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


class Probe:
    """Reads progress from the stores and queues themselves, cheaply enough to run every second."""

    def __init__(self, stack: EmulatedStack) -> None:
        self.stack = stack
        self.sqs = boto3.client("sqs", config=BOTO)
        self.ddb = boto3.client("dynamodb", config=BOTO)
        self.queues = {
            "orders": stack.exports["orderQueueUrl"],
            **stack.exports["fanoutQueueUrls"],
            "orders DLQ": stack.exports["orderDlqUrl"],
            **{f"{n} DLQ": u for n, u in stack.exports["fanoutDlqUrls"].items()},
        }
        self._items = 0
        self.pg = psycopg.connect(stack.shipping_dsn, autocommit=True)
        self.wh = psycopg.connect(stack.warehouse_dsn, autocommit=True)

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def item_count(self) -> int:
        """The table's item count; moto's DescribeTable can fail (500) while items are being written, and
        botocore's retries may not outlast that under load: then the last count stands for this sample."""
        try:
            table = self.ddb.describe_table(TableName=self.stack.exports["orderTableName"])["Table"]
            self._items = int(table["ItemCount"])
        except ClientError:
            pass
        return self._items

    def count(self, conn: psycopg.Connection[Any], sql: str) -> int:
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.errors.UndefinedTable:  # the consumer has not migrated yet
            return 0
        return int(row[0]) if row else 0

    def sample(self, t: float, produced: Callable[[], int]) -> Sample:
        depth = {name: self.depth(url) for name, url in self.queues.items()}
        processed = self.item_count()
        return Sample(
            t=t,
            produced=produced(),  # read last: the other probes take a while under load
            processed=processed,
            shipped=self.count(self.pg, "SELECT count(*) FROM shipments"),
            analysed=self.count(self.wh, "SELECT count(DISTINCT order_id) FROM sales_fact"),
            dead=sum(v for k, v in depth.items() if k.endswith("DLQ")),
            depth=depth,
        )

    def close(self) -> None:
        self.pg.close()
        self.wh.close()


@dataclass
class Drilled:
    name: str
    notice_at: float
    depth_at_notice: int
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
        child = self.stack.spawn(f"worker-{n}", ["run", "--wait-seconds", "5"], self.stack.worker_env(stub.url))
        self.workers.append((child, stub))
        return child.name

    def step(self, t: float, trigger: bool, depth: int) -> None:
        """Called on every progress sample: send the notices once `trigger` holds, replace who has exited."""
        if self.sent_at_seconds is None and trigger:
            self.sent_at_seconds = round(t, 1)
            for child, stub in self.workers[: self.count]:
                stub.interrupt("terminate", SPOT_NOTICE_SECONDS)
                d = Drilled(child.name, time.time(), depth, child, stub)
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


EXACTLY_ONCE = (
    "every valid order exactly once in DynamoDB",
    "one invoice per stored order (fan-out started once)",
    "one shipment per valid order (both paths)",
    "nothing lost: produced = processed + dead-lettered",
)


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


# --- verification: read everything back from the stores ---------------------------------------------


def scan_table(table: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", config=BOTO)
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += page["Items"]
    return items


def drain_dlq(url: str) -> list[dict[str, Any]]:
    """Every message in a DLQ with its receive count (reading it counts one more receive).

    Each batch is deleted once read: a FIFO DLQ holds back the rest of a message group while one of its
    messages is in flight, so reading without deleting would miss a customer's second poison order.
    The run is over and its stack is thrown away next, so nothing is lost that the report does not keep.
    """
    sqs = boto3.client("sqs", config=BOTO)
    got: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not batch:
            return got
        got += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )


def invoice_versions(bucket: str, prefix: str) -> Counter[str]:
    s3 = boto3.client("s3", config=BOTO)
    versions: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            versions[v["Key"]] += 1
    return versions


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(values), 3)}


@dataclass
class Sent:
    """What the producer was asked to send, as the checks compare it with what the stores hold."""

    orders: dict[str, Order]
    fifo_valid: set[str]
    s3_valid: set[str]
    fifo_bad: set[str]
    """Bodies of the malformed FIFO messages."""
    s3_bad: set[str]
    """OrderIDs of the malformed bulk-import objects."""
    index: dict[str, int]
    """OrderID -> position in the spike."""

    @staticmethod
    def of(plan: Plan) -> Sent:
        return Sent(
            orders=plan.spike.orders,
            fifo_valid=plan.valid_ids(plan.fifo),
            s3_valid=plan.valid_ids(plan.s3),
            fifo_bad={m.body for m in plan.malformed(plan.fifo)},
            s3_bad={m.order_id for m in plan.malformed(plan.s3)},
            index={m.order_id: m.index for m in plan.spike.messages},
        )

    @property
    def all_valid(self) -> set[str]:
        return self.fifo_valid | self.s3_valid


@dataclass
class Readback:
    """Everything the checks need, read once from the stores after the run."""

    items: list[dict[str, Any]]
    """The DynamoDB order table."""
    invoice_prefix: str
    invoice_versions: Counter[str]
    """S3 key -> how many versions of it were written."""
    shipments: dict[str, str]
    """OrderID -> shipment status."""
    lines: list[tuple[Any, ...]]
    """(order_id, sku, quantity, allocated) shipment lines."""
    on_hand: dict[str, int]
    shipped_at: dict[str, float]
    facts: dict[str, tuple[int, Decimal]]
    """OrderID -> (sales fact rows, their total amount)."""
    dlq: list[dict[str, Any]]
    """The FIFO DLQ's messages (drained)."""
    fanout_dead: dict[str, int]
    """Fan-out queue name -> messages in its DLQ (drained)."""

    @property
    def stored(self) -> Counter[str]:
        return Counter(i["OrderID"]["S"] for i in self.items)


def read_back(stack: EmulatedStack) -> Readback:
    exports = stack.exports
    items = scan_table(exports["orderTableName"])
    versions = invoice_versions(exports["invoicesBucketName"], exports["invoicePrefix"])
    with psycopg.connect(stack.shipping_dsn) as pg:
        rows = pg.execute("SELECT order_id, status, extract(epoch FROM created_at) FROM shipments").fetchall()
        lines = pg.execute("SELECT order_id, sku, quantity, allocated FROM shipment_lines").fetchall()
        on_hand: dict[str, int] = dict(pg.execute("SELECT sku, on_hand FROM inventory").fetchall())
    shipments = {order_id: status for order_id, status, _ in rows}
    shipped_at: dict[str, float] = {order_id: created for order_id, _, created in rows}
    facts = sales_facts(stack.warehouse_dsn)
    dlq = drain_dlq(exports["orderDlqUrl"])
    fanout_dead = {name: len(drain_dlq(url)) for name, url in exports["fanoutDlqUrls"].items()}
    return Readback(
        items, exports["invoicePrefix"], versions, shipments, lines, on_hand, shipped_at, facts, dlq, fanout_dead
    )


def sales_facts(dsn: str) -> dict[str, tuple[int, Decimal]]:
    with psycopg.connect(dsn) as wh:
        try:
            facts = wh.execute("SELECT order_id, count(*), sum(amount) FROM sales_fact GROUP BY order_id").fetchall()
        except psycopg.errors.UndefinedTable:  # the analytics consumer migrates on its first message: none arrived
            facts = []
    return {r[0]: (r[1], Decimal(r[2])) for r in facts}


def check_producer(progress: Progress) -> Check:
    return Check(
        "producer sent everything",
        not progress.produce_error,
        progress.produce_error or f"{progress.produced} messages",
    )


def check_drained(drained: bool) -> Check:
    return Check("queues drained before the timeout", drained, "all work queues empty" if drained else "timed out")


def check_stored_once(sent: Sent, got: Readback) -> Check:
    """Every valid FIFO order exactly once in DynamoDB."""
    stored = got.stored
    missing, extra = sent.fifo_valid - set(stored), set(stored) - sent.fifo_valid
    return Check(
        "every valid order exactly once in DynamoDB",
        not missing and not extra and all(n == 1 for n in stored.values()),
        f"{len(stored)} stored of {len(sent.fifo_valid)}; missing {len(missing)}, unexpected {len(extra)}",
    )


def check_invoices_once(sent: Sent, got: Readback) -> Check:
    """Every stored FIFO order's invoice written once: its fan-out started once."""
    fifo_invoices = {
        k: n
        for k, n in got.invoice_versions.items()
        if k.removeprefix(got.invoice_prefix).removesuffix(".json") in sent.fifo_valid
    }
    return Check(
        "one invoice per stored order (fan-out started once)",
        len(fifo_invoices) == len(sent.fifo_valid) and all(n == 1 for n in fifo_invoices.values()),
        f"{len(fifo_invoices)} invoices, {sum(n > 1 for n in fifo_invoices.values())} written more than once",
    )


def _in_order(group_items: list[dict[str, Any]], index: dict[str, int]) -> bool:
    """Within one group: sequence number order = production order = processing-time order."""
    by_seq = sorted(group_items, key=lambda i: int(i["SequenceNumber"]["S"] or 0))
    by_time = sorted(group_items, key=lambda i: i["ProcessedAt"]["S"])
    produced_order = [index[i["OrderID"]["S"]] for i in by_seq]
    same_order = [i["OrderID"]["S"] for i in by_time] == [i["OrderID"]["S"] for i in by_seq]
    return produced_order == sorted(produced_order) and same_order


def check_group_order(sent: Sent, got: Readback) -> Check:
    """Per-group order: within each customer, processing order = production order."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in got.items:
        by_group[item["MessageGroupId"]["S"]].append(item)
    out_of_order = [group for group, group_items in by_group.items() if not _in_order(group_items, sent.index)]
    return Check(
        "per-customer order held",
        not out_of_order,
        f"{len(by_group)} message groups checked (sequence number and processing time); out of order: {out_of_order[:5]}",
    )


def check_shipments(sent: Sent, got: Readback) -> Check:
    all_valid, shipped = sent.all_valid, set(got.shipments)
    return Check(
        "one shipment per valid order (both paths)",
        shipped == all_valid,
        f"{len(got.shipments)} shipments for {len(all_valid)} valid orders; missing {len(all_valid - shipped)}, "
        f"unexpected {len(shipped - all_valid)}",
    )


def _wanted_units(sent: Sent, got: Readback) -> dict[str, Counter[str]]:
    """Units per SKU each shipped valid order asked for."""
    wanted: dict[str, Counter[str]] = {}
    for oid in sent.all_valid & set(got.shipments):
        c: Counter[str] = Counter()
        for line in sent.orders[oid].Items:
            c[line.SKU] += line.Quantity
        wanted[oid] = c
    return wanted


def check_inventory(sent: Sent, got: Readback, stock: dict[str, int]) -> Check:
    """Shipment lines match the orders; inventory = seeded - allocated; backorders where stock ran out."""
    wanted = _wanted_units(sent, got)
    got_lines: dict[str, Counter[str]] = defaultdict(Counter)
    allocated: Counter[str] = Counter()
    unallocated_orders = set()
    for oid, sku, qty, alloc in got.lines:
        got_lines[oid][sku] += qty
        if alloc:
            allocated[sku] += qty
        else:
            unallocated_orders.add(oid)
    on_hand = got.on_hand
    lines_ok = all(got_lines[oid] == wanted[oid] for oid in wanted)
    stock_ok = all(
        on_hand.get(sku, 0) == qty - allocated[sku] and on_hand.get(sku, 0) >= 0 for sku, qty in stock.items()
    )
    backordered = {oid for oid, status in got.shipments.items() if status == "backordered"}
    return Check(
        "inventory = seeded - allocated, backorders exactly where stock ran out",
        lines_ok and stock_ok and backordered == unallocated_orders,
        f"{sum(allocated.values())} units allocated over {len(allocated)} SKUs; {len(backordered)} backordered shipments; "
        f"{sum(1 for s in stock if on_hand.get(s) == 0)} SKUs sold out",
    )


def check_sales_facts(sent: Sent, got: Readback) -> Check:
    orders, all_valid, facts = sent.orders, sent.all_valid, got.facts
    facts_ok = set(facts) == all_valid and all(
        facts[o] == (len(orders[o].Items), orders[o].Total) for o in all_valid & set(facts)
    )
    revenue = sum((orders[o].Total for o in all_valid), Decimal("0"))
    return Check(
        "sales facts: one row per order line, revenue adds up",
        facts_ok,
        f"{sum(n for n, _ in facts.values())} fact rows for {len(facts)} orders; "
        f"revenue {sum((a for _, a in facts.values()), Decimal('0'))} of {revenue} USD",
    )


def check_fifo_dlq(sent: Sent, got: Readback) -> Check:
    """Each malformed FIFO order in the DLQ once, after `MAX_RECEIVE_COUNT` receives."""
    dlq_bodies = Counter(m["Body"] for m in got.dlq)
    receives = [int(m["Attributes"]["ApproximateReceiveCount"]) for m in got.dlq]
    return Check(
        f"malformed orders in the FIFO DLQ after {MAX_RECEIVE_COUNT} receives",
        set(dlq_bodies) == sent.fifo_bad
        and all(n == 1 for n in dlq_bodies.values())
        and all(r >= MAX_RECEIVE_COUNT for r in receives),
        f"{len(got.dlq)} in DLQ of {len(sent.fifo_bad)} malformed sent; receive counts {sorted(set(receives))}",
    )


def check_fanout_dlqs(sent: Sent, got: Readback) -> Check:
    return Check(
        "malformed bulk-import objects in each fan-out DLQ",
        all(n == len(sent.s3_bad) for n in got.fanout_dead.values()),
        f"{got.fanout_dead} of {len(sent.s3_bad)} malformed uploaded",
    )


def check_nothing_lost(sent: Sent, got: Readback) -> Check:
    """Produced = processed + dead-lettered, on both paths."""
    stored = got.stored
    produced_fifo = len(sent.fifo_valid) + len(sent.fifo_bad)
    bulk_shipped = len(sent.s3_valid & set(got.shipments))
    return Check(
        "nothing lost: produced = processed + dead-lettered",
        produced_fifo == len(stored) + len(got.dlq),
        f"FIFO {produced_fifo} = {len(stored)} + {len(got.dlq)}; "
        f"bulk {len(sent.s3_valid) + len(sent.s3_bad)} = {bulk_shipped} + {min(got.fanout_dead.values(), default=0)}",
    )


def measured_figures(plan: Plan, progress: Progress, got: Readback) -> dict[str, Any]:
    """Throughput and latency, from the producer's send times and the stores' own timestamps."""
    figures: dict[str, Any] = {}
    sent_at: dict[str, float] = {}
    for result in progress.results.values():
        sent_at.update(result.sent_at)
    processed_at = {i["OrderID"]["S"]: datetime.fromisoformat(i["ProcessedAt"]["S"]).timestamp() for i in got.items}
    stored_latency = [processed_at[o] - sent_at[o] for o in processed_at if o in sent_at]
    shipped_latency = [float(got.shipped_at[o]) - sent_at[o] for o in got.shipped_at if o in sent_at]
    if processed_at:
        first, last = min(sent_at.values(), default=0.0), max(processed_at.values())
        figures["fifo_orders_per_second"] = round(len(processed_at) / max(last - first, 1e-6), 1)
    figures["latency_seconds_sent_to_stored"] = percentiles(stored_latency)
    figures["latency_seconds_sent_to_shipped"] = percentiles(shipped_latency)
    figures["producer"] = {
        k: {"sent": r.sent, "seconds": round(r.seconds, 2), "per_second": round(r.rate, 1)}
        for k, r in progress.results.items()
    }
    figures["duplicate_sends"] = plan.spike.count("duplicate")
    figures["backordered"] = sum(1 for status in got.shipments.values() if status == "backordered")
    return figures


def verify(stack: EmulatedStack, plan: Plan, progress: Progress, drained: bool) -> tuple[list[Check], dict[str, Any]]:
    """Every check, read from the stores themselves (not from anyone's counters), and the run's figures."""
    sent, got = Sent.of(plan), read_back(stack)
    checks = [
        check_producer(progress),
        check_drained(drained),
        check_stored_once(sent, got),
        check_invoices_once(sent, got),
        check_group_order(sent, got),
        check_shipments(sent, got),
        check_inventory(sent, got, stack.stock),
        check_sales_facts(sent, got),
        check_fifo_dlq(sent, got),
        check_fanout_dlqs(sent, got),
        check_nothing_lost(sent, got),
    ]
    return checks, measured_figures(plan, progress, got)


def worker_summaries(stack: EmulatedStack) -> dict[str, int]:
    """Sum of the FIFO workers' own exit counters (their "worker stopped" log line)."""
    total: Counter[str] = Counter()
    for path in sorted(stack.log_dir.glob("worker-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"worker stopped"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    total.update(json.loads(line)["summary"]["counters"])
    return dict(total)


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulation demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=10_000, help="valid orders in the spike (default 10000)")
    p.add_argument("--workers", type=int, default=3, help="FIFO worker processes (default 3)")
    p.add_argument("--pollers", type=int, default=2, help="consumer processes per fan-out queue (default 2)")
    p.add_argument("--to-s3", type=float, default=0.0, help="share of customers whose orders use the S3 bulk path")
    p.add_argument("--customers", type=int, default=500, help="customers = FIFO message groups (default 500)")
    p.add_argument("--skus", type=int, default=50)
    p.add_argument("--duplicates", type=float, default=0.02, help="share of orders sent twice (default 0.02)")
    p.add_argument("--malformed", type=float, default=0.002, help="share of extra malformed orders (default 0.002)")
    p.add_argument("--rate", type=float, default=None, help="producer messages/s (default: as fast as possible)")
    p.add_argument(
        "--max-backlog",
        type=int,
        default=2000,
        help="hold the producer back while a work queue (FIFO or fan-out) is deeper (default 2000, 0 = never): "
        "the emulator's receives and deletes scan the whole queue",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--endpoint", help=ENDPOINT_HELP)
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


def announce_plan(console: Console, args: argparse.Namespace, plan: Plan) -> None:
    spike = plan.spike
    console.print(
        f"[bold]Black Friday simulation[/]: {args.orders} orders ({len(plan.fifo)} messages to the FIFO queue, "
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
            self.drill.step(s.t, s.processed >= self.expected["fifo"] / 2, s.depth["orders"])
        return s

    def finished(self, s: Sample) -> bool:
        """Drained (three settled samples in a row), a child exited early, timed out, or interrupted."""
        work = sum(v for k, v in s.depth.items() if not k.endswith("DLQ"))
        settled = self.progress.producing_done and work == 0 and (not self.drill or self.drill.done())
        self.quiet = self.quiet + 1 if settled else 0
        if self.quiet >= 3:
            self.drained = True
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


@dataclass
class Timings:
    started: float
    """time.monotonic() when the run began."""
    setup_seconds: float
    processing_seconds: float


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


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *_: object) -> None:
        return None


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


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.orders < 1 or args.workers < 1 or not 0 <= args.to_s3 <= 1:
        parser().error("--orders >= 1, --workers >= 1 and 0 <= --to-s3 <= 1 are required")
    if not 0 <= args.spot_drill <= args.workers:
        parser().error("--spot-drill N needs 0 <= N <= --workers")
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # logs and CI: wide enough for the report table
    return run(args, console)
