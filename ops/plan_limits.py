"""The capacity side of the plan: the fleet at the peak and every limit on the peak, in orders/s."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from ops import quotas
from ops.inputs import MeasuredPoint
from ops.plan_model import Profile, StackView


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


class Row(NamedTuple):
    """One limit as a rule states it; `limits` adds whether the peak fits (`ok`)."""

    name: str
    capacity: float | None
    need: str
    limit: str
    lift: str
    source: str


@dataclass(frozen=True)
class Peak:
    """What every limit rule reads: the stack, the profile and the measured point at its round trip."""

    view: StackView
    profile: Profile
    point: MeasuredPoint

    @property
    def rate(self) -> float:
        return self.profile.peak_orders_per_second

    @property
    def per_instance(self) -> float:
        return self.point.orders_per_second

    @property
    def workers(self) -> int:
        return math.ceil(self.rate / self.per_instance)

    @property
    def concurrency_needed(self) -> float:
        """Concurrent batches per Lambda consumer at the peak: every fan-out queue sees every order."""
        return self.rate / self.view.consumer_batch_size * self.profile.consumer_batch_seconds


def _worker_fleet(p: Peak) -> list[Row]:
    r = p.per_instance
    return [
        Row(
            "worker fleet (orders:fleetMaxSize)",
            p.view.fleet_max * r,
            f"{p.workers} instances at {r:g} orders/s each",
            f"{p.view.fleet_max} instances",
            "orders:fleetMaxSize",
            "ops/measured.json",
        )
    ]


def _sqs_fifo_actions(p: Peak) -> list[Row]:
    """The FIFO order queue per API action: the API sends one SendMessage per order, the bulk producer a batch of 10."""
    calls = p.point.calls_per_order
    sends_per_order = p.profile.api_share + (1 - p.profile.api_share) / quotas.SQS_FIFO_BATCH
    per_action = {
        "SendMessage(Batch)": sends_per_order,
        "ReceiveMessage": calls.receives,
        "DeleteMessage(Batch)": calls.deletes,
    }
    return [_sqs_fifo_action(p, action, per_order) for action, per_order in per_action.items()]


def _sqs_fifo_action(p: Peak, action: str, per_order: float) -> Row:
    need = f"{p.rate * per_order:,.0f} TPS ({per_order:.3f}/order)"
    if p.view.fifo_high_throughput:
        hq = quotas.SQS_FIFO_HIGH_THROUGHPUT
        return Row(
            f"SQS FIFO {action}, high-throughput mode",
            None,
            need,
            "regional limit, not verified here",
            hq.lift,
            hq.source,
        )
    tps = quotas.SQS_FIFO_TPS_PER_ACTION
    assert tps.value is not None
    return Row(
        f"SQS FIFO {action}",
        tps.value / per_order if per_order else None,
        need,
        f"{tps.value:,.0f} TPS per API action",
        tps.lift,
        tps.source,
    )


def _sqs_fifo_in_flight(p: Peak) -> list[Row]:
    inflight, held = quotas.SQS_FIFO_IN_FLIGHT, p.view.worker_max_in_flight
    assert inflight.value is not None
    return [
        Row(
            "SQS FIFO in-flight messages",
            inflight.value / held * p.per_instance,
            f"{p.workers * held:,} held ({held} per worker)",
            f"{inflight.value:,.0f} per queue",
            inflight.lift,
            inflight.source,
        )
    ]


def _message_groups(p: Peak) -> list[Row]:
    rtt, groups = p.profile.rtt_ms, p.profile.groups
    if rtt <= 0:
        return []
    per_group = 1000 / (2 * rtt)  # PutItem, then PutObject, then the next order of the group
    return [
        Row(
            "message groups (one order at a time per group)",
            per_group * groups,
            f"{p.rate / groups:.3f} orders/s per group over {groups:,} groups",
            f"<= {per_group:g} orders/s per group (2 round trips per order)",
            "more groups: MessageGroupId is the CustomerID (hot customers queue behind themselves)",
            "worker/fifo/groups.py",
        )
    ]


def _api_gateway(p: Peak) -> list[Row]:
    """The stage throttle (config) and the account's regional quota."""
    share, view = p.profile.api_share, p.view
    if share <= 0:
        return []
    need = f"{p.rate * share:,.0f} requests/s"
    rate, burst = (
        quotas.APIGW_LOW_DEFAULT
        if view.region in quotas.APIGW_LOW_DEFAULT_REGIONS
        else (quotas.APIGW_ACCOUNT_RPS.value, quotas.APIGW_ACCOUNT_BURST.value)
    )
    assert rate is not None
    account = quotas.APIGW_ACCOUNT_RPS
    return [
        Row(
            "API stage throttle (orders:apiThrottleRateLimit)",
            view.api_rate / share,
            need,
            f"{view.api_rate:,} rps, burst {view.api_burst:,}",
            "orders:apiThrottleRateLimit (and BurstLimit)",
            "Pulumi.yaml",
        ),
        Row(
            "API Gateway account quota",
            rate / share,
            need,
            f"{rate:,.0f} rps, burst {burst:,.0f}",
            account.lift,
            account.source,
        ),
    ]


