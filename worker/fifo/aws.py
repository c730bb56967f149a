"""boto3 clients tuned for the worker: botocore retries, a pool sized to the threads, a read timeout above the long poll.

Retries are botocore's (standard or adaptive mode), never a hand-written loop around a single call. The
endpoint comes from the standard `AWS_ENDPOINT_URL`, so the same code talks to AWS or the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from worker.access import watch_denials
from worker.fifo.settings import WorkerSettings


@dataclass(frozen=True)
class Clients:
    sqs: Any
    dynamodb: Any
    s3: Any
    autoscaling: Any


def client_config(settings: WorkerSettings, *, read_timeout: float, pool: int) -> Config:
    return Config(
        region_name=settings.region,
        retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
        max_pool_connections=pool,
        connect_timeout=3,
        read_timeout=read_timeout,
        tcp_keepalive=True,
    )


def without_expect_continue(s3: Any) -> Any:
    """The S3 client without botocore's `Expect: 100-continue` on PUT bodies (it wraps every body in a file
    object and then always sends the header): that header makes each PutObject two round trips, the
    headers, then the body once the server answers 100. An invoice is ~1 KB, where waiting for the go-ahead
    saves nothing. What is sent and stored is unchanged; a refusal (412: the invoice exists) comes back
    after the body instead of before it."""
    from botocore.handlers import add_expect_header

    s3.meta.events.unregister("before-call.s3", add_expect_header)
    return s3


def make_clients(settings: WorkerSettings, on_call: Callable[[str], None] | None = None) -> Clients:
    """One session, one client per service (clients are thread-safe; sessions are not).

    `on_call` hears "<service>.<Operation>" once per API call (botocore's before-call event), which is
    how the worker reports its API calls per order.
    """
    session = boto3.session.Session(region_name=settings.region)
    watch_denials(session)
    threads = settings.receivers + settings.processors + 4  # + deleter, heartbeat, lifecycle, spare
    # ReceiveMessage holds a connection for up to wait_seconds: the read timeout must outlast it.
    sqs = session.client("sqs", config=client_config(settings, read_timeout=settings.wait_seconds + 10, pool=threads))
    work = client_config(settings, read_timeout=10, pool=settings.processors + 4)
    clients = Clients(
        sqs=sqs,
        dynamodb=session.client("dynamodb", config=work),
        s3=without_expect_continue(session.client("s3", config=work)),
        autoscaling=session.client("autoscaling", config=client_config(settings, read_timeout=10, pool=2)),
    )
    if on_call is not None:
        for client in (clients.sqs, clients.dynamodb, clients.s3, clients.autoscaling):
            client.meta.events.register("before-call", lambda event_name, **_: on_call(event_name.split(".", 1)[1]))
    return clients
