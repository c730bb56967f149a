"""`python -m bench.consumers`: how fast the fan-out consumers write to PostgreSQL on this machine.

Two measurements, reported apart:

* database only: `record_shipment` (one transaction per order: insert-if-absent + one conditional
  decrement per SKU + lines) and the sales-fact insert, called directly on parsed invoices, with 1 and
  N concurrent connections. This is the consumers' own ceiling against the local PostgreSQL
  (fsync off: test settings; RDS with durable commits is slower per transaction).
* end to end: invoices uploaded to the emulated bucket (stack provisioned from the Pulumi program),
  fanned out by S3 -> SNS -> SQS, drained by the real pollers (`python -m worker consume` code path:
  receive 10, GetObject per message, database, delete batch). Dominated by the emulator.

Loopback caveat: there is no network latency here and 2 shared cores, so the end-to-end figure is the
emulator's CPU cost per call, not what SQS and S3 in a region would give (there, each of the ~3 calls
per message is a round trip, which more pollers or Lambda concurrency hide).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import psycopg

from simulation.postgres import PostgresServer, running_postgres
from simulation.producer import catalog_sku, generate_spike, upload_s3
from worker import topology
from worker.consumers.analytics import SalesFacts
from worker.consumers.cli import poll
from worker.consumers.processing import build_consumer
from worker.consumers.shipping import migrate, record_shipment, seed_inventory
from worker.consumers.sql import PostgresWarehouse
from worker.model import Invoice

REGION = "us-east-1"


def invoices(count: int, seed: int) -> list[Invoice]:
    spike = generate_spike(count, duplicates=0.0, malformed=0.0, seed=seed, prefix=f"B{seed}-")
    return [Invoice(Order=o, ProcessedAt=o.CreatedAt, SequenceNumber="1", Region=REGION) for o in spike.orders.values()]


def fresh_databases(server: PostgresServer) -> tuple[str, str]:
    run = uuid.uuid4().hex[:8]
    shipping, warehouse = server.create_database(f"bs_{run}"), server.create_database(f"bw_{run}")
    with psycopg.connect(shipping, autocommit=True) as conn:
        migrate(conn)
        seed_inventory(conn, {catalog_sku(n): 1_000_000 for n in range(1, 51)})
    PostgresWarehouse(warehouse).migrate()
    return shipping, warehouse


def run_parallel(items: list[Invoice], workers: int, make: Callable[[], Callable[[Invoice], Any]]) -> float:
    """Split `items` over `workers` threads, each with its own connection; return events/s."""
    chunks = [items[i::workers] for i in range(workers)]
    appliers = [make() for _ in range(workers)]
    barrier = threading.Barrier(workers + 1)

    def work(apply: Callable[[Invoice], Any], chunk: list[Invoice]) -> None:
        barrier.wait()
        for inv in chunk:
            apply(inv)

    threads = [threading.Thread(target=work, args=(a, c)) for a, c in zip(appliers, chunks, strict=True)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.monotonic()
    for t in threads:
        t.join()
    return len(items) / (time.monotonic() - started)


def database_only(server: PostgresServer, count: int, workers: int, repeats: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    for r in range(repeats):
        for n in (1, workers):
            shipping, warehouse = fresh_databases(server)
            batch = invoices(count, seed=100 + r)

            def shipping_applier(dsn: str = shipping) -> Callable[[Invoice], Any]:
                conn = psycopg.connect(dsn, autocommit=True)
                return lambda inv: record_shipment(conn, inv, invoice_key="k")

            def facts_applier(dsn: str = warehouse) -> Callable[[Invoice], Any]:
                facts = SalesFacts(PostgresWarehouse(dsn))
                return lambda inv: facts.apply(inv, "k")

            results.setdefault(f"shipping x{n}", []).append(run_parallel(batch, n, shipping_applier))
            results.setdefault(f"analytics x{n}", []).append(run_parallel(batch, n, facts_applier))
    return results


def end_to_end(server: PostgresServer, count: int, repeats: int) -> dict[str, list[float]]:
    from offline.provision.provisioner import provision
    from simulation.emulator import running_emulator

    results: dict[str, list[float]] = {}
    with running_emulator(region=REGION) as emulator:
        exports = provision(REGION, endpoint=emulator.endpoint, stack="bench").exports
        queues = exports["fanoutQueueUrls"]
        sqs = boto3.client("sqs", region_name=REGION)
        for url in queues.values():
            sqs.purge_queue(QueueUrl=url)
        for r in range(repeats):
            shipping, warehouse = fresh_databases(server)
            spike = generate_spike(count, duplicates=0.0, malformed=0.0, seed=200 + r, prefix=f"E{r}-")
            upload_s3(spike.messages, exports["invoicesBucketName"], concurrency=8)
            env = {topology.SHIPPING_DATABASE.dsn_env: shipping, topology.WAREHOUSE.dsn_env: warehouse}
            env["AWS_REGION"] = REGION
            for name in topology.FANOUT_QUEUES:
                consumer = build_consumer(name, env)
                stats = poll(consumer, queues[name], wait_seconds=0, idle_exit=0.5, retry_delay=0)
                consumer.close()
                assert stats.succeeded == count and stats.failed == 0, stats
                results.setdefault(f"{name} poller (emulator)", []).append(stats.succeeded / (stats.seconds - 0.5))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.consumers", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=2000, help="orders per database-only run")
    p.add_argument("--e2e-orders", type=int, default=300, help="orders per end-to-end run")
    p.add_argument("--workers", type=int, default=4, help="concurrent connections in the parallel run")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    with running_postgres() as server:
        print(f"PostgreSQL {server.bindir} ready in {server.started_in:.2f}s")
        results = database_only(server, args.orders, args.workers, args.repeats)
        results |= end_to_end(server, args.e2e_orders, args.repeats)
    print(f"{'measurement':<28} {'median events/s':>16} {'runs':>30}")
    for name, rates in results.items():
        print(f"{name:<28} {statistics.median(rates):>16.0f} {', '.join(f'{x:.0f}' for x in rates):>30}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
