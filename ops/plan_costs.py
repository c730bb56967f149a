"""The cost side of the plan: one priced line per cost item, for a peak day or a quiet month."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ops import quotas
from ops.inputs import MeasuredPoint, PriceFile, RegionPrices
from ops.plan_limits import Fleet
from ops.plan_model import HOURS_PER_MONTH, LONG_POLL_SECONDS, Profile, Range, StackView


class CostLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    item: str
    quantity: str
    usd: Range | None
    """None: a price this plan needs is not in the price file."""
    basis: str


def _times(bounds: Range | None, quantity: float) -> Range | None:
    return None if bounds is None else (bounds[0] * quantity, bounds[1] * quantity)


def _price(region: RegionPrices, field: str) -> Range | None:
    p = getattr(region, field)
    return None if p is None else p.bounds


def on_demand_range(view: StackView, region: RegionPrices) -> tuple[Range | None, list[str]]:
    """(cheapest, dearest) sourced On-Demand hourly price among the configured types, and the unsourced types."""
    sourced, missing = [], []
    for t in view.instance_types:
        p = region.ec2_on_demand_hourly.get(t)
        b = p.bounds if p is not None else None
        (sourced.append(b[0]) if b else missing.append(t))
    return ((min(sourced), max(sourced)) if sourced else None), missing


def spot_range(od: Range | None, prices: PriceFile, fraction: float | None) -> Range | None:
    if od is None:
        return None
    if fraction is not None:
        return (od[0] * fraction, od[1] * fraction)
    return (od[0] * prices.spot.low_fraction_of_on_demand, od[1] * prices.spot.high_fraction_of_on_demand)


def fleet_hours(view: StackView, profile: Profile, fleet: Fleet) -> float:
    """Instance-hours of the peak day: the peak's fleet for the peak (and the drain), fleetMinSize otherwise."""
    running = min(fleet.workers_needed, view.fleet_max)
    drain_h = min(24 - profile.hours, fleet.backlog_at_end_of_peak / (view.fleet_max * fleet.per_instance) / 3600)
    rest = max(0.0, 24 - profile.hours - drain_h)
    return running * profile.hours + view.fleet_max * drain_h + view.fleet_min * rest


