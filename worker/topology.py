"""Names shared by the infrastructure, the runtime and the tests.

The Pulumi program builds resources from these; the worker, the consumers, the demo and the tests
read the same constants, so the topology is written down once. Pure Python: no Pulumi import, because
this module ships to Spot instances and Lambda.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ORDER_QUEUE = "orders"
"""Logical name of the FIFO intake queue (deployed as `<project>-<stack>-orders.fifo`)."""


# --- the fan-out consumers: one registry every layer iterates -----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ConsumerDatabase:
    """A database fan-out consumers write, as far as the program and the runtime both need to know it.

    How a consumer reaches it in AWS (the variables the program sets, the grants) is written once per database:
    components/consumers.py (`DATABASE_ACCESS`) and worker/consumers/processing.py (its connector)."""

    name: str
    dsn_env: str
    """The variable holding a PostgreSQL DSN in local runs (`python -m worker consume <consumer> --dsn` sets it)."""
    in_vpc: bool
    """Reachable only from the private subnets (RDS): its consumers run there, with the database's client group."""
    apis: tuple[str, ...]
    """AWS APIs a consumer calls to reach it: an interface endpoint each when such a consumer runs in the VPC."""


SHIPPING_DATABASE = ConsumerDatabase(
    name="shipping", dsn_env="ORDERS_SHIPPING_DSN", in_vpc=True, apis=("secretsmanager",)
)
"""RDS PostgreSQL: shipments and inventory (the RDS-managed secret holds the credentials)."""
WAREHOUSE = ConsumerDatabase(name="warehouse", dsn_env="ORDERS_WAREHOUSE_DSN", in_vpc=False, apis=("redshift-data",))
"""Redshift Serverless through the Data API, a public AWS endpoint: sales facts."""


@dataclass(frozen=True, kw_only=True)
class FanoutConsumer:
    """One subscriber of the order-events topic: its standard queue (with DLQ), its consumer, and how it runs.

    The program builds the queue, the subscription, the alarms, the role and the Lambda function or ECS service
    from this entry; `python -m worker consume <name>`, the Lambda handler and the local run find the consumer
    by its name, and worker/consumers/processing.py (`STORES`) builds its store from the environment."""

    name: str
    """The queue's and the consumer's name (`<project>-<stack>-<name>`), the command's argument, the resources'
    logical names (`<name>-consumer`, `<name>-poller`)."""
    database: ConsumerDatabase
    """What it writes: its environment, its grants, whether it runs in the VPC."""
    runtime_key: str
    """The `orders:` key choosing "lambda" or "ecs" for it (Pulumi.yaml declares it, with its default)."""

    @property
    def needs_vpc(self) -> bool:
        """In the private subnets whatever its runtime: its database is only reachable there."""
        return self.database.in_vpc


_FANOUT_CONSUMERS: dict[str, FanoutConsumer] = {
    c.name: c
    for c in (
        FanoutConsumer(name="shipping", database=SHIPPING_DATABASE, runtime_key="shippingConsumerRuntime"),
        FanoutConsumer(name="analytics", database=WAREHOUSE, runtime_key="analyticsConsumerRuntime"),
    )
}

FANOUT_QUEUES: tuple[str, ...] = tuple(_FANOUT_CONSUMERS)
"""The subscribers of the order-events topic, one standard queue (with DLQ) and one consumer each: the names of
`fanout_consumers()`, in their order (kept in step by `registered_consumer`)."""


def fanout_consumers() -> tuple[FanoutConsumer, ...]:
    """Every fan-out consumer, in a fixed order (the order the program creates them in)."""
    return tuple(_FANOUT_CONSUMERS.values())


def fanout_consumer(name: str) -> FanoutConsumer:
    try:
        return _FANOUT_CONSUMERS[name]
    except KeyError:
        raise KeyError(f"no fan-out consumer {name!r}; expected one of {', '.join(_FANOUT_CONSUMERS)}") from None


@contextmanager
def registered_consumer(consumer: FanoutConsumer) -> Iterator[FanoutConsumer]:
    """`consumer` is a fan-out consumer while the block runs (for tests and experiments; a fork adds its entry to
    `_FANOUT_CONSUMERS`). The runtime's side, with its store: `worker.consumers.processing.registered`."""
    global FANOUT_QUEUES
    if consumer.name in _FANOUT_CONSUMERS or consumer.runtime_key in {c.runtime_key for c in fanout_consumers()}:
        raise ValueError(
            f"fan-out consumer {consumer.name!r} or its key {consumer.runtime_key!r} is already registered"
        )
    _FANOUT_CONSUMERS[consumer.name] = consumer
    FANOUT_QUEUES = tuple(_FANOUT_CONSUMERS)
    try:
        yield consumer
    finally:
        del _FANOUT_CONSUMERS[consumer.name]
        FANOUT_QUEUES = tuple(_FANOUT_CONSUMERS)


ORDER_TABLE = "orders"
TABLE_KEY = "OrderID"
"""DynamoDB partition key of the order table (string)."""

INVOICES_BUCKET = "invoices"
INVOICE_PREFIX = "invoices/"
"""Objects under this prefix start the fan-out; the worker writes `invoices/<OrderID>.json` here."""

ORDER_EVENTS_TOPIC = "order-events"
METRIC_NAMESPACE = "Orders"
"""CloudWatch namespace of the FIFO worker's metrics; the only one its instance role may publish to."""
ALARM_TOPIC = "alarms"
DASHBOARD = "orders"

MAX_RECEIVE_COUNT = 3
"""Receives before a message moves to its DLQ. Mandated by the policy pack; not configurable."""
LONG_POLL_SECONDS = 20
"""SQS's longest receive wait: the queues' ReceiveMessageWaitTimeSeconds and the FIFO worker's --wait-seconds.
A worker's drain deadline outlasts it: what a long poll under way returns is released by the drain."""

DLQ_SUFFIX = "-dlq"
FIFO_SUFFIX = ".fifo"


def physical_name(project: str, stack: str, name: str, *, fifo: bool = False) -> str:
    """Deterministic AWS name `<project>-<stack>-<name>[.fifo]`.

    Deterministic names let the program derive ARNs before the resources exist, so redrive and
    access policies are known values during `pulumi preview` of a fresh stack.
    """
    base = f"{project}-{stack}-{name}"
    return base + FIFO_SUFFIX if fifo else base


def dlq_name(project: str, stack: str, name: str, *, fifo: bool = False) -> str:
    """Name of the dead-letter queue that belongs to queue `name` (same kind as the queue)."""
    return physical_name(project, stack, name + DLQ_SUFFIX, fifo=fifo)
