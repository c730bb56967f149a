"""`python -m ops dlq-triage`: read a DLQ without losing anything, classify every message, act only when told.

Each message received is held invisible (--visibility-seconds) while it is classified:
  invalid     not a valid order: worker/model.py's one-line reason. With --archive-invalid DIR (or
              s3://BUCKET/PREFIX) it is written there first (body, attributes, message attributes, reason;
              one JSON file per message, fsynced) and deleted from the DLQ only after that write succeeded.
              Without the flag it is never deleted.
  stored      a valid order whose OrderID is already in the table (a copy left by a crash between write and
              delete, or by receives the worker never saw). Safe to drop: deleted with --drop-stored.
  not-stored  a valid order missing from the table. With --redrive it is sent to the source queue with its
              MessageGroupId and a deduplication id of the redrive's own (`redrive_dedup_id`: the OrderID and
              the DLQ message id), and deleted from the DLQ only after that send succeeded.
  stored-no-invoice
              (with --bucket) stored, but invoices/<OrderID>.json is missing: the worker was killed between
              PutItem and PutObject and the copy then reached the DLQ, so the fan-out never ran for it.
              A redrive would not help (the worker sees a second message for a stored order and skips the
              invoice). --write-missing-invoices writes it with the worker's own InvoiceWriter from what the
              table stored (ProcessedAt, SequenceNumber: the bytes the worker would have written), if the
              table's item came from this very message; the copy is then a plain stored one (--drop-stored).
              Otherwise it is kept: it also holds back its group's later DLQ messages (FIFO).
Whatever is not acted on is made visible again at the end (visibility 0), so the DLQ holds what it held.

A FIFO DLQ does not hand out more messages of a group while earlier ones of that group are held, so a
read-only run sees the head of each group; acting (--redrive, --drop-stored, --archive-invalid) lets the run
go deeper. The report says how many the queue held that were not reached.

The deduplication window: SQS drops a send whose MessageDeduplicationId it saw in the last 5 minutes (even
if that first copy was deleted since), and reports success. A redrive with the original id inside that
window would vanish, so the redrive never reuses it: its id is derived from the OrderID and the DLQ message
id. It differs from the producer's, so the redrive is accepted at once; it is the same on a re-run for the
same DLQ message (a send that succeeded before a failed delete), so SQS drops that second send. Exactly once
is the order table's job (conditional PutItem keyed by OrderID), not the dedup id's. StartMessageMoveTask
is not used (it cannot skip the copies that are already stored, and emulators lack it).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from worker.access import watched_session
from worker.model import InvalidOrder, Invoice, order_table, parse_order
from worker.topology import INVOICE_PREFIX

Kind = Literal["invalid", "stored", "stored-no-invoice", "not-stored"]
Action = Literal[
    "kept",
    "dropped",
    "redriven",
    "archived",
    "kept: redrive failed",
    "kept: archive failed",
    "kept: delete failed",
    "invoice written, kept",
    "invoice written, dropped",
    "kept: stored from another message",
]
DELETED: frozenset[str] = frozenset({"dropped", "redriven", "archived", "invoice written, dropped"})
"""Actions after which the message is gone from the DLQ."""
BOTO = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
SAFETY_SECONDS = 30
"""Stop receiving when this close to the visibility deadline of the first message held."""
REDRIVE_DEDUP_PREFIX = "redrive-"
UNSUPPORTED = {"InvalidAction", "UnknownOperationException", "UnsupportedOperation", "NotImplemented"}
"""Error codes of an endpoint (an emulator) that does not implement a call."""


class TriageError(RuntimeError):
    """A queue or table that cannot be used; nothing has been changed when this is raised."""


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str
    group: str
    dedup_id: str
    order_id: str
    kind: Kind
    reason: str = ""
    receive_count: int
    age_seconds: float
    action: Action = "kept"
    redrive_dedup_id: str = ""
    """The MessageDeduplicationId the redrive sent with (FIFO source queue)."""
    archived_to: str = ""
    """Where the invalid message was written before it was deleted (--archive-invalid)."""


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue_url: str
    table: str
    source_queue_url: str
    redrive: bool
    drop_stored: bool
    archive: str = ""
    """--archive-invalid: the directory or s3:// prefix invalid messages were written to ('' = not archived)."""
    held_before: int
    """ApproximateNumberOfMessages + NotVisible of the DLQ when the run began."""
    counts: dict[str, int] = Field(default_factory=dict)
    actions: dict[str, int] = Field(default_factory=dict)
    not_reached: int = 0
    items: list[Item] = Field(default_factory=list)


