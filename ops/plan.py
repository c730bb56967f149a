"""`python -m ops plan`: a capacity and cost plan for a stack's config and a peak profile.

Inputs, and nothing else: the stack's config through the program's own loader (ops/stack.py), the measured
orders/s of one worker process at a modelled round trip (ops/measured.json, written by bench/worker.py),
AWS default quotas verified against AWS docs (ops/quotas.py) and the pinned, dated price file
(ops/prices.json). The arithmetic is pure functions of pydantic models; rendering is separate.

What it does not know: Spot price movement (Spot is a range unless --spot-fraction is given), the real
per-instance throughput on the chosen instance types (the figure is one process on a shared 2-core
machine against an emulator with a client-side modelled RTT), real consumer batch durations (an assumed
--consumer-batch-seconds), data-transfer and per-GB charges, and free tiers (none applied).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ops import quotas
from ops.inputs import InputError, Measured, MeasuredPoint, PriceFile, RegionPrices, load_measured, load_prices
from ops.stack import StackError

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
LONG_POLL_SECONDS = 20
"""The worker's long-poll wait (worker/fifo/settings.py default): an idle receiver makes one receive per 20 s."""

Range = tuple[float, float]
"""(low, high) USD; equal when the price is a point."""


# --- inputs ----------------------------------------------------------------------------------------