def _dynamodb(p: Peak) -> list[Row]:
    """On-demand: one WRU per order (items < 1 KB; measured write units per order)."""
    wru = p.point.calls_per_order.PutItem
    table_quotas = [(quotas.DYNAMODB_TABLE_WRU, "DynamoDB table (on-demand)")]
    if not p.profile.table_warm:
        table_quotas.append((quotas.DYNAMODB_NEW_TABLE_WRU, "DynamoDB new table's first peak"))
    out = []
    for q, name in table_quotas:
        assert q.value is not None
        out.append(
            Row(
                name,
                q.value / wru if wru else None,
                f"{p.rate * wru:,.0f} WRU/s",
                f"{q.value:,.0f} WRU/s",
                q.lift,
                q.source,
            )
        )
    part = quotas.DYNAMODB_PARTITION_WRU
    out.append(
        Row(
            "DynamoDB partition",
            None,
            "each OrderID written once: no hot key",
            f"{part.value:,.0f} WRU/s per partition",
            part.lift,
            part.source,
        )
    )
    return out


def _lambda_consumers(p: Peak) -> list[Row]:
    """Each Lambda consumer's maximum concurrency (config)."""
    view, seconds = p.view, p.profile.consumer_batch_seconds
    batch, q = view.consumer_batch_size, quotas.LAMBDA_SQS_MAX_CONCURRENCY
    return [
        Row(
            f"{consumer} consumer (orders:consumerMaxConcurrency)",
            view.consumer_max_concurrency * batch / seconds,
            f"{p.concurrency_needed:,.1f} concurrent ({batch}/batch, {seconds:g} s/batch assumed)",
            f"{view.consumer_max_concurrency} concurrent",
            q.lift,
            q.source,
        )
        for consumer in view.lambda_consumers
    ]


def _lambda_account(p: Peak) -> list[Row]:
    """The account's Lambda concurrency, shared by all Lambda consumers."""
    lam = p.view.lambda_consumers
    if not lam:
        return []
    acct = quotas.LAMBDA_CONCURRENCY
    assert acct.value is not None
    return [
        Row(
            "Lambda account concurrency",
            acct.value * p.view.consumer_batch_size / (p.profile.consumer_batch_seconds * len(lam)),
            f"{p.concurrency_needed * len(lam):,.1f} concurrent over {len(lam)} consumers",
            f"{acct.value:,.0f}",
            acct.lift,
            acct.source,
        )
    ]


def _ecs_consumers(p: Peak) -> list[Row]:
    return [
        Row(
            f"{consumer} consumer on ECS",
            None,
            "pollers' throughput on AWS not measured",
            "orders:consumerEcsDesiredCount pollers",
            "orders:consumerEcsDesiredCount",
            "Pulumi.yaml",
        )
        for consumer, runtime in p.view.consumer_runtimes.items()
        if runtime == "ecs"
    ]


def _shipping_connections(p: Peak) -> list[Row]:
    """One database connection per concurrent shipping invocation, against the class's default max_connections."""
    view = p.view
    if view.consumer_runtimes.get("shipping") != "lambda":
        return []
    name, cls = "shipping database connections", view.db_instance_class
    memory = quotas.RDS_MEMORY_GIB.get(cls)
    if memory is None:
        need = "one per concurrent shipping invocation"
        return [
            Row(name, None, need, f"{cls}: memory unknown to the planner", "orders:dbInstanceClass", "ops/quotas.py")
        ]
    max_conn = min(memory * 1024**3 // quotas.RDS_MAX_CONNECTIONS_DIVISOR, quotas.RDS_MAX_CONNECTIONS_CAP)
    return [
        Row(
            name,
            max_conn * view.consumer_batch_size / p.profile.consumer_batch_seconds,
            f"{min(p.concurrency_needed, view.consumer_max_concurrency):,.1f} (one per concurrent invocation)",
            f"<= {max_conn:,} ({cls}, default max_connections)",
            "orders:dbInstanceClass (a larger class), or RDS Proxy",
            quotas.RDS_MAX_CONNECTIONS_SOURCE,
        )
    ]


LIMIT_RULES: tuple[Callable[[Peak], list[Row]], ...] = (
    _worker_fleet,
    _sqs_fifo_actions,
    _sqs_fifo_in_flight,
    _message_groups,
    _api_gateway,
    _dynamodb,
    _lambda_consumers,
    _lambda_account,
    _ecs_consumers,
    _shipping_connections,
)
"""Every limit rule, in the order the plan lists them (JSON order; the tables sort by capacity)."""


def limits(view: StackView, profile: Profile, point: MeasuredPoint) -> list[Limit]:
    """Every limit on the peak, in orders/s where it is a rate limit."""
    p = Peak(view, profile, point)
    return [Limit(**row._asdict(), ok=_ok(row.capacity, p.rate)) for rule in LIMIT_RULES for row in rule(p)]


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
