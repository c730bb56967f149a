"""Analytics: one sales fact per order line, idempotent on (order id, line), plus the report queries.

The SQL here is the only SQL: it runs on Redshift through the Data API and on PostgreSQL locally.
An order's lines are written by one INSERT ... SELECT whose NOT EXISTS guard skips lines already
present, so a redelivered event inserts nothing (Redshift does not enforce primary keys; this guard is
what makes the write idempotent there).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from worker.consumers.sql import Warehouse
from worker.model import Invoice

INSERTED = "inserted"
DUPLICATE = "duplicate"

_COLUMNS = "order_id, line_no, order_time, customer_id, sku, quantity, unit_price, amount, currency, region"


def fact_insert(invoice: Invoice) -> tuple[str, dict[str, str]]:
    """The idempotent insert for an invoice's lines and its string parameters (Data API style)."""
    order = invoice.Order
    params = {
        "order_id": order.OrderID,
        "order_time": order.CreatedAt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "customer_id": order.CustomerID,
        "currency": order.Currency,
        "region": invoice.Region or "unknown",
    }
    rows = []
    for line_no, item in enumerate(order.Items, start=1):
        params |= {f"sku_{line_no}": item.SKU, f"qty_{line_no}": str(item.Quantity)}
        params |= {f"price_{line_no}": str(item.UnitPrice), f"amount_{line_no}": str(item.amount)}
        rows.append(
            "SELECT CAST(:order_id AS VARCHAR(64)) AS order_id, "
            f"{line_no} AS line_no, "
            "CAST(:order_time AS TIMESTAMP) AS order_time, "
            "CAST(:customer_id AS VARCHAR(64)) AS customer_id, "
            f"CAST(:sku_{line_no} AS VARCHAR(64)) AS sku, "
            f"CAST(:qty_{line_no} AS INTEGER) AS quantity, "
            f"CAST(:price_{line_no} AS DECIMAL(12, 2)) AS unit_price, "
            f"CAST(:amount_{line_no} AS DECIMAL(14, 2)) AS amount, "
            "CAST(:currency AS CHAR(3)) AS currency, "
            "CAST(:region AS VARCHAR(32)) AS region"
        )
    sql = (
        f"INSERT INTO sales_fact ({_COLUMNS}) SELECT {', '.join('s.' + c.strip() for c in _COLUMNS.split(','))} "
        f"FROM ({' UNION ALL '.join(rows)}) AS s "
        "WHERE NOT EXISTS (SELECT 1 FROM sales_fact f WHERE f.order_id = s.order_id AND f.line_no = s.line_no)"
    )
    return sql, params


class SalesFacts:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._migrated = False

    def apply(self, invoice: Invoice, invoice_key: str) -> str:
        if not self._migrated:
            self.warehouse.migrate()
            self._migrated = True
        sql, params = fact_insert(invoice)
        return INSERTED if self.warehouse.execute(sql, params) else DUPLICATE


REVENUE_PER_HOUR = """SELECT DATE_TRUNC('hour', order_time) AS hour, currency,
       COUNT(DISTINCT order_id) AS orders, SUM(quantity) AS units, SUM(amount) AS revenue
FROM sales_fact
GROUP BY 1, 2
ORDER BY 1, 2"""

TOP_SKUS = """SELECT sku, SUM(quantity) AS units, SUM(amount) AS revenue, COUNT(DISTINCT order_id) AS orders
FROM sales_fact
GROUP BY sku
ORDER BY units DESC, revenue DESC, sku
LIMIT {limit:d}"""
"""LIMIT is inlined from an int (`{limit:d}`): the Data API binds parameters as values, not in LIMIT."""


def revenue_per_hour(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.query(REVENUE_PER_HOUR)


def top_skus(warehouse: Warehouse, limit: int = 10) -> list[tuple[Any, ...]]:
    return warehouse.query(TOP_SKUS.format(limit=int(limit)))
