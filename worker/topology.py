"""Names shared by the infrastructure, the runtime and the tests.

The Pulumi program builds resources from these; the worker, the consumers, the demo and the tests
read the same constants, so the topology is written down once. Pure Python: no Pulumi import, because
this module ships to Spot instances and Lambda.
"""

from __future__ import annotations

ORDER_QUEUE = "orders"
"""Logical name of the FIFO intake queue (deployed as `<project>-<stack>-orders.fifo`)."""

FANOUT_QUEUES: tuple[str, ...] = ("shipping", "analytics")
"""The subscribers of the order-events topic, one standard queue (with DLQ) and one consumer each."""

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
