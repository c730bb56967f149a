"""The one processing function both adapters call, and the consumer built from the environment.

Which consumers there are is `worker.topology`'s registry; how each builds its store from the environment is
`STORES` here, keyed by the same names (`registered` adds a consumer and its store for the length of a block).

`process_message` raises on any failure so the adapter leaves that message on the queue (it comes back
after its visibility timeout and reaches the DLQ after 3 receives); every other message of the batch
is acknowledged independently. `failure_reason` turns the exception into the one log line an operator
needs.

Environment (flags of `python -m worker consume` override it; a consumer's local DSN variable is its database's
`dsn_env` in worker/topology.py):
  shipping  : ORDERS_SHIPPING_DSN (local), or ORDERS_DB_SECRET_ARN + ORDERS_DB_HOST [+ ORDERS_DB_PORT,
              ORDERS_DB_NAME] in AWS (the RDS-managed secret holds username and password; TLS required)
  analytics : ORDERS_WAREHOUSE_DSN (local), or ORDERS_WAREHOUSE_WORKGROUP + ORDERS_WAREHOUSE_DATABASE
              (Redshift Serverless through the Data API) in AWS
  both      : AWS_REGION (also the invoice's region when it carries none)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from worker import topology
from worker.access import watched_session
from worker.consumers.analytics import SalesFacts
from worker.consumers.events import InvalidEvent, objects_in
from worker.consumers.invoice_reader import MissingInvoice, fetch_invoice
from worker.consumers.shipping import ShippingStore
from worker.consumers.sql import DataApiWarehouse, PostgresWarehouse, Warehouse, WarehouseError
from worker.model import InvalidOrder, Invoice

log = logging.getLogger("worker.consumers")

BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)


class ConsumerConfigError(ValueError):
    """Missing or contradictory settings; the message names the variable or flag."""


@dataclass
class Consumer:
    name: str
    apply: Callable[[Invoice, str], str]
    """(invoice, s3 key) -> outcome; idempotent, raises on failure."""
    s3: Any
    region: str
    close: Callable[[], None] = lambda: None


def process_message(consumer: Consumer, body: str) -> list[str]:
    """Apply every invoice a message announces; return the outcomes (e.g. ['ready'], [] for a test event)."""
    outcomes = []
    for obj in objects_in(body):
        invoice = fetch_invoice(consumer.s3, obj, default_region=consumer.region)
        outcomes.append(consumer.apply(invoice, obj.key))
    return outcomes


def failure_reason(exc: BaseException) -> str:
    """One line: what kind of failure and why, without a stack trace for expected bad input."""
    kinds: list[tuple[type[BaseException], str]] = [
        (InvalidEvent, "not an S3 event"),
        (MissingInvoice, "invoice object missing"),
        (InvalidOrder, "invalid invoice"),
        (psycopg.errors.IntegrityError, "database constraint"),
        (psycopg.Error, "database error"),
        (WarehouseError, "warehouse statement failed"),
        (ClientError, "AWS error"),
        (BotoCoreError, "AWS client error"),
    ]
    for kind, label in kinds:
        if isinstance(exc, kind):
            return f"{label}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
    return f"unexpected {type(exc).__name__}: {exc}"


def shipping_connector(env: Mapping[str, str], session: boto3.Session) -> Callable[[], psycopg.Connection[Any]]:
    if dsn := env.get(topology.SHIPPING_DATABASE.dsn_env):
        return lambda: psycopg.connect(dsn, autocommit=True)
    secret_arn, host = env.get("ORDERS_DB_SECRET_ARN"), env.get("ORDERS_DB_HOST")
    if not (secret_arn and host):
        raise ConsumerConfigError("shipping needs ORDERS_SHIPPING_DSN, or ORDERS_DB_SECRET_ARN and ORDERS_DB_HOST")
    secrets = session.client("secretsmanager", config=BOTO_CONFIG)

    def connect() -> psycopg.Connection[Any]:
        # Read at every (re)connect: RDS rotates the managed password, and a reconnect picks up the new one.
        secret = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
        return psycopg.connect(
            host=host,
            port=int(env.get("ORDERS_DB_PORT", "5432")),
            dbname=env.get("ORDERS_DB_NAME", "orders"),
            user=secret["username"],
            password=secret["password"],
            sslmode="require",
            connect_timeout=10,
            autocommit=True,
        )

    return connect


def warehouse_from_env(env: Mapping[str, str], session: boto3.Session | None = None) -> Warehouse:
    """The local PostgreSQL warehouse (ORDERS_WAREHOUSE_DSN) or Redshift through the Data API."""
    if dsn := env.get(topology.WAREHOUSE.dsn_env):
        return PostgresWarehouse(dsn)
    if workgroup := env.get("ORDERS_WAREHOUSE_WORKGROUP"):
        client = (session or boto3.Session()).client("redshift-data", config=BOTO_CONFIG)
        return DataApiWarehouse(client, workgroup, env.get("ORDERS_WAREHOUSE_DATABASE", "sales"))
    raise ConsumerConfigError("analytics needs ORDERS_WAREHOUSE_DSN, or ORDERS_WAREHOUSE_WORKGROUP")


@dataclass(frozen=True)
class Store:
    """What a consumer does with each invoice, and how it lets go of its connections."""

    apply: Callable[[Invoice, str], str]
    """(invoice, s3 key) -> outcome; idempotent, raises on failure."""
    close: Callable[[], None] = lambda: None


StoreBuilder = Callable[[Mapping[str, str], boto3.Session], Store]
"""(environment, session) -> the consumer's store; raises `ConsumerConfigError` naming what is missing."""


def shipments(env: Mapping[str, str], session: boto3.Session) -> Store:
    store = ShippingStore(connect=shipping_connector(env, session))
    return Store(store.apply, store.close)


def sales_facts(env: Mapping[str, str], session: boto3.Session) -> Store:
    warehouse = warehouse_from_env(env, session)
    return Store(SalesFacts(warehouse).apply, getattr(warehouse, "close", lambda: None))


STORES: dict[str, StoreBuilder] = {"shipping": shipments, "analytics": sales_facts}
"""Each fan-out consumer's store (worker/topology.py's registry names the consumers)."""


def build_consumer(name: str, env: Mapping[str, str] | None = None) -> Consumer:
    """The named consumer, wired from the environment (see module docstring)."""
    if name not in topology.FANOUT_QUEUES or name not in STORES:
        raise ConsumerConfigError(f"unknown consumer {name!r}; expected one of {', '.join(topology.FANOUT_QUEUES)}")
    env = os.environ if env is None else env
    session = watched_session()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or session.region_name or ""
    s3 = session.client("s3", config=BOTO_CONFIG)
    store = STORES[name](env, session)
    return Consumer(name, store.apply, s3, region, store.close)


@contextmanager
def registered(consumer: topology.FanoutConsumer, store: StoreBuilder) -> Iterator[topology.FanoutConsumer]:
    """`consumer` (with its `store`) is a fan-out consumer while the block runs: the program builds its queue and
    its function or service, the poller and the Lambda handler run it, the local run starts it (for tests)."""
    with topology.registered_consumer(consumer):
        STORES[consumer.name] = store
        try:
            yield consumer
        finally:
            del STORES[consumer.name]
