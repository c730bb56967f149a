"""The cost side of the plan: one priced line per cost item, for a peak day or a quiet month."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ops import quotas
from ops.inputs import CallsPerOrder, MeasuredPoint, PriceFile, RegionPrices
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


@dataclass(frozen=True)
class Period:
    """What every cost item reads: `orders` over `hours` of wall time with `instance_hours` of workers."""

    view: StackView
    profile: Profile
    point: MeasuredPoint
    prices: PriceFile
    orders: float
    hours: float
    instance_hours: float
    idle_receiver_hours: float

    @property
    def region(self) -> RegionPrices:
        name = self.view.region
        return self.prices.regions.get(name, RegionPrices(not_sourced=f"{name} is not in the price file"))

    @property
    def calls(self) -> CallsPerOrder:
        return self.point.calls_per_order

    @property
    def months(self) -> float:
        return self.hours / HOURS_PER_MONTH

    @property
    def api_requests(self) -> float:
        return self.orders * self.profile.api_share

    def price(self, field: str) -> Range | None:
        return _price(self.region, field)


def _ec2_fleet(c: Period) -> list[CostLine]:
    od, missing = on_demand_range(c.view, c.region)
    gap = f"; no price for {', '.join(missing)}" if missing else ""
    spot_basis = (
        f"Spot = {c.profile.spot_fraction:g} x On-Demand (--spot-fraction)"
        if c.profile.spot_fraction
        else "Spot 10%..100% of On-Demand (AWS: up to 90% off, never above On-Demand)"
    )
    quantity = f"{c.instance_hours:,.1f} instance-h"
    spot = spot_range(od, c.prices, c.profile.spot_fraction)
    return [
        CostLine(
            item="EC2 fleet, On-Demand",
            quantity=quantity,
            usd=_times(od, c.instance_hours),
            basis=f"cheapest..dearest sourced configured type{gap}",
        ),
        CostLine(item="EC2 fleet, Spot", quantity=quantity, usd=_times(spot, c.instance_hours), basis=spot_basis),
    ]


def _sqs_fifo(c: Period) -> list[CostLine]:
    """The order queue, as the worker batches it and as a naive worker would (for comparison)."""
    fifo, calls = c.price("sqs_fifo_per_million_requests"), c.calls
    sends = c.orders * (c.profile.api_share + (1 - c.profile.api_share) / quotas.SQS_FIFO_BATCH)
    idle_polls = c.idle_receiver_hours * 3600 / LONG_POLL_SECONDS
    ours = sends + c.orders * (calls.receives + calls.deletes) + idle_polls
    naive = sends + c.orders * 2 + idle_polls
    return [
        CostLine(
            item="SQS FIFO requests, batched (ours)",
            quantity=f"{ours / 1e6:,.3f} M",
            usd=_times(fifo, ours / 1e6),
            basis=f"{calls.receives:.3f} receives + {calls.deletes:.3f} deletes per order (measured), "
            f"API sends unbatched, {idle_polls:,.0f} idle long polls",
        ),
        CostLine(
            item="SQS FIFO requests, unbatched",
            quantity=f"{naive / 1e6:,.3f} M",
            usd=_times(fifo, naive / 1e6),
            basis="1 receive + 1 delete per order (the naive worker)",
        ),
    ]


def _sqs_fanout(c: Period) -> list[CostLine]:
    """The fan-out queues, batched by the consumers' event source mapping and unbatched (for comparison)."""
    std, n_q, size = c.price("sqs_standard_per_million_requests"), c.view.fanout_queues, c.view.consumer_batch_size
    fan_b = c.orders * n_q * (1 + 2 / size)
    fan_u = c.orders * n_q * 3
    return [
        CostLine(
            item="SQS fan-out requests, batched",
            quantity=f"{fan_b / 1e6:,.3f} M",
            usd=_times(std, fan_b / 1e6),
            basis=f"{n_q} queues: 1 delivery + receive/delete per batch of {size} (deliveries counted as "
            "SQS requests: conservative)",
        ),
        CostLine(
            item="SQS fan-out requests, unbatched",
            quantity=f"{fan_u / 1e6:,.3f} M",
            usd=_times(std, fan_u / 1e6),
            basis="1 delivery + 1 receive + 1 delete per event",
        ),
    ]


def _dynamodb(c: Period) -> list[CostLine]:
    wru = c.calls.PutItem
    return [
        CostLine(
            item="DynamoDB writes",
            quantity=f"{c.orders * wru / 1e6:,.3f} M WRU",
            usd=_times(c.price("dynamodb_on_demand_per_million_wru"), c.orders * wru / 1e6),
            basis=f"{wru:.2f} WRU per order (measured), on-demand",
        )
    ]


def _s3_invoices(c: Period) -> list[CostLine]:
    puts = c.orders * c.calls.PutObject
    return [
        CostLine(
            item="S3 PUT (invoices)",
            quantity=f"{puts:,.0f}",
            usd=_times(c.price("s3_put_per_thousand"), puts / 1000),
            basis="1 invoice per order",
        )
    ]