def redrive_dedup_id(order_id: str, dlq_message_id: str) -> str:
    """The redrive's own MessageDeduplicationId: never the producer's (SQS would drop a resend inside its
    5-minute window), and the same for a re-run on the same DLQ message (so SQS drops a second send)."""
    digest = hashlib.sha256(f"{order_id}\n{dlq_message_id}".encode()).hexdigest()
    return REDRIVE_DEDUP_PREFIX + digest[:64]


# --- the archive of invalid messages -------------------------------------------------------------------


class Archive(Protocol):
    """Where invalid messages go before they leave the DLQ; `put` returns only once the copy is durable."""

    @property
    def where(self) -> str:
        """The directory or s3:// prefix, for the report."""

    def check(self) -> None:
        """Raise (OSError, ClientError) if the archive cannot be written: nothing is changed then."""

    def put(self, name: str, document: bytes) -> str:
        """Store `document` as `name` durably; returns where it is."""


def _file_name(message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", message_id) + ".json"


@dataclass(frozen=True)
class DirArchive:
    """A local directory: each message a file, written to a temporary name, fsynced, renamed, the directory
    fsynced; so after `put` returns the file survives a crash or power loss of this machine."""

    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

    def check(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.path, prefix=".probe-"):
            pass  # the directory takes files

    def put(self, name: str, document: bytes) -> str:
        target = self.path / name
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(document)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return str(target)


@dataclass(frozen=True)
class S3Archive:
    """`s3://bucket/prefix`: one object per message; S3 has stored it durably when PutObject returns."""

    s3: Any
    bucket: str
    prefix: str

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def check(self) -> None:
        self.s3.head_bucket(Bucket=self.bucket)

    def put(self, name: str, document: bytes) -> str:
        key = f"{self.prefix}{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=document, ContentType="application/json")
        return f"s3://{self.bucket}/{key}"


def archive_at(where: str, s3: Any) -> Archive:
    """A DirArchive, or an S3Archive for `s3://bucket[/prefix]` (the prefix gets a trailing slash)."""
    if where.startswith("s3://"):
        bucket, _, prefix = where.removeprefix("s3://").partition("/")
        if not bucket:
            raise TriageError(f"--archive-invalid {where}: no bucket (s3://BUCKET/PREFIX)")
        return S3Archive(s3, bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/")
    return DirArchive(Path(where))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):  # a Binary message attribute
        return {"base64": base64.b64encode(value).decode()}
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def archive_document(queue_url: str, m: dict[str, Any], reason: str) -> bytes:
    """What is kept of an invalid message: everything SQS returned for it, and why it is invalid."""
    doc = {
        "archived_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "queue_url": queue_url,
        "message_id": m["MessageId"],
        "reason": reason,
        "body": m["Body"],
        "md5_of_body": m.get("MD5OfBody", ""),
        "attributes": m.get("Attributes", {}),
        "message_attributes": m.get("MessageAttributes", {}),
    }
    return (json.dumps(doc, indent=2, sort_keys=True, default=_json_default) + "\n").encode()


# --- reading the DLQ and the table -----------------------------------------------------------------------


def _depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def source_queue(sqs: Any, dlq_url: str, given: str) -> str:
    """The queue to redrive into: --source-queue-url, else the DLQ's only dead-letter source."""
    if given:
        return given
    try:
        sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in UNSUPPORTED:
            raise TriageError(
                "--redrive needs --source-queue-url here: this endpoint does not implement "
                "ListDeadLetterSourceQueues (nothing was changed)"
            ) from None
        raise
    if len(sources) != 1:
        raise TriageError(
            f"--redrive needs --source-queue-url: the DLQ has {len(sources)} dead-letter source queues {sources}"
        )
    return str(sources[0])


def classify(body: str, stored_ids: set[str]) -> tuple[Kind, str, str]:
    """(kind, order id, reason) of one DLQ body; `stored_ids` are the OrderIDs found in the table."""
    try:
        order = parse_order(body)
    except InvalidOrder as exc:
        return "invalid", "", exc.reason
    if order.OrderID in stored_ids:
        return "stored", order.OrderID, "OrderID already in the table"
    return "not-stored", order.OrderID, ""


def invoice_missing(s3: Any, bucket: str, prefix: str, order_id: str) -> bool:
    """True when the order's invoice object does not exist (HeadObject 404)."""
    try:
        s3.head_object(Bucket=bucket, Key=f"{prefix}{order_id}.json")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return True
        raise
    return False


def write_invoice(ddb: Any, s3: Any, table: str, bucket: str, prefix: str, m: dict[str, Any]) -> bool:
    """Write the missing invoice as the worker would have; False (nothing written) if the table's item
    was stored from another message, whose body may differ."""
    from worker.fifo.invoice_writer import InvoiceWriter

    order = parse_order(m["Body"])
    item = ddb.get_item(TableName=table, Key=order_table.key_of(order.OrderID), ConsistentRead=True).get("Item")
    stored = order_table.from_item(item) if item else None
    if stored is None or stored.message_id != m["MessageId"] or stored.processed_at is None:
        return False
    invoice = Invoice(
        Order=order,
        ProcessedAt=stored.processed_at,
        SequenceNumber=stored.sequence_number,
        Region=s3.meta.region_name or "",
    )
    InvoiceWriter(s3, bucket, prefix).put(invoice)  # conditional: an invoice that appeared meanwhile stays
    return True


def stored_among(ddb: Any, table: str, order_ids: set[str]) -> set[str]:
    """The OrderIDs present in the table (strongly consistent reads, 100 keys a call)."""
    found: set[str] = set()
    ids = sorted(order_ids)
    for start in range(0, len(ids), 100):
        request: dict[str, Any] = {
            table: {
                "Keys": [order_table.key_of(oid) for oid in ids[start : start + 100]],
                "ProjectionExpression": order_table.key,
                "ConsistentRead": True,
            }
        }
        while request:
            got = ddb.batch_get_item(RequestItems=request)
            found |= {order_table.order_id_of(item) for item in got["Responses"].get(table, [])}
            request = got.get("UnprocessedKeys") or {}
            if request:
                time.sleep(0.2)
    return found


@dataclass(frozen=True)
class Options:
    """What the run is told to do (triage's keyword arguments)."""

    redrive: bool
    drop_stored: bool
    bucket: str
    invoice_prefix: str
    write_missing_invoices: bool
    visibility_seconds: int
    archive: Archive | None = None


def _preflight(
    sqs: Any, ddb: Any, s3: Any, queue_url: str, table: str, source_queue_url: str, opts: Options
) -> tuple[bool, int, str]:
    """(the DLQ is FIFO, its depth, the redrive target) after checking every queue, table, bucket and the
    archive is usable."""
    try:
        is_fifo = (
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["FifoQueue"])["Attributes"].get("FifoQueue")
            == "true"
        )
        held_before = _depth(sqs, queue_url)
        ddb.describe_table(TableName=table)
        if opts.bucket:
            s3.head_bucket(Bucket=opts.bucket)
        target = source_queue(sqs, queue_url, source_queue_url) if opts.redrive else source_queue_url
        if target:
            sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])
        if opts.archive is not None:
            opts.archive.check()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise TriageError(f"{code}: {exc} (nothing was changed)") from None
    except BotoCoreError as exc:
        raise TriageError(f"{exc} (nothing was changed)") from None
    except OSError as exc:
        raise TriageError(f"--archive-invalid: {exc} (nothing was changed)") from None
    return is_fifo, held_before, target


