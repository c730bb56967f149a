"""`python -m worker seed-inventory`: migrate the shipping schema and set inventory levels.

Stock comes from `--sku SKU=QTY` (repeatable), a CSV file of `sku,quantity` rows (`--file`), or a
generated catalog (`--count N` SKUs named `<prefix><number>` with `--quantity` each). Existing SKUs
are overwritten: seeding sets stock, it does not add to it. The database is `--dsn`, else the
environment of the shipping consumer (ORDERS_SHIPPING_DSN, or the RDS secret in AWS).
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import boto3

from worker.consumers.processing import ConsumerConfigError, shipping_connector
from worker.consumers.shipping import migrate, seed_inventory


def catalog_sku(prefix: str, number: int) -> str:
    return f"{prefix}{number:05d}"


def parse_stock(args: argparse.Namespace) -> dict[str, int]:
    stock: dict[str, int] = {}
    if args.count:
        stock |= {catalog_sku(args.prefix, i): args.quantity for i in range(1, args.count + 1)}
    if args.file:
        with Path(args.file).open(newline="") as f:
            for n, row in enumerate(csv.reader(f), start=1):
                if not row or row[0].strip().lower() in {"", "sku"}:
                    continue
                try:
                    stock[row[0].strip()] = int(row[1])
                except (IndexError, ValueError):
                    raise SystemExit(f"{args.file}:{n}: expected 'sku,quantity', got {row!r}") from None
    for item in args.sku:
        sku, _, qty = item.partition("=")
        if not sku or not qty.isdigit():
            raise SystemExit(f"--sku {item!r}: expected SKU=QUANTITY")
        stock[sku] = int(qty)
    negative = [s for s, q in stock.items() if q < 0]
    if negative:
        raise SystemExit(f"negative stock for {negative}")
    return stock


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m worker seed-inventory", description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", help="shipping database DSN (default: env ORDERS_SHIPPING_DSN or the RDS secret)")
    p.add_argument("--sku", action="append", default=[], metavar="SKU=QTY")
    p.add_argument("--file", help="CSV of sku,quantity")
    p.add_argument("--count", type=int, default=0, help="generate this many catalog SKUs")
    p.add_argument("--prefix", default="SKU-", help="prefix of generated SKUs (default SKU-)")
    p.add_argument("--quantity", type=int, default=1000, help="stock of each generated SKU")
    args = p.parse_args(argv)
    env = dict(os.environ)
    if args.dsn:
        env["ORDERS_SHIPPING_DSN"] = args.dsn
    try:
        connect = shipping_connector(env, boto3.Session())
    except ConsumerConfigError as exc:
        p.error(str(exc))
    stock = parse_stock(args)
    with connect() as conn:
        applied = migrate(conn)
        written = seed_inventory(conn, stock)
    print(f"migrations applied: {', '.join(applied) or 'none pending'}; inventory rows written: {written}")
    return 0
