"""Rendering a plan: plain tables, then Markdown (for a PR comment) or a rich terminal table."""

from __future__ import annotations

from ops.plan_make import Plan
from ops.plan_model import Range


def _usd(r: Range | None) -> str:
    if r is None:
        return "not sourced"
    if abs(r[1] - r[0]) < 0.005:
        return f"${r[0]:,.2f}"
    return f"${r[0]:,.2f} .. ${r[1]:,.2f}"


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _duration(s: float | None) -> str:
    if s is None:
        return "never (the quiet rate exceeds the fleet)"
    return f"{s / 60:,.1f} min" if s < 3600 else f"{s / 3600:,.1f} h"


def rows(plan: Plan) -> dict[str, list[list[str]]]:
    """The plan as plain tables (header row first): what both the rich and the Markdown renderers print."""
    f, p = plan.fleet, plan.profile
    capacity = [
        ["item", "value"],
        [
            "per-instance throughput",
            f"{f.per_instance:g} orders/s at {p.rtt_ms:g} ms RTT ({plan.throughput.source}, from the run of "
            f"{plan.measured['date']})",
        ],
        ["workers needed", f"{f.workers_needed} (peak {p.peak_orders_per_second:,g} orders/s)"],
        ["orders:fleetMaxSize covers the peak", f"{'yes' if f.covers else 'NO'} ({f.fleet_max} instances)"],
        [
            "standing backlog at the scaling target",
            f"{f.standing_backlog:,} messages (~{f.queue_delay_seconds:,.0f} s wait)",
        ],
        ["backlog when the peak ends", f"{f.backlog_at_end_of_peak:,.0f} messages"],
        [f"drain {f.drain_backlog:,.0f} messages at fleetMaxSize", _duration(f.drain_seconds)],
    ]
    lim = [["limit", "allows orders/s", "the peak needs", "limit", "ok", "lift"]]
    for x in sorted(plan.limits, key=lambda x: (x.capacity is None, x.capacity or 0)):
        mark = "BINDS FIRST" if x == plan.binding else ("-" if x.ok is None else ("yes" if x.ok else "NO"))
        lim.append([x.name, _rate(x.capacity), x.need, x.limit, mark, x.lift])
    cost = [["item", "peak day", "quiet month", "quantity (peak day)", "basis"]]
    quiet = {c.item: c for c in plan.quiet_month.lines}
    for c in plan.peak_day.lines:
        cost.append([c.item, _usd(c.usd), _usd(quiet[c.item].usd), c.quantity, c.basis])
    cost.append(["TOTAL, fleet on Spot", _usd(plan.peak_day.total_spot), _usd(plan.quiet_month.total_spot), "", ""])
    cost.append(
        ["TOTAL, fleet On-Demand", _usd(plan.peak_day.total_on_demand), _usd(plan.quiet_month.total_on_demand), "", ""]
    )
    return {"capacity": capacity, "limits": lim, "cost": cost}


def header(plan: Plan) -> list[str]:
    p, m = plan.profile, plan.measured
    return [
        f"Plan for stack {plan.stack.stack} ({plan.stack.region}): peak {p.peak_orders_per_second:,g} orders/s for "
        f"{p.hours:g} h, {p.day_orders:,.0f} orders that day; quiet month {p.quiet_orders_per_day:,}/day",
        f"Prices: ops/prices.json retrieved {plan.prices_retrieved} (list prices, USD, no free tier)",
        f"Throughput: ops/measured.json, {m['date']}, `{m['command']}` on {m['machine']}",
        f"Assumed: {p.groups:,} active message groups, {p.api_share:.0%} of orders via the API, "
        f"{p.consumer_batch_seconds:g} s per consumer batch",
        f"Binds first: {plan.binding.name} at {plan.binding.capacity:,.0f} orders/s -> lift: {plan.binding.lift}",
    ]


def render_markdown(plan: Plan) -> str:
    out = [f"### Capacity and cost plan: `{plan.stack.stack}`", ""]
    out += [f"- {line}" for line in header(plan)]
    for title, table in rows(plan).items():
        out += ["", f"**{title}**", "", "| " + " | ".join(table[0]) + " |", "|" + " --- |" * len(table[0])]
        out += ["| " + " | ".join(cell.replace("|", "/") for cell in r) + " |" for r in table[1:]]
    if plan.warnings:
        out += ["", "**warnings**", ""] + [f"- {w}" for w in plan.warnings]
    out += ["", "**what this plan does not know**", ""] + [f"- {n}" for n in plan.not_known]
    if plan.peak_day.unpriced:
        out += ["", f"Not priced (missing from ops/prices.json): {', '.join(plan.peak_day.unpriced)}"]
    return "\n".join(out) + "\n"


def render_rich(plan: Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    for line in header(plan):
        console.print(line, highlight=False)
    for title, table in rows(plan).items():
        t = Table(title=title, show_lines=False)
        for col in table[0]:
            t.add_column(col, overflow="fold")
        for r in table[1:]:
            t.add_row(*r, style="bold" if r[-2:-1] == ["BINDS FIRST"] or r[0].startswith("TOTAL") else None)
        console.print(t)
    for w in plan.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    console.print("Not known: " + "; ".join(plan.not_known), highlight=False)
    if plan.peak_day.unpriced:
        console.print(f"Not priced (missing from ops/prices.json): {', '.join(plan.peak_day.unpriced)}")