def _sns(c: Period) -> list[CostLine]:
    n_q = c.view.fanout_queues
    return [
        CostLine(
            item="SNS publishes",
            quantity=f"{c.orders / 1e6:,.3f} M",
            usd=_times(c.price("sns_publish_per_million"), c.orders / 1e6),
            basis="one S3 event notification per invoice",
        ),
        CostLine(
            item="SNS deliveries to SQS",
            quantity=f"{c.orders * n_q / 1e6:,.3f} M",
            usd=_times(c.price("sns_sqs_delivery_per_million"), c.orders * n_q / 1e6),
            basis=f"{n_q} subscriptions",
        ),
    ]


def _lambda_consumers(c: Period) -> list[CostLine]:
    view, seconds, lam = c.view, c.profile.consumer_batch_seconds, c.view.lambda_consumers
    invocations = c.orders / view.consumer_batch_size * len(lam)
    gb_s = invocations * seconds * view.consumer_memory_mb / 1024
    req, gbs = c.price("lambda_per_million_requests"), c.price("lambda_gb_second_x86")
    usd = (
        None
        if req is None or gbs is None
        else (req[0] * invocations / 1e6 + gbs[0] * gb_s, req[1] * invocations / 1e6 + gbs[1] * gb_s)
    )
    return [
        CostLine(
            item="Lambda consumers",
            quantity=f"{invocations:,.0f} invocations, {gb_s:,.0f} GB-s",
            usd=usd,
            basis=f"{len(lam)} consumers, {view.consumer_memory_mb} MB, {seconds:g} s/batch assumed",
        )
    ]


def _api_gateway(c: Period) -> list[CostLine]:
    return [
        CostLine(
            item="API Gateway REST requests",
            quantity=f"{c.api_requests / 1e6:,.3f} M",
            usd=_times(c.price("apigateway_rest_per_million"), c.api_requests / 1e6),
            basis="first tier ($/M up to 333 M)",
        )
    ]


def _waf(c: Period) -> list[CostLine]:
    rules = c.profile.waf_rules
    if not rules:
        basis = "the stack creates no web ACL (--waf-rules N to price one)"
        return [CostLine(item="WAF", quantity="none attached", usd=(0.0, 0.0), basis=basis)]
    wreq, acl, rule = (c.price(f) for f in ("waf_per_million_requests", "waf_web_acl_per_month", "waf_rule_per_month"))
    usd = (
        None
        if wreq is None or acl is None or rule is None
        else tuple(wreq[i] * c.api_requests / 1e6 + (acl[i] + rule[i] * rules) * c.months for i in (0, 1))
    )
    return [
        CostLine(
            item="WAF",
            quantity=f"{c.api_requests / 1e6:,.3f} M requests, {rules} rules",
            usd=usd,  # type: ignore[arg-type]
            basis="web ACL + rules pro-rated + requests",
        )
    ]


def _rds(c: Period) -> list[CostLine]:
    view = c.view
    rds = c.region.rds_postgres_hourly.get(view.db_instance_class)
    rds_h = rds.bounds if rds is not None else None
    factor = 2 if view.db_multi_az else 1
    storage = c.price("rds_gp3_gb_month")
    usd = (
        None
        if rds_h is None or storage is None
        else tuple(rds_h[i] * c.hours * factor + storage[i] * view.db_storage_gb * c.months * factor for i in (0, 1))
    )
    return [
        CostLine(
            item="RDS PostgreSQL",
            quantity=f"{view.db_instance_class} x {factor}, {view.db_storage_gb} GB gp3",
            usd=usd,  # type: ignore[arg-type]
            basis="instance-hours + storage" + (" (Multi-AZ: x2)" if view.db_multi_az else ""),
        )
    ]


def _redshift(c: Period) -> list[CostLine]:
    rpu = c.view.warehouse_rpu
    return [
        CostLine(
            item="Redshift Serverless base",
            quantity=f"{rpu} RPU x {c.hours:,.0f} h",
            usd=_times(c.price("redshift_serverless_rpu_hour"), rpu * c.hours),
            basis="assumes the warehouse is active the whole time (analytics writes with every batch)",
        )
    ]


def _nat(c: Period) -> list[CostLine]:
    if not c.view.enable_nat:
        return [CostLine(item="NAT gateway", quantity="none (orders:enableNat false)", usd=(0.0, 0.0), basis="")]
    return [
        CostLine(
            item="NAT gateway",
            quantity=f"{c.hours:,.0f} h",
            usd=_times(c.price("nat_gateway_hourly"), c.hours),
            basis="hourly only; per-GB not modelled",
        )
    ]


def _interface_endpoints(c: Period) -> list[CostLine]:
    n, azs = c.view.interface_endpoints, c.view.az_count
    return [
        CostLine(
            item="Interface endpoints",
            quantity=f"{n} x {azs} AZ x {c.hours:,.0f} h",
            usd=_times(c.price("interface_endpoint_hourly_per_az"), n * azs * c.hours),
            basis="hourly only; per-GB not modelled",
        )
    ]


COST_ITEMS: tuple[Callable[[Period], list[CostLine]], ...] = (
    _ec2_fleet,
    _sqs_fifo,
    _sqs_fanout,
    _dynamodb,
    _s3_invoices,
    _sns,
    _lambda_consumers,
    _api_gateway,
    _waf,
    _rds,
    _redshift,
    _nat,
    _interface_endpoints,
)
"""Every cost item, in the order the plan lists them."""


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
    period = Period(view, profile, point, prices, orders, hours, instance_hours, idle_receiver_hours)
    return [line for item in COST_ITEMS for line in item(period)]


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