class Profile(BaseModel):
    """The peak the plan is for, plus the assumptions it cannot measure here (each printed with the plan)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stack: str = Field(min_length=1)
    peak_orders_per_second: float = Field(gt=0)
    hours: float = Field(gt=0, le=24, description="hours at the peak rate within the peak day")
    orders: int | None = Field(default=None, gt=0, description="orders of the whole peak day (default: peak x hours)")
    rtt_ms: float = Field(default=20, ge=0, description="modelled round trip; must be a measured one")
    groups: int = Field(default=10_000, ge=1, description="message groups (customers) active at the peak")
    api_share: float = Field(default=1.0, ge=0, le=1, description="share of orders entering via the intake API")
    consumer_batch_seconds: float = Field(default=1.0, gt=0, description="assumed duration of one consumer batch")
    quiet_orders_per_day: int = Field(default=10_000, ge=0)
    backlog: int | None = Field(default=None, ge=0, description="a backlog to drain after the peak (messages)")
    spot_fraction: float | None = Field(default=None, gt=0, le=1, description="Spot price / On-Demand, if known")
    waf_rules: int = Field(default=0, ge=0, description="rules of a WAF web ACL on the API (0: none attached)")
    table_warm: bool = Field(default=False, description="the table served such a peak before, or was pre-warmed")

    @model_validator(mode="after")
    def _orders_cover_the_peak(self) -> Profile:
        peak_orders = self.peak_orders_per_second * self.hours * 3600
        if self.orders is not None and self.orders < peak_orders:
            raise ValueError(
                f"--orders {self.orders:,} is fewer than the peak alone "
                f"({self.peak_orders_per_second:g}/s x {self.hours:g} h = {peak_orders:,.0f})"
            )
        return self

    @property
    def peak_orders(self) -> float:
        return self.peak_orders_per_second * self.hours * 3600

    @property
    def day_orders(self) -> float:
        return float(self.orders) if self.orders is not None else self.peak_orders


class StackView(BaseModel):
    """The settings of a stack the plan reads (taken from the program's StackConfig by `view_of`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stack: str
    region: str
    instance_types: tuple[str, ...]
    fleet_min: int = Field(ge=1)
    fleet_max: int = Field(ge=1)
    backlog_per_instance: int = Field(ge=1)
    fifo_high_throughput: bool
    api_rate: int = Field(ge=1)
    api_burst: int = Field(ge=1)
    alarm_queue_age_seconds: int
    alarm_queue_depth: int
    fanout_queues: int = Field(ge=1)
    consumer_runtimes: dict[str, str]
    consumer_batch_size: int = Field(ge=1)
    consumer_max_concurrency: int = Field(ge=2)
    consumer_memory_mb: int = Field(ge=128)
    db_instance_class: str
    db_multi_az: bool
    db_storage_gb: int
    db_connections_alarm: int
    warehouse_rpu: int
    az_count: int
    enable_nat: bool
    interface_endpoints: int = Field(ge=0)
    worker_max_in_flight: int = Field(default=80, ge=1, description="worker/fifo/settings.py: max(10 x 4 x 2, 16 x 2)")

    @property
    def lambda_consumers(self) -> list[str]:
        return [c for c, r in self.consumer_runtimes.items() if r == "lambda"]


def view_of(cfg: Any, interface_endpoints: int) -> StackView:
    """StackView from the program's StackConfig (attribute names as components/config.py has them)."""
    return StackView(
        stack=cfg.stack,
        region=cfg.primary_region,
        instance_types=tuple(cfg.fleet.instance_types),
        fleet_min=cfg.fleet.min_size,
        fleet_max=cfg.fleet.max_size,
        backlog_per_instance=cfg.fleet.backlog_per_instance,
        fifo_high_throughput=cfg.messaging.fifo_high_throughput,
        api_rate=cfg.front_door.throttle_rate_limit,
        api_burst=cfg.front_door.throttle_burst_limit,
        alarm_queue_age_seconds=cfg.monitoring.queue_age_seconds,
        alarm_queue_depth=cfg.monitoring.queue_depth,
        fanout_queues=len(cfg.messaging.fanout_queues),
        consumer_runtimes={c: r for c, r in cfg.consumers.runtimes.items() if c in cfg.messaging.fanout_queues},
        consumer_batch_size=cfg.consumers.batch_size,
        consumer_max_concurrency=cfg.consumers.max_concurrency,
        consumer_memory_mb=cfg.consumers.memory_mb,
        db_instance_class=cfg.databases.instance_class,
        db_multi_az=cfg.databases.multi_az,
        db_storage_gb=cfg.databases.allocated_storage_gb,
        db_connections_alarm=cfg.databases.connections_alarm,
        warehouse_rpu=cfg.databases.warehouse_base_capacity,
        az_count=cfg.network.az_count,
        enable_nat=cfg.network.enable_nat,
        interface_endpoints=interface_endpoints,
    )


# --- capacity --------------------------------------------------------------------------------------


class Limit(BaseModel):
    """One limit on the peak: the orders/s it allows (None: unverified or not applicable) and how to lift it."""

    model_config = ConfigDict(frozen=True)

    name: str
    capacity: float | None
    """Orders/s this limit allows; None when unverified or not a rate limit here."""
    need: str
    """What the peak asks of it, in its own unit."""
    limit: str
    ok: bool | None
    lift: str
    source: str


class Fleet(BaseModel):
    model_config = ConfigDict(frozen=True)

    per_instance: float
    workers_needed: int
    fleet_max: int
    covers: bool
    standing_backlog: int
    """Visible messages at the peak when the target-tracking policy holds backlog/instance at its target."""
    queue_delay_seconds: float
    backlog_at_end_of_peak: float
    """Messages left when the peak ends (0 when the fleet keeps up)."""
    drain_backlog: float
    drain_seconds: float | None
    """Time to drain `drain_backlog` at fleetMaxSize against the quiet rate; None if it never drains."""
    warnings: list[str]


def fleet_plan(view: StackView, profile: Profile, point: MeasuredPoint) -> Fleet:
    r = point.orders_per_second
    peak = profile.peak_orders_per_second
    needed = math.ceil(peak / r)
    max_rate = view.fleet_max * r
    running = min(needed, view.fleet_max)
    standing = running * view.backlog_per_instance
    delay = view.backlog_per_instance / r
    end_backlog = max(0.0, (peak - max_rate) * profile.hours * 3600)
    drain = float(profile.backlog) if profile.backlog is not None else end_backlog + standing
    quiet_rate = profile.quiet_orders_per_day / 86_400
    spare = max_rate - quiet_rate
    drain_seconds = drain / spare if spare > 0 else None
    warnings = []
    if delay > view.alarm_queue_age_seconds:
        warnings.append(
            f"at the scaling target an order waits ~{delay:,.0f} s, over orders:alarmQueueAgeSeconds "
            f"({view.alarm_queue_age_seconds}): the age alarm fires at every peak; lower orders:backlogPerInstance"
        )
    if standing > view.alarm_queue_depth:
        warnings.append(
            f"the standing backlog ({standing:,} = {running} instances x orders:backlogPerInstance "
            f"{view.backlog_per_instance}) is over orders:alarmQueueDepth ({view.alarm_queue_depth:,}): "
            "the depth alarm fires at the peak"
        )
    return Fleet(
        per_instance=r,
        workers_needed=needed,
        fleet_max=view.fleet_max,
        covers=needed <= view.fleet_max,
        standing_backlog=standing,
        queue_delay_seconds=delay,
        backlog_at_end_of_peak=end_backlog,
        drain_backlog=drain,
        drain_seconds=drain_seconds,
        warnings=warnings,
    )


def _ok(capacity: float | None, peak: float) -> bool | None:
    return None if capacity is None else capacity >= peak


def limits(view: StackView, profile: Profile, point: MeasuredPoint) -> list[Limit]:
    """Every limit on the peak, in orders/s where it is a rate limit."""
    peak = profile.peak_orders_per_second
    calls = point.calls_per_order
    out: list[Limit] = []

    def add(name: str, capacity: float | None, need: str, limit: str, lift: str, source: str) -> None:
        out.append(
            Limit(
                name=name, capacity=capacity, need=need, limit=limit, ok=_ok(capacity, peak), lift=lift, source=source
            )
        )

    r = point.orders_per_second
    add(
        "worker fleet (orders:fleetMaxSize)",
        view.fleet_max * r,
        f"{math.ceil(peak / r)} instances at {r:g} orders/s each",
        f"{view.fleet_max} instances",
        "orders:fleetMaxSize",
        "ops/measured.json",
    )

    # SQS FIFO order queue: the API sends one SendMessage per order, the bulk producer SendMessageBatch of 10.
    tps = quotas.SQS_FIFO_TPS_PER_ACTION
    sends_per_order = profile.api_share + (1 - profile.api_share) / quotas.SQS_FIFO_BATCH
    per_action = {
        "SendMessage(Batch)": sends_per_order,
        "ReceiveMessage": calls.receives,
        "DeleteMessage(Batch)": calls.deletes,
    }
    for action, per_order in per_action.items():
        need = f"{peak * per_order:,.0f} TPS ({per_order:.3f}/order)"
        if view.fifo_high_throughput:
            hq = quotas.SQS_FIFO_HIGH_THROUGHPUT
            add(
                f"SQS FIFO {action}, high-throughput mode",
                None,
                need,
                "regional limit, not verified here",
                hq.lift,
                hq.source,
            )
        else:
            assert tps.value is not None
            add(
                f"SQS FIFO {action}",
                tps.value / per_order if per_order else None,
                need,
                f"{tps.value:,.0f} TPS per API action",
                tps.lift,
                tps.source,
            )
    inflight = quotas.SQS_FIFO_IN_FLIGHT
    assert inflight.value is not None
    add(
        "SQS FIFO in-flight messages",
        inflight.value / view.worker_max_in_flight * r,
        f"{math.ceil(peak / r) * view.worker_max_in_flight:,} held ({view.worker_max_in_flight} per worker)",
        f"{inflight.value:,.0f} per queue",
        inflight.lift,
        inflight.source,
    )
    if profile.rtt_ms > 0:
        per_group = 1000 / (2 * profile.rtt_ms)  # PutItem, then PutObject, then the next order of the group
        add(
            "message groups (one order at a time per group)",
            per_group * profile.groups,
            f"{peak / profile.groups:.3f} orders/s per group over {profile.groups:,} groups",
            f"<= {per_group:g} orders/s per group (2 round trips per order)",
            "more groups: MessageGroupId is the CustomerID (hot customers queue behind themselves)",
            "worker/fifo/groups.py",
        )

    # API Gateway: the stage throttle (config) and the account's regional quota.
    if profile.api_share > 0:
        api_need = f"{peak * profile.api_share:,.0f} requests/s"
        add(
            "API stage throttle (orders:apiThrottleRateLimit)",
            view.api_rate / profile.api_share,
            api_need,
            f"{view.api_rate:,} rps, burst {view.api_burst:,}",
            "orders:apiThrottleRateLimit (and BurstLimit)",
            "Pulumi.yaml",
        )
        rate, burst = (
            quotas.APIGW_LOW_DEFAULT
            if view.region in quotas.APIGW_LOW_DEFAULT_REGIONS
            else (quotas.APIGW_ACCOUNT_RPS.value, quotas.APIGW_ACCOUNT_BURST.value)
        )
        assert rate is not None
        add(
            "API Gateway account quota",
            rate / profile.api_share,
            api_need,
            f"{rate:,.0f} rps, burst {burst:,.0f}",
            quotas.APIGW_ACCOUNT_RPS.lift,
            quotas.APIGW_ACCOUNT_RPS.source,
        )

    # DynamoDB on-demand: one WRU per order (items < 1 KB; measured write units per order).
    wru = calls.PutItem
    table_quotas = [(quotas.DYNAMODB_TABLE_WRU, "DynamoDB table (on-demand)")]
    if not profile.table_warm:
        table_quotas.append((quotas.DYNAMODB_NEW_TABLE_WRU, "DynamoDB new table's first peak"))
    for q, name in table_quotas:
        assert q.value is not None
        add(name, q.value / wru if wru else None, f"{peak * wru:,.0f} WRU/s", f"{q.value:,.0f} WRU/s", q.lift, q.source)
    add(
        "DynamoDB partition",
        None,
        "each OrderID written once: no hot key",
        f"{quotas.DYNAMODB_PARTITION_WRU.value:,.0f} WRU/s per partition",
        quotas.DYNAMODB_PARTITION_WRU.lift,
        quotas.DYNAMODB_PARTITION_WRU.source,
    )

    # Lambda consumers: every fan-out queue sees every order.
    batch, seconds = view.consumer_batch_size, profile.consumer_batch_seconds
    need_conc = peak / batch * seconds
    lam = view.lambda_consumers
    for consumer in lam:
        add(
            f"{consumer} consumer (orders:consumerMaxConcurrency)",
            view.consumer_max_concurrency * batch / seconds,
            f"{need_conc:,.1f} concurrent ({batch}/batch, {seconds:g} s/batch assumed)",
            f"{view.consumer_max_concurrency} concurrent",
            quotas.LAMBDA_SQS_MAX_CONCURRENCY.lift,
            quotas.LAMBDA_SQS_MAX_CONCURRENCY.source,
        )
    if lam:
        acct = quotas.LAMBDA_CONCURRENCY
        assert acct.value is not None
        add(
            "Lambda account concurrency",
            acct.value * batch / (seconds * len(lam)),
            f"{need_conc * len(lam):,.1f} concurrent over {len(lam)} consumers",
            f"{acct.value:,.0f}",
            acct.lift,
            acct.source,
        )
    for consumer, runtime in view.consumer_runtimes.items():
        if runtime == "ecs":
            add(
                f"{consumer} consumer on ECS",
                None,
                "pollers' throughput on AWS not measured",
                "orders:consumerEcsDesiredCount pollers",
                "orders:consumerEcsDesiredCount",
                "Pulumi.yaml",
            )
    if view.consumer_runtimes.get("shipping") == "lambda":
        memory = quotas.RDS_MEMORY_GIB.get(view.db_instance_class)
        if memory is None:
            add(
                "shipping database connections",
                None,
                "one per concurrent shipping invocation",
                f"{view.db_instance_class}: memory unknown to the planner",
                "orders:dbInstanceClass",
                "ops/quotas.py",
            )
        else:
            max_conn = min(memory * 1024**3 // quotas.RDS_MAX_CONNECTIONS_DIVISOR, quotas.RDS_MAX_CONNECTIONS_CAP)
            add(
                "shipping database connections",
                max_conn * batch / seconds,
                f"{min(need_conc, view.consumer_max_concurrency):,.1f} (one per concurrent invocation)",
                f"<= {max_conn:,} ({view.db_instance_class}, default max_connections)",
                "orders:dbInstanceClass (a larger class), or RDS Proxy",
                quotas.RDS_MAX_CONNECTIONS_SOURCE,
            )
    return out


def binding(found: Iterable[Limit]) -> Limit:
    """The limit that binds first: the lowest verified capacity."""
    rated = [lim for lim in found if lim.capacity is not None]
    return min(rated, key=lambda lim: lim.capacity or 0.0)


def connection_warnings(view: StackView, profile: Profile) -> list[str]:
    if view.consumer_runtimes.get("shipping") != "lambda":
        return []
    conns = min(
        profile.peak_orders_per_second / view.consumer_batch_size * profile.consumer_batch_seconds,
        view.consumer_max_concurrency,
    )
    if conns > view.db_connections_alarm:
        return [
            f"~{conns:,.0f} shipping connections at the peak, over orders:dbConnectionsAlarm "
            f"({view.db_connections_alarm}): the alarm fires"
        ]
    return []


# --- cost ------------------------------------------------------------------------------------------


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


# --- the whole plan ---------------------------------------------------------------------------------


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


# --- rendering --------------------------------------------------------------------------------------


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
            f"{f.per_instance:g} orders/s at {p.rtt_ms:g} ms RTT (measured {plan.measured['date']})",
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


# --- the command -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ops plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="stack name: reads Pulumi.yaml defaults + Pulumi.<stack>.yaml")
    p.add_argument("--peak-orders-per-second", type=float, required=True)
    p.add_argument("--hours", type=float, required=True, help="hours at the peak rate")
    p.add_argument("--orders", type=int, help="orders of the whole peak day (default: peak x hours)")
    p.add_argument("--rtt-ms", type=float, default=20.0, help="modelled round trip to use from ops/measured.json")
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
    else:
        render_rich(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
