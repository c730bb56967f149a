"""The demo's checks, each computed from the stores (`readback`), never from a process's own counters."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulation.demo.denials import DenialLog, describe
from simulation.demo.plan import Plan, Progress
from simulation.demo.readback import Readback, Sent, read_back
from simulation.stack import EmulatedStack
from worker.model import StoredOrder
from worker.topology import MAX_RECEIVE_COUNT


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


EXACTLY_ONCE = (
    "every valid order exactly once in DynamoDB",
    "one invoice per stored order (fan-out started once)",
    "one shipment per valid order (both paths)",
    "nothing lost: produced = processed + dead-lettered",
)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(values), 3)}


def check_producer(progress: Progress) -> Check:
    return Check(
        "producer sent everything",
        not progress.produce_error,
        progress.produce_error or f"{progress.produced} messages",
    )


def check_drained(drained: bool) -> Check:
    detail = "all work queues empty" if drained else "stopped first (timeout, a failed process, a denial or Ctrl-C)"
    return Check("queues drained before the timeout", drained, detail)


def check_stored_once(sent: Sent, got: Readback) -> Check:
    """Every valid FIFO order exactly once in DynamoDB."""
    stored = got.stored
    missing, extra = sent.fifo_valid - set(stored), set(stored) - sent.fifo_valid
    return Check(
        "every valid order exactly once in DynamoDB",
        not missing and not extra and all(n == 1 for n in stored.values()),
        f"{len(stored)} stored of {len(sent.fifo_valid)}; missing {len(missing)}, unexpected {len(extra)}",
    )


def check_invoices_once(sent: Sent, got: Readback) -> Check:
    """Every stored FIFO order's invoice written once: its fan-out started once."""
    fifo_invoices = {
        k: n
        for k, n in got.invoice_versions.items()
        if k.removeprefix(got.invoice_prefix).removesuffix(".json") in sent.fifo_valid
    }
    return Check(
        "one invoice per stored order (fan-out started once)",
        len(fifo_invoices) == len(sent.fifo_valid) and all(n == 1 for n in fifo_invoices.values()),
        f"{len(fifo_invoices)} invoices, {sum(n > 1 for n in fifo_invoices.values())} written more than once",
    )


def _in_order(group_items: list[StoredOrder], index: dict[str, int]) -> bool:
    """Within one group: sequence number order = production order = processing-time order."""
    by_seq = sorted(group_items, key=lambda i: int(i.sequence_number or 0))
    by_time = sorted(group_items, key=lambda i: i.processed_at.isoformat() if i.processed_at else "")
    produced_order = [index[i.order_id] for i in by_seq]
    same_order = [i.order_id for i in by_time] == [i.order_id for i in by_seq]
    return produced_order == sorted(produced_order) and same_order


def check_group_order(sent: Sent, got: Readback) -> Check:
    """Per-group order: within each customer, processing order = production order."""
    by_group: dict[str, list[StoredOrder]] = defaultdict(list)
    for item in got.items:
        by_group[item.group_id].append(item)
    out_of_order = [group for group, group_items in by_group.items() if not _in_order(group_items, sent.index)]
    return Check(
        "per-customer order held",
        not out_of_order,
        f"{len(by_group)} message groups checked (sequence number and processing time); out of order: {out_of_order[:5]}",
    )


def check_shipments(sent: Sent, got: Readback) -> Check:
    all_valid, shipped = sent.all_valid, set(got.shipments)
    return Check(
        "one shipment per valid order (both paths)",
        shipped == all_valid,
        f"{len(got.shipments)} shipments for {len(all_valid)} valid orders; missing {len(all_valid - shipped)}, "
        f"unexpected {len(shipped - all_valid)}",
    )


def _wanted_units(sent: Sent, got: Readback) -> dict[str, Counter[str]]:
    """Units per SKU each shipped valid order asked for."""
    wanted: dict[str, Counter[str]] = {}
    for oid in sent.all_valid & set(got.shipments):
        c: Counter[str] = Counter()
        for line in sent.orders[oid].Items:
            c[line.SKU] += line.Quantity
        wanted[oid] = c
    return wanted


def check_inventory(sent: Sent, got: Readback, stock: dict[str, int]) -> Check:
    """Shipment lines match the orders; inventory = seeded - allocated; backorders where stock ran out."""
    wanted = _wanted_units(sent, got)
    got_lines: dict[str, Counter[str]] = defaultdict(Counter)
    allocated: Counter[str] = Counter()
    unallocated_orders = set()
    for oid, sku, qty, alloc in got.lines:
        got_lines[oid][sku] += qty
        if alloc:
            allocated[sku] += qty
        else:
            unallocated_orders.add(oid)
    on_hand = got.on_hand
    lines_ok = all(got_lines[oid] == wanted[oid] for oid in wanted)
    stock_ok = all(
        on_hand.get(sku, 0) == qty - allocated[sku] and on_hand.get(sku, 0) >= 0 for sku, qty in stock.items()
    )
    backordered = {oid for oid, status in got.shipments.items() if status == "backordered"}
    return Check(
        "inventory = seeded - allocated, backorders exactly where stock ran out",
        lines_ok and stock_ok and backordered == unallocated_orders,
        f"{sum(allocated.values())} units allocated over {len(allocated)} SKUs; {len(backordered)} backordered shipments; "
        f"{sum(1 for s in stock if on_hand.get(s) == 0)} SKUs sold out",
    )


