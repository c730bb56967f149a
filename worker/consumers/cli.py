"""`python -m worker consume shipping|analytics`: the long-running poller (ECS/EC2 and local runs).

Long-polls the consumer's queue, runs `process_message` on each message, deletes the ones that
succeeded in one batch call and leaves the failed ones to come back: after `--retry-delay` seconds
(it sets their visibility), or after the queue's visibility timeout when unset. After 3 receives SQS
moves a message to the DLQ. SIGTERM (ECS stopping a task, Spot reclaim) finishes the current batch and
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

import boto3
from botocore.config import Config

from worker import topology
from worker.consumers.processing import CONSUMERS, Consumer, build_consumer, failure_reason, process_message

log = logging.getLogger("worker.consumers.poller")


@dataclass
class PollerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


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
) -> PollerStats:
    """Consume until `stop` is set, `max_messages` were received, or the queue stayed empty `idle_exit` seconds."""
    stop = stop or threading.Event()
    sqs = sqs or boto3.client(
        "sqs", config=Config(read_timeout=wait_seconds + 10, retries={"mode": "standard", "max_attempts": 4})
    )
    stats = PollerStats()
    started = time.monotonic()
    idle_since = time.monotonic()
    while not stop.is_set():
        if max_messages is not None and stats.received >= max_messages:
            break
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        if not messages:
            if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
            continue
        idle_since = time.monotonic()
        stats.received += len(messages)
        done = []
        for message in messages:
            try:
                for outcome in process_message(consumer, message["Body"]):
                    stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
            except Exception as exc:
                stats.failed += 1
                log.warning(
                    "%s: message %s failed (receive %s of %d), left for redelivery: %s",
                    consumer.name,
                    message["MessageId"],
                    message.get("Attributes", {}).get("ApproximateReceiveCount", "?"),
                    topology.MAX_RECEIVE_COUNT,
                    failure_reason(exc),
                )
                if retry_delay is not None:
                    sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=retry_delay
                    )
                continue
            done.append(message)
        if done:
            result = sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            for failure in result.get("Failed", []):
                log.error("%s: delete failed for entry %s: %s", consumer.name, failure["Id"], failure.get("Message"))
            stats.succeeded += len(done) - len(result.get("Failed", []))
    stats.seconds = time.monotonic() - started
    return stats


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m worker consume", description=__doc__.split("\n\n")[0])
    p.add_argument("consumer", choices=CONSUMERS)
    p.add_argument(
        "--queue-url", default=os.environ.get("ORDERS_CONSUMER_QUEUE_URL"), help="env ORDERS_CONSUMER_QUEUE_URL"
    )
    p.add_argument("--dsn", help="database DSN (sets ORDERS_SHIPPING_DSN or ORDERS_WAREHOUSE_DSN for this run)")
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
        env["ORDERS_SHIPPING_DSN" if args.consumer == "shipping" else "ORDERS_WAREHOUSE_DSN"] = args.dsn
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
