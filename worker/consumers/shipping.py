"""Shipping: one shipment per order and the stock it takes, in one PostgreSQL transaction.

Idempotent by construction: the shipment insert is `ON CONFLICT DO NOTHING` on the order id, and
inventory is decremented only when that insert created the row, so a redelivered event commits
nothing. SKUs are handled in sorted order so concurrent orders lock inventory rows in the same order
(no deadlocks). A SKU that is unknown or short is not decremented: its line is recorded unallocated and
the shipment is `backordered`; the lines that could be filled keep their stock.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from typing import Any

import psycopg

from worker.consumers.sql import migrate_postgres
from worker.model import Invoice

READY = "ready"
BACKORDERED = "backordered"
DUPLICATE = "duplicate"


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    return migrate_postgres(conn, "shipping")


def record_shipment(conn: psycopg.Connection[Any], invoice: Invoice, *, invoice_key: str) -> str:
    """Create the shipment and take stock; returns READY, BACKORDERED, or DUPLICATE (nothing written)."""
    order = invoice.Order
    with conn.transaction():
        created = conn.execute(
            """INSERT INTO shipments (order_id, customer_id, status, total, currency, region, ordered_at, invoice_key)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (order_id) DO NOTHING RETURNING order_id""",
            (
                order.OrderID,
                order.CustomerID,
                READY,
                order.Total,
                order.Currency,
                invoice.Region,
                order.CreatedAt.astimezone(UTC),
                invoice_key,
            ),
        ).fetchone()
        if created is None:
            return DUPLICATE
        wanted: Counter[str] = Counter()
        for item in order.Items:
            wanted[item.SKU] += item.Quantity
        short = []
        for sku in sorted(wanted):
            taken = conn.execute(
                "UPDATE inventory SET on_hand = on_hand - %s, updated_at = now() "
                "WHERE sku = %s AND on_hand >= %s RETURNING on_hand",
                (wanted[sku], sku, wanted[sku]),
            ).fetchone()
            if taken is None:
                short.append(sku)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO shipment_lines (order_id, sku, quantity, allocated) VALUES (%s, %s, %s, %s)",
                [(order.OrderID, sku, wanted[sku], sku not in short) for sku in sorted(wanted)],
            )
        if short:
            conn.execute("UPDATE shipments SET status = %s WHERE order_id = %s", (BACKORDERED, order.OrderID))
            return BACKORDERED
    return READY


def seed_inventory(conn: psycopg.Connection[Any], stock: dict[str, int]) -> int:
    """Set stock levels (insert or overwrite); returns the number of SKUs written."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO inventory (sku, on_hand) VALUES (%s, %s) "
            "ON CONFLICT (sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = now()",
            sorted(stock.items()),
        )
    return len(stock)


class ShippingStore:
    """A lazily (re)opened connection: a consumer survives a database restart or failover."""

    def __init__(self, conninfo: str | None = None, *, connect: Any = None) -> None:
        self._conninfo = conninfo
        self._connect = connect or (lambda: psycopg.connect(self._conninfo or "", autocommit=True))
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._connect()
            migrate(self._conn)
        return self._conn

    def apply(self, invoice: Invoice, invoice_key: str) -> str:
        return record_shipment(self.conn, invoice, invoice_key=invoice_key)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
