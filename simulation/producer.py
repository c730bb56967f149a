"""`python -m simulation produce`: play a Black Friday spike into the FIFO queue or the bulk-import bucket.

Orders are generated deterministically from a seed (the same seed gives the same orders, byte for
byte), so the demo and the tests can recompute exactly what was sent. A share of duplicate sends (a
client retrying: same OrderID, same deduplication id) and of malformed orders can be mixed in so the
idempotency and DLQ paths are exercised.

Why it is fast: FIFO messages go out in `SendMessageBatch` calls of 10 from several sender threads.
Ordering within a message group (MessageGroupId = CustomerID) only holds if one sender sends a group's
messages one after another, so customers are partitioned over the senders: each sender owns its
customers and sends their orders in order. S3 uploads have no ordering, so they simply run concurrently.

Targets come from flags, or from `pulumi stack output --json` piped on stdin (orderQueueUrl,
invoicesBucketName, invoicePrefix); the endpoint is boto3's own (AWS_ENDPOINT_URL for the emulator).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config

from worker.model import Order, OrderItem
from worker.topology import INVOICE_PREFIX

CATALOG_PREFIX = "SKU-"
"""Generated SKUs are `SKU-00001`..: the names `python -m worker seed-inventory --count N` seeds."""
SPIKE_START = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
"""Black Friday, 05:00 UTC: CreatedAt of the first generated order."""
SQS_BATCH = 10
DEFAULT_SENDERS = 8
CUSTOMER_PREFIX = "CUST-"

DEFAULT_CUSTOMERS = 500
DEFAULT_SKUS = 50
DEFAULT_DUPLICATES = 0.02
DEFAULT_MALFORMED = 0.002
DEFAULT_SEED = 1
"""The spike's shape when nothing says otherwise: `generate_spike` and every command's flags (`add_spike_arguments`)."""


def catalog_sku(number: int) -> str:
    return f"{CATALOG_PREFIX}{number:05d}"


def customer_id(number: int) -> str:
    """The `number`-th generated customer, `CUST-00000`..: what `generate_spike` draws from."""
    return f"{CUSTOMER_PREFIX}{number:05d}"


def catalog_price(number: int) -> Decimal:
    """A fixed price per SKU (4.99 .. 199.99), so every run of a seed agrees with every other."""
    return Decimal(5 + (number * 37) % 195) - Decimal("0.01")


@dataclass(frozen=True)
class Outgoing:
    """One thing to send: a message body with its FIFO group and deduplication id."""

    body: str
    group_id: str
    dedup_id: str
    kind: str
    """"valid", "duplicate" (a resend of an earlier valid order) or "malformed"."""
    order_id: str
    index: int
    """Position in the spike; within a group, a higher index must be processed later."""


@dataclass
class Spike:
    messages: list[Outgoing]
    orders: dict[str, Order] = field(default_factory=dict)
    """Valid orders by OrderID (what must end up processed exactly once)."""

    def count(self, kind: str) -> int:
        return sum(1 for m in self.messages if m.kind == kind)

    @property
    def malformed(self) -> list[Outgoing]:
        return [m for m in self.messages if m.kind == "malformed"]


def _malformed_body(rng: random.Random, order: Order, n: int) -> str:
    """Bodies every part of the system must reject (not JSON, wrong total, missing field, unknown field)."""
    data = json.loads(order.to_json())
    variant = n % 4
    if variant == 0:
        return order.to_json()[:-7]  # truncated JSON
    if variant == 1:
        data["Total"] = str(Decimal(data["Total"]) + Decimal("1.00"))
    elif variant == 2:
        del data["Items"]
    else:
        data["Coupon"] = "BLACKFRIDAY"
    return json.dumps(data)


def _random_order(rng: random.Random, order_id: str, i: int, customers: int, skus: int) -> Order:
    """The `i`-th order of a spike: a random customer, 1 to 4 catalog lines, created 37 ms after the last."""
    customer = customer_id(rng.randrange(customers))
    lines = rng.sample(range(1, skus + 1), k=min(skus, rng.choice((1, 1, 2, 2, 3, 4))))
    items = [
        OrderItem(SKU=catalog_sku(n), Quantity=rng.choice((1, 1, 1, 2, 3)), UnitPrice=catalog_price(n)) for n in lines
    ]
    return Order(
        OrderID=order_id,
        CustomerID=customer,
        Items=items,
        Total=sum((item.amount for item in items), Decimal("0")),
        Currency="USD",
        CreatedAt=SPIKE_START + timedelta(milliseconds=37 * i),
    )


def generate_spike(
    orders: int,
    *,
    customers: int = DEFAULT_CUSTOMERS,
    skus: int = DEFAULT_SKUS,
    duplicates: float = DEFAULT_DUPLICATES,
    malformed: float = DEFAULT_MALFORMED,
    seed: int = DEFAULT_SEED,
    prefix: str = "",
) -> Spike:
    """`orders` valid orders over `customers` customers, plus duplicate resends and malformed bodies.

    A duplicate follows its original directly (a client retry), drawn with probability `duplicates`;
    malformed bodies are extra messages with their own OrderIDs, exactly floor(orders * malformed) of
    them, spread evenly. Everything is a function of the arguments only.
    """
    if orders < 0 or customers < 1 or skus < 1 or not 0 <= duplicates <= 1 or not 0 <= malformed <= 1:
        raise ValueError("orders >= 0, customers >= 1, skus >= 1, and shares between 0 and 1 are required")
    rng = random.Random(seed)
    tag = prefix or f"S{seed}"
    spike = Spike(messages=[])
    index = 0
    n_malformed = 0
    for i in range(orders):
        order = _random_order(rng, f"{tag}-{i:07d}", i, customers, skus)
        spike.orders[order.OrderID] = order
        body = order.to_json()
        spike.messages.append(Outgoing(body, order.group_id, order.dedup_id, "valid", order.OrderID, index))
        index += 1
        if rng.random() < duplicates:
            spike.messages.append(Outgoing(body, order.group_id, order.dedup_id, "duplicate", order.OrderID, index))
            index += 1
        if int((i + 1) * malformed) > int(i * malformed):  # evenly spread: exactly floor(orders * share)
            bad = order.model_copy(update={"OrderID": f"{tag}-BAD-{n_malformed:05d}"})
            body = _malformed_body(rng, bad, n_malformed)
            spike.messages.append(Outgoing(body, bad.group_id, bad.dedup_id, "malformed", bad.OrderID, index))
            index += 1
            n_malformed += 1
    return spike


class RateLimiter:
    """Paces all senders together to `rate` messages per second (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, n: int) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now)
            self._next = start + n * self.interval
        if start > now:
            time.sleep(start - now)