def cost_lines(
    view: StackView,
    profile: Profile,
    point: MeasuredPoint,
    prices: PriceFile,
    orders: float,
    hours: float,
    instance_hours: float,
    idle_receiver_hours: float,
) -> list[CostLine]:
    """Cost of `orders` over `hours` of wall time with `instance_hours` of workers (a peak day or a quiet month)."""
    region = prices.regions.get(view.region, RegionPrices(not_sourced=f"{view.region} is not in the price file"))
    calls = point.calls_per_order
    months = hours / HOURS_PER_MONTH
    lines: list[CostLine] = []

    def line(item: str, quantity: str, usd: Range | None, basis: str) -> None:
        lines.append(CostLine(item=item, quantity=quantity, usd=usd, basis=basis))

    od, missing = on_demand_range(view, region)
    gap = f"; no price for {', '.join(missing)}" if missing else ""
    line(
        "EC2 fleet, On-Demand",
        f"{instance_hours:,.1f} instance-h",
        _times(od, instance_hours),
        f"cheapest..dearest sourced configured type{gap}",
    )
    spot_basis = (
        f"Spot = {profile.spot_fraction:g} x On-Demand (--spot-fraction)"
        if profile.spot_fraction
        else "Spot 10%..100% of On-Demand (AWS: up to 90% off, never above On-Demand)"
    )
    line(
        "EC2 fleet, Spot",
        f"{instance_hours:,.1f} instance-h",
        _times(spot_range(od, prices, profile.spot_fraction), instance_hours),
        spot_basis,
    )

    fifo = _price(region, "sqs_fifo_per_million_requests")
    sends = orders * (profile.api_share + (1 - profile.api_share) / quotas.SQS_FIFO_BATCH)
    idle_polls = idle_receiver_hours * 3600 / LONG_POLL_SECONDS
    ours = sends + orders * (calls.receives + calls.deletes) + idle_polls
    naive = sends + orders * 2 + idle_polls
    line(
        "SQS FIFO requests, batched (ours)",
        f"{ours / 1e6:,.3f} M",
        _times(fifo, ours / 1e6),
        f"{calls.receives:.3f} receives + {calls.deletes:.3f} deletes per order (measured), API sends unbatched, "
        f"{idle_polls:,.0f} idle long polls",
    )
    line(
        "SQS FIFO requests, unbatched",
        f"{naive / 1e6:,.3f} M",
        _times(fifo, naive / 1e6),
        "1 receive + 1 delete per order (the naive worker)",
    )
    std = _price(region, "sqs_standard_per_million_requests")
    n_q = view.fanout_queues
    fan_b = orders * n_q * (1 + 2 / view.consumer_batch_size)
    fan_u = orders * n_q * 3
    line(
        "SQS fan-out requests, batched",
        f"{fan_b / 1e6:,.3f} M",
        _times(std, fan_b / 1e6),
        f"{n_q} queues: 1 delivery + receive/delete per batch of {view.consumer_batch_size} (deliveries counted as "
        "SQS requests: conservative)",
    )
    line(
        "SQS fan-out requests, unbatched",
        f"{fan_u / 1e6:,.3f} M",
        _times(std, fan_u / 1e6),
        "1 delivery + 1 receive + 1 delete per event",
    )
    line(
        "DynamoDB writes",
        f"{orders * calls.PutItem / 1e6:,.3f} M WRU",
        _times(_price(region, "dynamodb_on_demand_per_million_wru"), orders * calls.PutItem / 1e6),
        f"{calls.PutItem:.2f} WRU per order (measured), on-demand",
    )
    line(
        "S3 PUT (invoices)",
        f"{orders * calls.PutObject:,.0f}",
        _times(_price(region, "s3_put_per_thousand"), orders * calls.PutObject / 1000),
        "1 invoice per order",
    )
    line(
        "SNS publishes",
        f"{orders / 1e6:,.3f} M",
        _times(_price(region, "sns_publish_per_million"), orders / 1e6),
        "one S3 event notification per invoice",
    )
    line(
        "SNS deliveries to SQS",
        f"{orders * n_q / 1e6:,.3f} M",
        _times(_price(region, "sns_sqs_delivery_per_million"), orders * n_q / 1e6),
        f"{n_q} subscriptions",
    )
    lam = view.lambda_consumers
    invocations = orders / view.consumer_batch_size * len(lam)
    gb_s = invocations * profile.consumer_batch_seconds * view.consumer_memory_mb / 1024
    req, gbs = _price(region, "lambda_per_million_requests"), _price(region, "lambda_gb_second_x86")
    lam_cost = (
        None
        if req is None or gbs is None
        else (req[0] * invocations / 1e6 + gbs[0] * gb_s, req[1] * invocations / 1e6 + gbs[1] * gb_s)
    )
    line(
        "Lambda consumers",
        f"{invocations:,.0f} invocations, {gb_s:,.0f} GB-s",
        lam_cost,
        f"{len(lam)} consumers, {view.consumer_memory_mb} MB, {profile.consumer_batch_seconds:g} s/batch assumed",
    )
    api_requests = orders * profile.api_share
    line(
        "API Gateway REST requests",
        f"{api_requests / 1e6:,.3f} M",
        _times(_price(region, "apigateway_rest_per_million"), api_requests / 1e6),
        "first tier ($/M up to 333 M)",
    )
    if profile.waf_rules:
        wreq, acl, rule = (
            _price(region, f) for f in ("waf_per_million_requests", "waf_web_acl_per_month", "waf_rule_per_month")
        )
        waf = (
            None
            if wreq is None or acl is None or rule is None
            else tuple(wreq[i] * api_requests / 1e6 + (acl[i] + rule[i] * profile.waf_rules) * months for i in (0, 1))
        )
        line(
            "WAF",
            f"{api_requests / 1e6:,.3f} M requests, {profile.waf_rules} rules",
            waf,  # type: ignore[arg-type]
            "web ACL + rules pro-rated + requests",
        )
    else:
        line("WAF", "none attached", (0.0, 0.0), "the stack creates no web ACL (--waf-rules N to price one)")
    rds = region.rds_postgres_hourly.get(view.db_instance_class)
    rds_h = rds.bounds if rds is not None else None
    factor = 2 if view.db_multi_az else 1
    storage = _price(region, "rds_gp3_gb_month")
    rds_cost = (
        None
        if rds_h is None or storage is None
        else tuple(rds_h[i] * hours * factor + storage[i] * view.db_storage_gb * months * factor for i in (0, 1))
    )
    line(
        "RDS PostgreSQL",
        f"{view.db_instance_class} x {factor}, {view.db_storage_gb} GB gp3",
        rds_cost,  # type: ignore[arg-type]
        "instance-hours + storage" + (" (Multi-AZ: x2)" if view.db_multi_az else ""),
    )
    line(
        "Redshift Serverless base",
        f"{view.warehouse_rpu} RPU x {hours:,.0f} h",
        _times(_price(region, "redshift_serverless_rpu_hour"), view.warehouse_rpu * hours),
        "assumes the warehouse is active the whole time (analytics writes with every batch)",
    )
    if view.enable_nat:
        line(
            "NAT gateway",
            f"{hours:,.0f} h",
            _times(_price(region, "nat_gateway_hourly"), hours),
            "hourly only; per-GB not modelled",
        )
    else:
        line("NAT gateway", "none (orders:enableNat false)", (0.0, 0.0), "")
    ep_hours = view.interface_endpoints * view.az_count * hours
    line(
        "Interface endpoints",
        f"{view.interface_endpoints} x {view.az_count} AZ x {hours:,.0f} h",
        _times(_price(region, "interface_endpoint_hourly_per_az"), ep_hours),
        "hourly only; per-GB not modelled",
    )
    return lines


class CostSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    lines: list[CostLine]
    total_spot: Range
    total_on_demand: Range
    unpriced: list[str]


FLEET_ITEMS = {"EC2 fleet, On-Demand", "EC2 fleet, Spot"}
ALTERNATIVES = {"SQS FIFO requests, unbatched", "SQS fan-out requests, unbatched"}
"""Shown for comparison; the totals use the batched lines (what the system does)."""


def summarize(lines: list[CostLine]) -> CostSummary:
    base = [c for c in lines if c.item not in FLEET_ITEMS | ALTERNATIVES]
    low = sum(c.usd[0] for c in base if c.usd)
    high = sum(c.usd[1] for c in base if c.usd)
    by = {c.item: c.usd for c in lines}
    spot, od = by.get("EC2 fleet, Spot"), by.get("EC2 fleet, On-Demand")
    return CostSummary(
        lines=lines,
        total_spot=(low + (spot[0] if spot else 0), high + (spot[1] if spot else 0)),
        total_on_demand=(low + (od[0] if od else 0), high + (od[1] if od else 0)),
        unpriced=[c.item for c in lines if c.usd is None],
    )