@dataclass
class _Run:
    """One pass over the DLQ: receive, classify, act; `held` is every receipt handle still invisible."""

    sqs: Any
    ddb: Any
    s3: Any
    is_fifo: bool
    opts: Options
    report: Report
    held: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def drain(self) -> None:
        """Receive until two empty receives in a row, or until close to the first message's visibility deadline."""
        deadline = time.monotonic() + self.opts.visibility_seconds - SAFETY_SECONDS
        empty = 0
        while empty < 2 and time.monotonic() < deadline:
            messages = self.receive()
            if not messages:
                empty += 1
                continue
            empty = 0
            self.handle(messages)

    def receive(self) -> list[dict[str, Any]]:
        return list(
            self.sqs.receive_message(
                QueueUrl=self.report.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                VisibilityTimeout=self.opts.visibility_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        )

    def stored_ids(self, messages: list[dict[str, Any]]) -> set[str]:
        """The OrderIDs of the batch's valid orders that the table holds."""
        candidates = set()
        for m in messages:
            with contextlib.suppress(InvalidOrder):
                candidates.add(parse_order(m["Body"]).OrderID)
        return stored_among(self.ddb, self.report.table, candidates) if candidates else set()

    def handle(self, messages: list[dict[str, Any]]) -> None:
        stored_ids = self.stored_ids(messages)
        now_ms = time.time() * 1000
        for m in messages:
            if m["MessageId"] in self.seen:  # handed out twice in one run: the first copy decided; just let it go
                self.held.append(m["ReceiptHandle"])
                continue
            self.seen.add(m["MessageId"])
            item = self.item_of(m, stored_ids, now_ms)
            self.report.items.append(item)
            self.act(item, m)

    def item_of(self, m: dict[str, Any], stored_ids: set[str], now_ms: float) -> Item:
        attrs, opts = m.get("Attributes", {}), self.opts
        kind, order_id, reason = classify(m["Body"], stored_ids)
        if kind == "stored" and opts.bucket and invoice_missing(self.s3, opts.bucket, opts.invoice_prefix, order_id):
            kind, reason = "stored-no-invoice", f"in the table but {opts.invoice_prefix}{order_id}.json is missing"
        return Item(
            message_id=m["MessageId"],
            group=attrs.get("MessageGroupId", ""),
            dedup_id=attrs.get("MessageDeduplicationId", ""),
            order_id=order_id,
            kind=kind,
            reason=reason,
            receive_count=int(attrs.get("ApproximateReceiveCount", "0")),
            age_seconds=max(0.0, (now_ms - float(attrs.get("SentTimestamp", now_ms))) / 1000),
        )

    def act(self, item: Item, m: dict[str, Any]) -> None:
        """Act on one classified message as told; everything not deleted stays held (released at the end)."""
        opts = self.opts
        if item.kind == "stored-no-invoice" and opts.write_missing_invoices:
            self.write_missing_invoice(item, m)
        elif item.kind == "stored" and opts.drop_stored:
            self.delete(item, m, "dropped")
        elif item.kind == "not-stored" and opts.redrive:
            self.redrive(item, m)
        elif item.kind == "invalid" and opts.archive is not None:
            self.archive(item, m, opts.archive)
        else:
            self.held.append(m["ReceiptHandle"])

    def delete(self, item: Item, m: dict[str, Any], action: Action) -> None:
        """Delete from the DLQ and record `action`; a failed delete keeps it (the next run sees it again)."""
        if _delete(self.sqs, self.report.queue_url, m["ReceiptHandle"]):
            item.action = action
        else:
            item.action = "kept: delete failed"
            self.held.append(m["ReceiptHandle"])

    def write_missing_invoice(self, item: Item, m: dict[str, Any]) -> None:
        opts = self.opts
        if not write_invoice(self.ddb, self.s3, self.report.table, opts.bucket, opts.invoice_prefix, m):
            item.action = "kept: stored from another message"
            self.held.append(m["ReceiptHandle"])
        elif opts.drop_stored:
            self.delete(item, m, "invoice written, dropped")
        else:
            item.action = "invoice written, kept"
            self.held.append(m["ReceiptHandle"])

    def redrive(self, item: Item, m: dict[str, Any]) -> None:
        dedup = redrive_dedup_id(item.order_id, item.message_id)
        if _send(self.sqs, self.report.source_queue_url, m, self.is_fifo, dedup):
            if self.is_fifo or self.report.source_queue_url.endswith(".fifo"):
                item.redrive_dedup_id = dedup
            self.delete(item, m, "redriven")  # only after the send succeeded
        else:
            item.action = "kept: redrive failed"
            self.held.append(m["ReceiptHandle"])

    def archive(self, item: Item, m: dict[str, Any], archive: Archive) -> None:
        """Write the invalid message where it cannot be lost; delete it only once that write is durable."""
        try:
            item.archived_to = archive.put(
                _file_name(m["MessageId"]), archive_document(self.report.queue_url, m, item.reason)
            )
        except (OSError, BotoCoreError, ClientError) as exc:
            print(f"archiving {m['MessageId']} failed, kept in the DLQ: {exc}", file=sys.stderr)
            item.action = "kept: archive failed"
            self.held.append(m["ReceiptHandle"])
            return
        self.delete(item, m, "archived")


def triage(
    queue_url: str,
    table: str,
    *,
    source_queue_url: str = "",
    redrive: bool = False,
    drop_stored: bool = False,
    bucket: str = "",
    invoice_prefix: str = INVOICE_PREFIX,
    write_missing_invoices: bool = False,
    archive_invalid: str = "",
    visibility_seconds: int = 300,
    sqs: Any = None,
    ddb: Any = None,
    s3: Any = None,
) -> Report:
    sqs = sqs or boto3.client("sqs", config=BOTO)
    ddb = ddb or boto3.client("dynamodb", config=BOTO)
    s3 = s3 or boto3.client("s3", config=BOTO)
    archive = archive_at(archive_invalid, s3) if archive_invalid else None
    opts = Options(
        redrive, drop_stored, bucket, invoice_prefix, write_missing_invoices, visibility_seconds, archive=archive
    )
    is_fifo, held_before, target = _preflight(sqs, ddb, s3, queue_url, table, source_queue_url, opts)
    report = Report(
        queue_url=queue_url,
        table=table,
        source_queue_url=target,
        redrive=redrive,
        drop_stored=drop_stored,
        archive=archive.where if archive is not None else "",
        held_before=held_before,
    )
    run = _Run(sqs, ddb, s3, is_fifo, opts, report)
    try:
        run.drain()
    except (BotoCoreError, ClientError) as exc:
        acted = sum(1 for i in report.items if i.action in DELETED)
        raise TriageError(
            f"stopped by {exc}; {acted} messages were acted on as reported so far, the rest are released"
        ) from None
    finally:
        _release(sqs, queue_url, run.held)
    report.counts = dict(Counter(i.kind for i in report.items))
    report.actions = dict(Counter(i.action for i in report.items))
    report.not_reached = max(0, held_before - len(report.items))
    return report


def _send(sqs: Any, target: str, m: dict[str, Any], is_fifo: bool, dedup_id: str) -> bool:
    """Send the DLQ message's body and message attributes to `target`; a FIFO target gets its group and
    `dedup_id` (the redrive's own, never the original's)."""
    attrs = m.get("Attributes", {})
    params: dict[str, Any] = {"QueueUrl": target, "MessageBody": m["Body"]}
    if m.get("MessageAttributes"):
        params["MessageAttributes"] = m["MessageAttributes"]
    if is_fifo or target.endswith(".fifo"):
        params["MessageGroupId"] = attrs["MessageGroupId"]
        params["MessageDeduplicationId"] = dedup_id
    try:
        return bool(sqs.send_message(**params).get("MessageId"))
    except (BotoCoreError, ClientError) as exc:
        print(f"redrive of {m['MessageId']} failed, kept in the DLQ: {exc}", file=sys.stderr)
        return False


def _delete(sqs: Any, url: str, handle: str) -> bool:
    """False when the delete failed: the message stays in the DLQ (the next run sees it again)."""
    try:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    except (BotoCoreError, ClientError) as exc:
        print(f"delete failed; the message stays in the DLQ: {exc}", file=sys.stderr)
        return False
    return True


def _release(sqs: Any, url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        try:
            failed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries).get("Failed", [])
        except (BotoCoreError, ClientError) as exc:
            print(
                f"could not release {len(entries)} messages; they return after the visibility timeout: {exc}",
                file=sys.stderr,
            )
            continue
        if failed:
            print(
                f"{len(failed)} messages return after the visibility timeout instead of now: {failed}", file=sys.stderr
            )


def render(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=180)
    console.print(
        f"DLQ {report.queue_url}: held {report.held_before} at the start; classified {len(report.items)}, "
        f"not reached {report.not_reached}",
        highlight=False,
    )
    if report.archive:
        console.print(f"invalid messages archived to {report.archive}", highlight=False)
    counts = Table(title="classes")
    for col in ("class", "messages", "what to do"):
        counts.add_column(col)
    advice = {
        "invalid": "fix the producer; never redriven (--archive-invalid DIR keeps a copy and removes them)",
        "stored": "safe to drop (--drop-stored)",
        "stored-no-invoice": "--write-missing-invoices (a redrive would be skipped as a duplicate)",
        "not-stored": "redrive into the source queue (--redrive)",
    }
    for kind in ("invalid", "stored", "stored-no-invoice", "not-stored"):
        counts.add_row(kind, str(report.counts.get(kind, 0)), advice[kind])
    console.print(counts)
    table = Table(title="messages")
    for col in ("message id", "group", "order id", "class", "receives", "age s", "reason", "action"):
        table.add_column(col, overflow="fold")
    for i in report.items:
        table.add_row(
            i.message_id, i.group, i.order_id, i.kind, str(i.receive_count), f"{i.age_seconds:.0f}", i.reason, i.action
        )
    console.print(table)
    console.print("actions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.actions.items())), highlight=False)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ops dlq-triage", description=__doc__.split("\n\n")[0])
    p.add_argument("--queue-url", required=True, help="the dead-letter queue")
    p.add_argument(
        "--profile",
        default=None,
        help="the AWS profile to run as: the one that assumes the stack's dlqOperatorRoleArn (docs/operations.md); "
        "default: the standard credential chain",
    )
    p.add_argument("--table", required=True, help="the order table (OrderID is its key)")
    p.add_argument("--source-queue-url", default="", help="where --redrive sends (default: the DLQ's only source)")
    p.add_argument("--redrive", action="store_true", help="send valid orders missing from the table back to the source")
    p.add_argument("--drop-stored", action="store_true", help="delete valid orders already in the table")
    p.add_argument("--bucket", default="", help="invoice bucket: a stored order without its invoice is never dropped")
    p.add_argument("--invoice-prefix", default=INVOICE_PREFIX)
    p.add_argument(
        "--write-missing-invoices", action="store_true", help="with --bucket: write a stored order's missing invoice"
    )
    p.add_argument("--visibility-seconds", type=int, default=300, help="how long each message is held while triaged")
    p.add_argument(
        "--archive-invalid",
        default="",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="write each invalid message there (one JSON file each, durable first), then delete it from the DLQ",
    )
    p.add_argument("--json", action="store_true", help="one JSON document instead of the tables")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not 60 <= args.visibility_seconds <= 43_200:
        print("python -m ops dlq-triage: --visibility-seconds must be 60..43200", file=sys.stderr)
        return 2
    if args.write_missing_invoices and not args.bucket:
        print("python -m ops dlq-triage: --write-missing-invoices needs --bucket", file=sys.stderr)
        return 2
    session = watched_session(profile_name=args.profile)
    try:
        report = triage(
            args.queue_url,
            args.table,
            source_queue_url=args.source_queue_url,
            redrive=args.redrive,
            drop_stored=args.drop_stored,
            bucket=args.bucket,
            invoice_prefix=args.invoice_prefix,
            write_missing_invoices=args.write_missing_invoices,
            visibility_seconds=args.visibility_seconds,
            archive_invalid=args.archive_invalid,
            sqs=session.client("sqs", config=BOTO),
            ddb=session.client("dynamodb", config=BOTO),
            s3=session.client("s3", config=BOTO),
        )
    except TriageError as exc:
        print(f"python -m ops dlq-triage: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        render(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