@dataclass
class Produced:
    sent: int = 0
    seconds: float = 0.0
    sent_at: dict[str, float] = field(default_factory=dict)
    """OrderID -> wall-clock time (epoch seconds) of its first successful send, for latency figures."""
    failed: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


class ProduceError(RuntimeError):
    """Some messages could not be sent after retries; `failed` lists their OrderIDs (nothing else was lost)."""


def client_config(concurrency: int) -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": 8},
        max_pool_connections=max(10, concurrency * 2),
        connect_timeout=5,
        read_timeout=30,
    )


def _record(result: Produced, lock: threading.Lock, batch: Sequence[Outgoing], ok_ids: Iterable[str]) -> None:
    now = time.time()
    with lock:
        for message_id in ok_ids:
            m = batch[int(message_id)]
            result.sent += 1
            result.sent_at.setdefault(m.order_id, now)


def _lanes(messages: Sequence[Outgoing], senders: int) -> list[list[Outgoing]]:
    """The messages split over `senders` lanes, every message group in one lane, in send order.

    Groups go round-robin over the lanes in first-seen order: balanced and deterministic."""
    lanes: list[list[Outgoing]] = [[] for _ in range(max(1, senders))]
    owner: dict[str, int] = {}
    for m in messages:
        lane = owner.setdefault(m.group_id, len(owner) % len(lanes))
        lanes[lane].append(m)
    return lanes


def _entries(batch: Sequence[Outgoing], pending: list[int]) -> list[dict[str, str]]:
    return [
        {
            "Id": str(i),
            "MessageBody": batch[i].body,
            "MessageGroupId": batch[i].group_id,
            "MessageDeduplicationId": batch[i].dedup_id,
        }
        for i in pending
    ]


