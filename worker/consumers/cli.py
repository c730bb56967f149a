"""`python -m worker consume <consumer>`: the long-running poller of a fan-out consumer (ECS/EC2 and local runs).

Long-polls the consumer's queue and runs each batch through the same Powertools `BatchProcessor` and
record handler as the Lambda adapter (`worker.consumers.batch`; the messages are converted to Lambda's
SQS record shape). It deletes the records that succeeded in one batch call and leaves the failed ones
to come back: after `--retry-delay` seconds (it sets their visibility), or after the queue's
visibility timeout when unset. After 3 receives SQS moves a message to the DLQ. A failed
`ReceiveMessage` (after botocore's own retries) is logged and retried under `worker.backoff.RECEIVE`
instead of ending the loop. SIGTERM (ECS stopping a task, Spot reclaim) finishes the current batch and
exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from worker import topology
from worker.access import watched_session
from worker.backoff import RECEIVE, Backoff
from worker.consumers.batch import batch_processor, lambda_record, queue_arn, record_handler
from worker.consumers.processing import Consumer, build_consumer, failure_reason

log = logging.getLogger("worker.consumers.poller")


@dataclass
class PollerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Poller:
    """One consumer's receive -> process -> delete loop over one queue (see the module docstring)."""

    consumer: Consumer
    queue_url: str
    sqs: Any
    batch_size: int = 10
    wait_seconds: int = 20
    retry_delay: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    backoff: Backoff = field(default_factory=lambda: Backoff(RECEIVE))
    stats: PollerStats = field(default_factory=PollerStats)

    def __post_init__(self) -> None:
        self.region: str = self.sqs.meta.region_name
        self.arn = queue_arn(self.queue_url, self.region, self.sqs.meta.partition)

    def run(self, idle_exit: float | None = None, max_messages: int | None = None) -> PollerStats:
        started = idle_since = time.monotonic()
        while not self.stop.is_set():
            if max_messages is not None and self.stats.received >= max_messages:
                break
            messages = self.receive()
            if messages is None:
                continue
            if messages:
                idle_since = time.monotonic()
                self.handle(messages)
            elif idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
        self.stats.seconds = time.monotonic() - started
        return self.stats

    def receive(self) -> list[dict[str, Any]] | None:
        """One long poll: the messages ([] if none), or None after a failed call (already backed off)."""
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (ClientError, BotoCoreError) as exc:
            delay = self.backoff.failed()
            log.warning(
                "%s: receive failed (%d in a row), retrying in %.2f s: %s",
                self.consumer.name,
                self.backoff.attempts,
                delay,
                failure_reason(exc),
            )
            self.stop.wait(delay)
            return None
        self.backoff.succeeded()
        return list(response.get("Messages", []))

    def handle(self, messages: list[dict[str, Any]]) -> None:
        """Run the batch through the shared processor; delete the successes, release the failures."""
        records = [lambda_record(m, self.arn, self.region) for m in messages]
        processor = batch_processor()
        with processor(records=records, handler=record_handler(self.consumer, self._failed)):
            results = processor.process()
        done = {record["messageId"] for status, _, record in results if status == "success"}
        for status, outcomes, _ in results:
            for outcome in outcomes if status == "success" else []:
                self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
        self.stats.received += len(records)
        self.stats.failed += len(records) - len(done)
        self.release([r for r in records if r["messageId"] not in done])
        self.delete([r for r in records if r["messageId"] in done])

    def _failed(self, record: SQSRecord, exc: Exception) -> None:
        log.warning(
            "%s: message %s failed (receive %s of %d), left for redelivery: %s",
            self.consumer.name,
            record.message_id,
            record.attributes.get("ApproximateReceiveCount", "?"),
            topology.MAX_RECEIVE_COUNT,
            failure_reason(exc),
        )

    def release(self, failed: list[dict[str, Any]]) -> None:
        """With `retry_delay`, make the failed messages visible again that soon (else: the queue's timeout)."""
        if self.retry_delay is None:
            return
        for record in failed:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=self.retry_delay
                )
            except (ClientError, BotoCoreError) as exc:  # it comes back after the queue's timeout instead
                log.warning(
                    "%s: could not release %s: %s", self.consumer.name, record["messageId"], failure_reason(exc)
                )

    def delete(self, done: list[dict[str, Any]]) -> None:
        """Delete exactly the successful messages, in one call."""
        if not done:
            return
        try:
            result = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
            )
        except (ClientError, BotoCoreError) as exc:
            # Processed but not deleted: redelivered after the visibility timeout, and recognised (both
            # consumers are idempotent). The poller goes on; an AccessDenied was also logged by worker/access.py.
            log.error(
                "%s: delete of %d processed messages failed: %s", self.consumer.name, len(done), failure_reason(exc)
            )
            return
        for failure in result.get("Failed", []):
            log.error("%s: delete failed for entry %s: %s", self.consumer.name, failure["Id"], failure.get("Message"))
        self.stats.succeeded += len(done) - len(result.get("Failed", []))


