"""`python -m worker report`: the sales report (revenue per hour, top SKUs) from the warehouse.

Same SQL on Redshift (Data API) and on the local PostgreSQL warehouse; the warehouse is `--dsn`, else
the analytics consumer's environment (ORDERS_WAREHOUSE_DSN, or ORDERS_WAREHOUSE_WORKGROUP in AWS).
"""

from __future__ import annotations

import argparse
import json
import os
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from worker.consumers.analytics import revenue_per_hour, top_skus
from worker.consumers.processing import ConsumerConfigError, warehouse_from_env


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m worker report", description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", help="warehouse DSN (default: env ORDERS_WAREHOUSE_DSN or the Redshift workgroup)")
    p.add_argument("--top", type=int, default=10, help="how many SKUs to list")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = p.parse_args(argv)
    env = dict(os.environ)
    if args.dsn:
        env["ORDERS_WAREHOUSE_DSN"] = args.dsn
    try:
        warehouse = warehouse_from_env(env)
    except ConsumerConfigError as exc:
        p.error(str(exc))
    hours = revenue_per_hour(warehouse)
    skus = top_skus(warehouse, args.top)
    if args.json:
        report = {
            "revenuePerHour": [
                dict(zip(["hour", "currency", "orders", "units", "revenue"], map(_plain, r), strict=True))
                for r in hours
            ],
            "topSkus": [dict(zip(["sku", "units", "revenue", "orders"], map(_plain, r), strict=True)) for r in skus],
        }
        print(json.dumps(report, indent=2))
        return 0
    console = Console()
    table = Table(title="Revenue per hour (UTC)")
    for column in ("hour", "currency", "orders", "units", "revenue"):
        table.add_column(column, justify="left" if column in {"hour", "currency"} else "right")
    for row in hours:
        table.add_row(*(str(_plain(v)) for v in row))
    console.print(table)
    table = Table(title=f"Top {args.top} SKUs by units")
    for column in ("sku", "units", "revenue", "orders"):
        table.add_column(column, justify="left" if column == "sku" else "right")
    for row in skus:
        table.add_row(*(str(_plain(v)) for v in row))
    console.print(table)
    return 0