@dataclass
class _FifoSender:
    """What the sender threads of one `send_fifo` call share: the client, the pacing and the result."""

    sqs: Any
    queue_url: str
    limiter: RateLimiter
    progress: Callable[[int], None] | None
    before_batch: Callable[[], None] | None
    result: Produced = field(default_factory=Produced)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send_lane(self, lane: list[Outgoing]) -> None:
        """One lane's messages, batch after batch: its groups stay in order."""
        for start in range(0, len(lane), SQS_BATCH):
            batch = lane[start : start + SQS_BATCH]
            if self.before_batch:
                self.before_batch()
            self.limiter.acquire(len(batch))
            self.send_batch(batch)

    def send_batch(self, batch: Sequence[Outgoing]) -> None:
        """Up to 5 attempts, each retrying only what failed for a retryable reason."""
        pending = list(range(len(batch)))
        for _attempt in range(5):
            pending = self.attempt(batch, pending)
            if not pending:
                return
            time.sleep(0.2)
        with self.lock:
            self.result.failed += [batch[i].order_id for i in pending]

    def attempt(self, batch: Sequence[Outgoing], pending: list[int]) -> list[int]:
        """One `SendMessageBatch` of the `pending` entries; returns the ones to retry."""
        response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=_entries(batch, pending))
        _record(self.result, self.lock, batch, (e["Id"] for e in response.get("Successful", [])))
        if self.progress:
            self.progress(len(response.get("Successful", [])))
        # Retry only what failed for a retryable reason; a sender fault will fail again.
        failed = response.get("Failed", [])
        with self.lock:
            self.result.failed += [
                f"{batch[int(f['Id'])].order_id}: {f.get('Message')}" for f in failed if f.get("SenderFault")
            ]
        return [int(f["Id"]) for f in failed if not f.get("SenderFault")]


def send_fifo(
    messages: Sequence[Outgoing],
    queue_url: str,
    *,
    senders: int = DEFAULT_SENDERS,
    rate: float | None = None,
    sqs: Any = None,
    progress: Callable[[int], None] | None = None,
    before_batch: Callable[[], None] | None = None,
) -> Produced:
    """Send in batches of 10 from `senders` threads; each thread owns a disjoint set of message groups.

    `before_batch` runs before each batch (the demo uses it to hold back while the queue is deep).
    """
    sqs = sqs or boto3.client("sqs", config=client_config(senders))
    lanes = _lanes(messages, senders)
    sender = _FifoSender(sqs, queue_url, RateLimiter(rate), progress, before_batch)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="fifo-sender") as pool:
        for future in [pool.submit(sender.send_lane, lane) for lane in lanes if lane]:
            future.result()
    sender.result.seconds = time.monotonic() - started
    return sender.result


def upload_s3(
    messages: Sequence[Outgoing],
    bucket: str,
    *,
    prefix: str = INVOICE_PREFIX,
    concurrency: int = 16,
    rate: float | None = None,
    s3: Any = None,
    progress: Callable[[int], None] | None = None,
) -> Produced:
    """The bulk-import path: one object `<prefix><OrderID>.json` per order, uploaded concurrently."""
    s3 = s3 or boto3.client("s3", config=client_config(concurrency))
    result, lock, limiter = Produced(), threading.Lock(), RateLimiter(rate)

    def put(m: Outgoing) -> None:
        limiter.acquire(1)
        try:
            s3.put_object(
                Bucket=bucket, Key=f"{prefix}{m.order_id}.json", Body=m.body.encode(), ContentType="application/json"
            )
        except Exception as exc:  # botocore already retried; record it and keep going
            with lock:
                result.failed.append(f"{m.order_id}: {exc}")
            return
        _record(result, lock, [m], ["0"])
        if progress:
            progress(1)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-uploader") as pool:
        list(pool.map(put, messages))
    result.seconds = time.monotonic() - started
    return result


def targets_from_outputs(stream: TextIO) -> dict[str, Any]:
    """The stack outputs `pulumi stack output --json` prints; a clear error if it is not that."""
    text = stream.read()
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"stdin is not `pulumi stack output --json` output: {exc}") from None
    if not isinstance(outputs, dict):
        raise SystemExit("stdin must be the JSON object `pulumi stack output --json` prints")
    return outputs


def add_spike_arguments(p: argparse.ArgumentParser, *, orders: int) -> None:
    """The flags that shape a spike (`spike_from_args` reads them), declared once for every command that generates
    one (`produce`, `demo`); `orders` is the command's own default count."""
    p.add_argument("--orders", type=int, default=orders, help=f"valid orders in the spike (default {orders})")
    p.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=f"distinct customers = FIFO message groups (default {DEFAULT_CUSTOMERS})",
    )
    p.add_argument(
        "--skus", type=int, default=DEFAULT_SKUS, help=f"catalog size, {catalog_sku(1)}.. (default {DEFAULT_SKUS})"
    )
    p.add_argument(
        "--duplicates",
        type=float,
        default=DEFAULT_DUPLICATES,
        help=f"share of orders sent twice (default {DEFAULT_DUPLICATES})",
    )
    p.add_argument(
        "--malformed",
        type=float,
        default=DEFAULT_MALFORMED,
        help=f"share of extra malformed orders (default {DEFAULT_MALFORMED})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"generator seed: same seed, same orders (default {DEFAULT_SEED})",
    )