def sqs_client(wait_seconds: int) -> Any:
    return watched_session().client(
        "sqs", config=Config(read_timeout=wait_seconds + 10, retries={"mode": "standard", "max_attempts": 4})
    )


def poll(
    consumer: Consumer,
    queue_url: str,
    *,
    batch_size: int = 10,
    wait_seconds: int = 20,
    retry_delay: int | None = None,
    idle_exit: float | None = None,
    max_messages: int | None = None,
    stop: threading.Event | None = None,
    sqs: Any = None,
    backoff: Backoff | None = None,
) -> PollerStats:
    """Consume until `stop` is set, `max_messages` were received, or the queue stayed empty `idle_exit` seconds."""
    poller = Poller(
        consumer,
        queue_url,
        sqs or sqs_client(wait_seconds),
        batch_size=batch_size,
        wait_seconds=wait_seconds,
        retry_delay=retry_delay,
        stop=stop or threading.Event(),
        backoff=backoff or Backoff(RECEIVE),
    )
    return poller.run(idle_exit=idle_exit, max_messages=max_messages)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m worker consume", description=__doc__.split("\n\n")[0])
    p.add_argument("consumer", choices=topology.FANOUT_QUEUES)
    p.add_argument(
        "--queue-url", default=os.environ.get("ORDERS_CONSUMER_QUEUE_URL"), help="env ORDERS_CONSUMER_QUEUE_URL"
    )
    dsn_envs = sorted({c.database.dsn_env for c in topology.fanout_consumers()})
    p.add_argument("--dsn", help=f"database DSN (sets the consumer's {' or '.join(dsn_envs)} for this run)")
    p.add_argument("--batch-size", type=int, default=10, choices=range(1, 11), metavar="1-10")
    p.add_argument("--wait-seconds", type=int, default=20, choices=range(0, 21), metavar="0-20")
    p.add_argument(
        "--retry-delay",
        type=int,
        default=int(os.environ["ORDERS_RETRY_DELAY"]) if os.environ.get("ORDERS_RETRY_DELAY") else None,
        help="seconds before a failed message is visible again (default: the queue's visibility timeout)",
    )
    p.add_argument("--idle-exit", type=float, help="exit after the queue stayed empty this many seconds")
    p.add_argument("--max-messages", type=int, help="exit after receiving this many messages")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not args.queue_url:
        parser().error("--queue-url or ORDERS_CONSUMER_QUEUE_URL is required")
    env = dict(os.environ)
    if args.dsn:
        env[topology.fanout_consumer(args.consumer).database.dsn_env] = args.dsn
    consumer = build_consumer(args.consumer, env)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        stats = poll(
            consumer,
            args.queue_url,
            batch_size=args.batch_size,
            wait_seconds=args.wait_seconds,
            retry_delay=args.retry_delay,
            idle_exit=args.idle_exit,
            max_messages=args.max_messages,
            stop=stop,
        )
    finally:
        consumer.close()
    rate = stats.succeeded / stats.seconds if stats.seconds else 0.0
    log.info(
        "%s: received %d, done %d, failed %d, outcomes %s, %.1f msg/s",
        args.consumer,
        stats.received,
        stats.succeeded,
        stats.failed,
        stats.outcomes,
        rate,
    )
    return 0
