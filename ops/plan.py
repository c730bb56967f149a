"""`python -m ops plan`: a capacity and cost plan for a stack's config and a peak profile.

Inputs, and nothing else: the stack's config through the program's own loader (ops/stack.py), one worker
process benchmarked at a modelled round trip side by side with the no-logic ceiling (ops/measured.json,
written by bench/worker.py), AWS default quotas verified against AWS docs (ops/quotas.py) and the pinned,
dated price file (ops/prices.json). The arithmetic is pure functions of pydantic models; rendering is separate.

Per-instance throughput: the measured orders/s only where ours ran below 90% of the no-logic ceiling (the
worker set the pace); where it was within 10% the emulator did, and the plan derives the figure from what
the worker costs instead: CPU per order against one core per process (the GIL; vCPUs of the stack's
instance types), and its concurrency (group threads, messages in flight, receivers, the deleter) against
the round trips an order needs at the modelled RTT. It prints the figure with its derivation.

What it does not know: Spot price movement (Spot is a range unless --spot-fraction is given), the real
per-instance throughput on the chosen instance types (a derivation from CPU measured over plain HTTP on a
shared 2-core machine, with a client-side modelled RTT), real consumer batch durations (an assumed
--consumer-batch-seconds), data-transfer and per-GB charges, and free tiers (none applied).

Modules, one job each: ops/plan_model.py (the profile and the stack view), ops/plan_limits.py (the fleet and
one small rule per limit), ops/plan_costs.py (one small function per cost item), ops/plan_make.py (the whole
plan), ops/plan_render.py (tables, Markdown, rich). This module is the command, and re-exports the API.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from ops.inputs import InputError, load_measured, load_prices
from ops.plan_costs import CostLine, CostSummary, cost_lines, fleet_hours, on_demand_range, spot_range, summarize
from ops.plan_limits import (
    Bound,
    Fleet,
    Limit,
    Throughput,
    binding,
    connection_warnings,
    derivation,
    fleet_plan,
    limits,
    per_instance_throughput,
    vcpus_of,
)
from ops.plan_make import NOT_KNOWN, Plan, make_plan
from ops.plan_model import DAYS_PER_MONTH, HOURS_PER_MONTH, LONG_POLL_SECONDS, Profile, Range, StackView, view_of
from ops.plan_render import header, render_markdown, render_rich, rows
from ops.stack import StackError

__all__ = [
    "DAYS_PER_MONTH",
    "HOURS_PER_MONTH",
    "LONG_POLL_SECONDS",
    "NOT_KNOWN",
    "Bound",
    "CostLine",
    "CostSummary",
    "Fleet",
    "Limit",
    "Plan",
    "PlanError",
    "Profile",
    "Range",
    "StackView",
    "Throughput",
    "binding",
    "build",
    "connection_warnings",
    "cost_lines",
    "derivation",
    "fleet_hours",
    "fleet_plan",
    "header",
    "limits",
    "main",
    "make_plan",
    "on_demand_range",
    "parser",
    "per_instance_throughput",
    "render_markdown",
    "render_rich",
    "rows",
    "spot_range",
    "summarize",
    "vcpus_of",
    "view_of",
]


# --- the command -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ops plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="stack name: reads Pulumi.yaml defaults + Pulumi.<stack>.yaml")
    p.add_argument("--peak-orders-per-second", type=float, required=True)
    p.add_argument("--hours", type=float, required=True, help="hours at the peak rate")
    p.add_argument("--orders", type=int, help="orders of the whole peak day (default: peak x hours)")
    p.add_argument("--rtt-ms", type=float, default=20.0, help="modelled round trip (one measured in ops/measured.json)")
    p.add_argument("--groups", type=int, default=10_000, help="message groups (customers) active at the peak")
    p.add_argument("--api-share", type=float, default=1.0, help="share of orders through the intake API (0..1)")
    p.add_argument("--consumer-batch-seconds", type=float, default=1.0, help="assumed consumer batch duration")
    p.add_argument("--quiet-orders-per-day", type=int, default=10_000)
    p.add_argument("--backlog", type=int, help="a backlog to drain after the peak (messages)")
    p.add_argument(
        "--spot-fraction", type=float, help="your Spot/On-Demand price ratio (default: the 10%%..100%% range)"
    )
    p.add_argument("--waf-rules", type=int, default=0, help="price a WAF web ACL with this many rules")
    p.add_argument(
        "--table-warm", action="store_true", help="the order table has served such a peak (or is pre-warmed)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document")
    out.add_argument("--markdown", action="store_true", help="Markdown (for a PR comment)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stack setting, e.g. --set fleetMaxSize=40 (what-if)",
    )
    return p


def build(argv: list[str]) -> Plan:
    """Parse, load and plan; raises PlanError with one clear line on any bad input."""
    from ops.stack import interface_endpoints, load_stack

    args = parser().parse_args(argv)
    try:
        profile = Profile(
            stack=args.stack,
            peak_orders_per_second=args.peak_orders_per_second,
            hours=args.hours,
            orders=args.orders,
            rtt_ms=args.rtt_ms,
            groups=args.groups,
            api_share=args.api_share,
            consumer_batch_seconds=args.consumer_batch_seconds,
            quiet_orders_per_day=args.quiet_orders_per_day,
            backlog=args.backlog,
            spot_fraction=args.spot_fraction,
            waf_rules=args.waf_rules,
            table_warm=args.table_warm,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "profile"
        raise PlanError(f"{where}: {err['msg']}") from None
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PlanError(f"--set {item!r}: expected KEY=VALUE, e.g. fleetMaxSize=40")
        overrides[key if ":" in key else f"orders:{key}"] = value
    try:
        cfg = load_stack(args.stack, overrides=overrides)
        view = view_of(cfg, interface_endpoints(cfg))
        return make_plan(view, profile, load_measured(), load_prices())
    except (StackError, InputError) as exc:
        raise PlanError(str(exc)) from None


class PlanError(ValueError):
    pass


def main(argv: list[str]) -> int:
    try:
        plan = build(argv)
    except PlanError as exc:
        print(f"python -m ops plan: {exc}", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    if args.json:
        print(json.dumps(plan.model_dump(mode="json"), indent=2))
    elif args.markdown:
        print(render_markdown(plan), end="")
        print("\n**per-instance throughput**\n\n```\n" + "\n".join(derivation(plan.throughput)) + "\n```")
    else:
        render_rich(plan)
        print("\n".join(derivation(plan.throughput)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