def spike_from_args(args: argparse.Namespace) -> Spike:
    """The spike `add_spike_arguments`' flags describe; ValueError naming the flags when they describe none."""
    try:
        return generate_spike(
            args.orders,
            customers=args.customers,
            skus=args.skus,
            duplicates=args.duplicates,
            malformed=args.malformed,
            seed=args.seed,
        )
    except ValueError:
        raise ValueError(
            "--orders >= 0, --customers >= 1, --skus >= 1, and --duplicates and --malformed between 0 and 1 are required"
        ) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulation produce", description=__doc__.split("\n\n")[0])
    add_spike_arguments(p, orders=1000)
    p.add_argument("--to", choices=("fifo", "s3"), default="fifo", help="the FIFO queue or the bulk-import bucket")
    p.add_argument(
        "--rate", type=float, default=None, help="messages per second overall (default: as fast as possible)"
    )
    p.add_argument("--concurrency", type=int, default=None, help="sender threads (default 8 for fifo, 16 for s3)")
    p.add_argument("--queue-url", help="FIFO queue URL (default: orderQueueUrl from stack outputs on stdin)")
    p.add_argument("--bucket", help="bucket (default: invoicesBucketName from stack outputs on stdin)")
    p.add_argument("--prefix", default=None, help=f"object key prefix (default: invoicePrefix or {INVOICE_PREFIX})")
    p.add_argument(
        "--write-batches",
        metavar="DIR",
        help="write the FIFO messages as `aws sqs send-message-batch --entries file://...` files and exit",
    )
    return p


def write_batches(messages: Sequence[Outgoing], directory: Path) -> list[Path]:
    """SendMessageBatch entry files of 10, in send order, for the AWS CLI walkthrough."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, start in enumerate(range(0, len(messages), SQS_BATCH)):
        entries = [
            {"Id": str(i), "MessageBody": m.body, "MessageGroupId": m.group_id, "MessageDeduplicationId": m.dedup_id}
            for i, m in enumerate(messages[start : start + SQS_BATCH])
        ]
        path = directory / f"batch-{n:05d}.json"
        path.write_text(json.dumps(entries))
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.rate is not None and args.rate <= 0:
        parser().error("--rate > 0 is required")
    try:
        spike = spike_from_args(args)
    except ValueError as exc:
        parser().error(str(exc))
    if args.write_batches:
        paths = write_batches(spike.messages, Path(args.write_batches))
        print(f"{len(spike.messages)} messages in {len(paths)} files under {args.write_batches}")
        return 0
    target = args.queue_url if args.to == "fifo" else args.bucket
    outputs: dict[str, Any] = {}
    if not target and not sys.stdin.isatty():
        outputs = targets_from_outputs(sys.stdin)
    queue_url = args.queue_url or outputs.get("orderQueueUrl")
    bucket = args.bucket or outputs.get("invoicesBucketName")
    prefix = args.prefix or outputs.get("invoicePrefix") or INVOICE_PREFIX
    if args.to == "fifo" and not queue_url:
        parser().error("--queue-url is required (or pipe `pulumi stack output --json`)")
    if args.to == "s3" and not bucket:
        parser().error("--bucket is required (or pipe `pulumi stack output --json`)")
    if args.to == "fifo":
        result = send_fifo(spike.messages, str(queue_url), senders=args.concurrency or DEFAULT_SENDERS, rate=args.rate)
    else:
        result = upload_s3(
            spike.messages, str(bucket), prefix=prefix, concurrency=args.concurrency or 16, rate=args.rate
        )
    summary = {
        "to": args.to,
        "target": queue_url if args.to == "fifo" else f"s3://{bucket}/{prefix}",
        "valid": spike.count("valid"),
        "duplicates": spike.count("duplicate"),
        "malformed": spike.count("malformed"),
        "sent": result.sent,
        "failed": len(result.failed),
        "seconds": round(result.seconds, 3),
        "per_second": round(result.rate, 1),
    }
    print(json.dumps(summary))
    for failure in result.failed[:20]:
        print(f"not sent: {failure}", file=sys.stderr)
    return 1 if result.failed else 0
