"""The capacity side of the plan: the fleet at the peak and every limit on the peak, in orders/s."""

from __future__ import annotations

import math
from collections.abc import Iterable

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
