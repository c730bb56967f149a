"""The whole plan: capacity, limits and both cost summaries for one stack view and peak profile."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ops.inputs import Measured, PriceFile
from ops.plan_costs import CostSummary, cost_lines, fleet_hours, summarize
from ops.plan_limits import Fleet, Limit, binding, connection_warnings, fleet_plan, limits
from ops.plan_model import DAYS_PER_MONTH, HOURS_PER_MONTH, Profile, StackView


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile: Profile
    stack: StackView
    measured: dict[str, Any]
    prices_retrieved: str
    fleet: Fleet
    limits: list[Limit]
    binding: Limit
    warnings: list[str]
    peak_day: CostSummary
    quiet_month: CostSummary
    not_known: list[str]


NOT_KNOWN = [
    "Spot price movement: Spot is a range unless --spot-fraction gives your own Spot/On-Demand ratio",
    "real per-instance throughput on the configured types: the figure is one worker process on a shared 2-core "
    "machine against the moto emulator, round trip modelled client-side",
    "consumer batch duration on AWS (--consumer-batch-seconds is an assumption)",
    "data transfer, per-GB endpoint/NAT processing, CloudWatch, KMS, EBS and free tiers (none applied)",
    "SQS FIFO high-throughput limits (regional; not verified here)",
]


def make_plan(view: StackView, profile: Profile, measured: Measured, prices: PriceFile) -> Plan:
    point = measured.at(profile.rtt_ms)
    fleet = fleet_plan(view, profile, point)
    found = limits(view, profile, point)
    quiet_orders = profile.quiet_orders_per_day * DAYS_PER_MONTH
    receivers = 4  # worker/fifo/settings.py default receivers per worker
    peak_h = fleet_hours(view, profile, fleet)
    peak_day = cost_lines(
        view,
        profile,
        point,
        prices,
        profile.day_orders,
        24,
        peak_h,
        idle_receiver_hours=view.fleet_min * receivers * (24 - profile.hours),
    )
    quiet = cost_lines(
        view,
        profile,
        point,
        prices,
        quiet_orders,
        HOURS_PER_MONTH,
        view.fleet_min * HOURS_PER_MONTH,
        idle_receiver_hours=view.fleet_min * receivers * HOURS_PER_MONTH,
    )
    return Plan(
        profile=profile,
        stack=view,
        measured={
            "date": str(measured.date),
            "machine": measured.machine,
            "command": measured.command,
            "rtt_ms": point.rtt_ms,
            "orders_per_second": point.orders_per_second,
            "caveats": measured.caveats,
        },
        prices_retrieved=str(prices.retrieved),
        fleet=fleet,
        limits=found,
        binding=binding(found),
        warnings=fleet.warnings + connection_warnings(view, profile),
        peak_day=summarize(peak_day),
        quiet_month=summarize(quiet),
        not_known=NOT_KNOWN,
    )
