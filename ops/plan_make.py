"""The whole plan: capacity, limits and both cost summaries for one stack view and peak profile."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ops.inputs import Measured, MeasuredPoint, PriceFile
from ops.plan_costs import CostLine, CostSummary, cost_lines, fleet_hours, summarize
from ops.plan_limits import (
    Fleet,
    Limit,
    Throughput,
    binding,
    connection_warnings,
    fleet_plan,
    limits,
    per_instance_throughput,
)
from ops.plan_model import DAYS_PER_MONTH, HOURS_PER_MONTH, Profile, StackView


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile: Profile
    stack: StackView
    measured: dict[str, Any]
    prices_retrieved: str
    throughput: Throughput
    """The per-instance figure used, measured or derived, with the derivation."""
    fleet: Fleet
    limits: list[Limit]
    binding: Limit
    warnings: list[str]
    peak_day: CostSummary
    quiet_month: CostSummary
    not_known: list[str]


NOT_KNOWN = [
    "Spot price movement: Spot is a range unless --spot-fraction gives your own Spot/On-Demand ratio",
    "real per-instance throughput on the configured types: derived from one worker process's CPU per order and "
    "concurrency, measured on a shared 2-core machine against the MiniStack emulator over plain HTTP (no TLS), "
    "round trip modelled client-side and the same for every service (S3 PUTs are slower than that on AWS)",
    "consumer batch duration on AWS (--consumer-batch-seconds is an assumption)",
    "data transfer, per-GB endpoint/NAT processing, CloudWatch, KMS, EBS and free tiers (none applied)",
    "SQS FIFO high-throughput limits (regional; not verified here)",
]


RECEIVERS_PER_WORKER = 4
"""worker/fifo/settings.py default receivers per worker (each idle one long-polls)."""


def peak_day_costs(
    view: StackView, profile: Profile, point: MeasuredPoint, prices: PriceFile, fleet: Fleet
) -> list[CostLine]:
    """The peak day: its orders over 24 h, the peak's fleet for the peak (and the drain), fleetMinSize otherwise."""
    return cost_lines(
        view,
        profile,
        point,
        prices,
        profile.day_orders,
        24,
        fleet_hours(view, profile, fleet),
        idle_receiver_hours=view.fleet_min * RECEIVERS_PER_WORKER * (24 - profile.hours),
    )


def quiet_month_costs(view: StackView, profile: Profile, point: MeasuredPoint, prices: PriceFile) -> list[CostLine]:
    """A quiet month: the quiet daily orders over a month on fleetMinSize instances."""
    return cost_lines(
        view,
        profile,
        point,
        prices,
        profile.quiet_orders_per_day * DAYS_PER_MONTH,
        HOURS_PER_MONTH,
        view.fleet_min * HOURS_PER_MONTH,
        idle_receiver_hours=view.fleet_min * RECEIVERS_PER_WORKER * HOURS_PER_MONTH,
    )


def measured_summary(measured: Measured, point: MeasuredPoint) -> dict[str, Any]:
    """The measurement the plan read, and where it came from."""
    return {
        "date": str(measured.date),
        "machine": measured.machine,
        "command": measured.command,
        "rtt_ms": point.rtt_ms,
        "orders_per_second": point.orders_per_second,
        "ceiling_orders_per_second": point.ceiling_orders_per_second,
        "ours_to_ceiling": point.ours_to_ceiling,
        "cpu_seconds_per_1000_orders": point.cpu_seconds_per_1000_orders,
        "round_trips_per_order": point.round_trips_per_order,
        "concurrency": measured.concurrency.model_dump(),
        "caveats": measured.caveats,
    }


def throughput_warnings(t: Throughput) -> list[str]:
    if t.source == "derived" and t.ours_to_ceiling is not None:
        return [
            f"per-instance throughput: {t.why}; the plan uses {t.derived:,.1f} orders/s derived from the worker's "
            f"CPU per order and concurrency (the {t.binds} bound)"
        ]
    return []


def make_plan(view: StackView, profile: Profile, measured: Measured, prices: PriceFile) -> Plan:
    point = measured.at(profile.rtt_ms)
    throughput = per_instance_throughput(view, profile, measured, point)
    fleet = fleet_plan(view, profile, throughput.per_instance)
    found = limits(view, profile, point, throughput.per_instance)
    return Plan(
        profile=profile,
        stack=view,
        measured=measured_summary(measured, point),
        prices_retrieved=str(prices.retrieved),
        throughput=throughput,
        fleet=fleet,
        limits=found,
        binding=binding(found),
        warnings=throughput_warnings(throughput) + fleet.warnings + connection_warnings(view, profile),
        peak_day=summarize(peak_day_costs(view, profile, point, prices, fleet)),
        quiet_month=summarize(quiet_month_costs(view, profile, point, prices)),
        not_known=NOT_KNOWN,
    )