def check_sales_facts(sent: Sent, got: Readback) -> Check:
    orders, all_valid, facts = sent.orders, sent.all_valid, got.facts
    facts_ok = set(facts) == all_valid and all(
        facts[o] == (len(orders[o].Items), orders[o].Total) for o in all_valid & set(facts)
    )
    revenue = sum((orders[o].Total for o in all_valid), Decimal("0"))
    return Check(
        "sales facts: one row per order line, revenue adds up",
        facts_ok,
        f"{sum(n for n, _ in facts.values())} fact rows for {len(facts)} orders; "
        f"revenue {sum((a for _, a in facts.values()), Decimal('0'))} of {revenue} USD",
    )


def check_fifo_dlq(sent: Sent, got: Readback) -> Check:
    """Each malformed FIFO order in the DLQ once, after `MAX_RECEIVE_COUNT` receives."""
    dlq_bodies = Counter(m["Body"] for m in got.dlq)
    receives = [int(m["Attributes"]["ApproximateReceiveCount"]) for m in got.dlq]
    return Check(
        f"malformed orders in the FIFO DLQ after {MAX_RECEIVE_COUNT} receives",
        set(dlq_bodies) == sent.fifo_bad
        and all(n == 1 for n in dlq_bodies.values())
        and all(r >= MAX_RECEIVE_COUNT for r in receives),
        f"{len(got.dlq)} in DLQ of {len(sent.fifo_bad)} malformed sent; receive counts {sorted(set(receives))}",
    )


def check_fanout_dlqs(sent: Sent, got: Readback) -> Check:
    return Check(
        "malformed bulk-import objects in each fan-out DLQ",
        all(n == len(sent.s3_bad) for n in got.fanout_dead.values()),
        f"{got.fanout_dead} of {len(sent.s3_bad)} malformed uploaded",
    )


def check_nothing_lost(sent: Sent, got: Readback) -> Check:
    """Produced = processed + dead-lettered (+ still queued, when the run stopped early), on both paths."""
    stored = got.stored
    produced_fifo = len(sent.fifo_valid) + len(sent.fifo_bad)
    bulk_shipped = len(sent.s3_valid & set(got.shipments))
    accounted = len(stored) + len(got.dlq) + got.fifo_waiting
    # Drained: exactly. Stopped early: a message stored but not yet deleted is also still queued (it will be
    # redelivered and recognised), so nothing is lost as long as nothing is short.
    return Check(
        "nothing lost: produced = processed + dead-lettered + still queued",
        produced_fifo == accounted if not got.fifo_waiting else produced_fifo <= accounted,
        f"FIFO {produced_fifo} = {len(stored)} + {len(got.dlq)} + {got.fifo_waiting}; "
        f"bulk {len(sent.s3_valid) + len(sent.s3_bad)} = {bulk_shipped} + {min(got.fanout_dead.values(), default=0)}",
    )


def measured_figures(plan: Plan, progress: Progress, got: Readback) -> dict[str, Any]:
    """Throughput and latency, from the producer's send times and the stores' own timestamps."""
    figures: dict[str, Any] = {}
    sent_at: dict[str, float] = {}
    for result in progress.results.values():
        sent_at.update(result.sent_at)
    processed_at = {i.order_id: i.processed_at.timestamp() for i in got.items if i.processed_at}
    stored_latency = [processed_at[o] - sent_at[o] for o in processed_at if o in sent_at]
    shipped_latency = [float(got.shipped_at[o]) - sent_at[o] for o in got.shipped_at if o in sent_at]
    if processed_at:
        first, last = min(sent_at.values(), default=0.0), max(processed_at.values())
        figures["fifo_orders_per_second"] = round(len(processed_at) / max(last - first, 1e-6), 1)
    figures["latency_seconds_sent_to_stored"] = percentiles(stored_latency)
    figures["latency_seconds_sent_to_shipped"] = percentiles(shipped_latency)
    figures["producer"] = {
        k: {"sent": r.sent, "seconds": round(r.seconds, 2), "per_second": round(r.rate, 1)}
        for k, r in progress.results.items()
    }
    figures["duplicate_sends"] = plan.spike.count("duplicate")
    figures["backordered"] = sum(1 for status in got.shipments.values() if status == "backordered")
    return figures


def check_no_denials(denials: DenialLog) -> Check:
    denials.scan()
    named = [describe(d, process) for d, process in denials.seen.items()]
    detail = "; ".join(named[:3]) + (f"; and {len(named) - 3} more" if len(named) > 3 else "")
    return Check("no process was denied access (each under its own role)", not named, detail or "none denied")


def verify(stack: EmulatedStack, plan: Plan, progress: Progress, drained: bool) -> tuple[list[Check], dict[str, Any]]:
    """Every check, read from the stores themselves (not from anyone's counters), and the run's figures."""
    sent, got = Sent.of(plan), read_back(stack)
    checks = [
        check_no_denials(DenialLog(stack.log_dir)),
        check_producer(progress),
        check_drained(drained),
        check_stored_once(sent, got),
        check_invoices_once(sent, got),
        check_group_order(sent, got),
        check_shipments(sent, got),
        check_inventory(sent, got, stack.stock),
        check_sales_facts(sent, got),
        check_fifo_dlq(sent, got),
        check_fanout_dlqs(sent, got),
        check_nothing_lost(sent, got),
    ]
    return checks, measured_figures(plan, progress, got)
