"""The capacity side of the plan: one instance's throughput, the fleet at the peak and every limit on the peak,
in orders/s."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from ops import quotas
from ops.inputs import Measured, MeasuredPoint
from ops.plan_model import Profile, StackView
from worker import topology

# --- one instance's throughput ----------------------------------------------------------------------------

PROCESSES_PER_INSTANCE = 1
"""worker/ansible/roles/orders_worker/templates/orders-worker.service.j2 runs one `python -m worker run`."""
CORES_PER_PROCESS = 1.0
"""CPython runs Python code on one core at a time (the GIL), and nearly all the worker's CPU per order is Python
(botocore: serializing, signing, parsing; pydantic): one process uses about one core however many vCPUs."""
CAPPED_AT = 0.9
"""Ours at >= 90% of the no-logic ceiling: both ran at the emulator's pace, so the figure is the emulator's."""
VCPU_SOURCE = (
    "https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html, "
    "https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html"
)
_SIZE = re.compile(r"^(\d*)xlarge$")


def vcpus_of(instance_type: str) -> int | None:
    """vCPUs of a fixed-performance type by its size (large 2, xlarge 4, Nxlarge 4N: the m5..m7a, c5..c7i
    tables); None for burstable types (t*: a baseline fraction of each vCPU) and sizes the rule does not cover."""
    family, _, size = instance_type.partition(".")
    if family.startswith("t"):
        return None
    if size == "large":
        return 2
    m = _SIZE.match(size)
    return 4 * int(m.group(1) or 1) if m else None


class Bound(BaseModel):
    """One bound on a worker instance's throughput: orders/s (None: no bound at this round trip) and its arithmetic."""

    model_config = ConfigDict(frozen=True)

    name: str
    orders_per_second: float | None
    how: str


class Throughput(BaseModel):
    """The per-instance figure the plan uses, and why: the measurement, or a derivation from what the worker costs."""

    model_config = ConfigDict(frozen=True)

    per_instance: float
    source: Literal["measured", "derived"]
    why: str
    measured: float
    ceiling: float | None
    ours_to_ceiling: float | None
    derived: float
    binds: str
    """The bound the derived figure is (the lowest)."""
    bounds: list[Bound]
    vcpus: int | None
    """vCPUs of the smallest configured instance type (None: none of them known to the planner)."""
    unknown_vcpus: list[str]


def _bounds(measured: Measured, point: MeasuredPoint, vcpus: int | None, rtt_ms: float) -> list[Bound]:
    """The worker's own bounds at `rtt_ms`: CPU, then its concurrency against the round trips an order needs."""
    c, k, r = point.cpu_seconds_per_1000_orders / 1000, point.round_trips_per_order, rtt_ms / 1000
    conc = measured.concurrency
    cores = min(float(vcpus or 1), PROCESSES_PER_INSTANCE * CORES_PER_PROCESS)
    on = f"{vcpus} vCPUs" if vcpus else "vCPUs unknown"
    per_order = f"{k:g} x {rtt_ms:g} ms + {c * 1000:.2f} ms CPU"
    held = f"({k:g} + 2) x {rtt_ms:g} ms + {c * 1000:.2f} ms CPU"
    return [
        Bound(
            name="CPU",
            orders_per_second=cores / c,
            how=f"{cores:g} core ({PROCESSES_PER_INSTANCE} process, one core under the GIL; {on}) / "
            f"{c * 1000:.2f} ms CPU per order",
        ),
        Bound(
            name="group threads",
            orders_per_second=conc.processors / (k * r + c),
            how=f"{conc.processors} threads, one order each / ({per_order})",
        ),
        Bound(
            name="messages in flight",
            orders_per_second=conc.max_in_flight / ((k + 2) * r + c),
            how=f"{conc.max_in_flight} held / ({held}): held from the receive through the delete",
        ),
        Bound(
            name="receivers",
            orders_per_second=conc.receivers * conc.batch_size / r if r else None,
            how=f"{conc.receivers} receivers x {conc.batch_size} messages / {rtt_ms:g} ms",
        ),
        Bound(
            name="deleter",
            orders_per_second=conc.deleters * 10 / r if r else None,
            how=f"{conc.deleters} thread x 10 messages per DeleteMessageBatch / {rtt_ms:g} ms",
        ),
    ]


def per_instance_throughput(view: StackView, profile: Profile, measured: Measured, point: MeasuredPoint) -> Throughput:
    """The measured figure where the emulator did not set the pace; otherwise (ours within 10% of the no-logic
    ceiling, or no ceiling measured) the figure derived from the worker's CPU and concurrency."""
    known = {t: vcpus_of(t) for t in view.instance_types}
    sizes = [v for v in known.values() if v is not None]
    vcpus = min(sizes) if sizes else None
    bounds = _bounds(measured, point, vcpus, profile.rtt_ms)
    binding_bound = min((b for b in bounds if b.orders_per_second is not None), key=lambda b: b.orders_per_second or 0)
    derived = round(binding_bound.orders_per_second or 0.0, 1)  # the figure the plan prints and uses
    ratio = point.ours_to_ceiling
    source: Literal["measured", "derived"]
    if ratio is None:
        source, why = "derived", "no no-logic ceiling was measured, so whether the emulator set the pace is unknown"
    elif ratio >= CAPPED_AT:
        source = "derived"
        why = (
            f"the measured {point.orders_per_second:g} orders/s was {ratio:.2f}x the no-logic ceiling "
            f"({point.ceiling_orders_per_second:g}): the emulator set the pace, not the worker; not used"
        )
    else:
        source = "measured"
        why = f"ours ran at {ratio:.2f}x the no-logic ceiling: the worker, not the emulator, set the pace"
    return Throughput(
        per_instance=derived if source == "derived" else point.orders_per_second,
        source=source,
        why=why,
        measured=point.orders_per_second,
        ceiling=point.ceiling_orders_per_second,
        ours_to_ceiling=ratio,
        derived=derived,
        binds=binding_bound.name,
        bounds=bounds,
        vcpus=vcpus,
        unknown_vcpus=sorted(t for t, v in known.items() if v is None),
    )


def derivation(t: Throughput) -> list[str]:
    """The throughput figure and its arithmetic, one line each (what the plan prints)."""
    lines = [
        f"per-instance throughput: {t.per_instance:,.1f} orders/s, {t.source} ({t.why})",
        f"derived {t.derived:,.1f} orders/s: the {t.binds} bound, the lowest of",
    ]
    for b in t.bounds:
        rate = "none at this round trip" if b.orders_per_second is None else f"{b.orders_per_second:,.1f} orders/s"
        lines.append(f"  {b.name}: {rate} = {b.how}")
    if t.source == "measured" and t.measured < t.derived:
        lines.append(
            f"the measured figure is {1 - t.measured / t.derived:.0%} below the worker's own bounds: something "
            "outside them held it back (on the benchmark rig, the emulator's response time on a shared host); "
            "the plan keeps the lower, measured figure"
        )
    if t.unknown_vcpus:
        lines.append(f"vCPUs not known to the planner for {', '.join(t.unknown_vcpus)} (burstable or unusual size)")
    if t.vcpus and t.vcpus > PROCESSES_PER_INSTANCE * CORES_PER_PROCESS and t.binds == "CPU":
        lines.append(
            f"the CPU bound is one process's: the smallest configured type has {t.vcpus} vCPUs, "
            f"{PROCESSES_PER_INSTANCE} worker process uses ~1 of them"
        )
    return lines


# --- the fleet --------------------------------------------------------------------------------------------


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


def fleet_plan(view: StackView, profile: Profile, per_instance: float) -> Fleet:
    """The fleet at the peak with `per_instance` orders/s per worker instance."""
    r = per_instance
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
    """What every limit rule reads: the stack, the profile, the measured point at its round trip and the
    per-instance throughput the plan uses."""

    view: StackView
    profile: Profile
    point: MeasuredPoint
    per_instance: float

    @property
    def rate(self) -> float:
        return self.profile.peak_orders_per_second

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
            f"{p.workers} instances at {r:,.1f} orders/s each",
            f"{p.view.fleet_max} instances",
            "orders:fleetMaxSize",
            "ops/measured.json, per-instance throughput",
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
    rtt, groups, trips = p.profile.rtt_ms, p.profile.groups, p.point.round_trips_per_order
    if rtt <= 0:
        return []
    per_group = 1000 / (trips * rtt)  # PutItem, then PutObject, then the next order of the group
    return [
        Row(
            "message groups (one order at a time per group)",
            per_group * groups,
            f"{p.rate / groups:.3f} orders/s per group over {groups:,} groups",
            f"<= {per_group:g} orders/s per group ({trips:g} round trips per order)",
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


def _shipping_db_lambdas(view: StackView) -> int:
    """Lambda consumers writing the shipping database (the registry says which): each concurrent invocation
    holds one connection."""
    return sum(1 for c in view.lambda_consumers if topology.fanout_consumer(c).database == topology.SHIPPING_DATABASE)


def _shipping_connections(p: Peak) -> list[Row]:
    """One database connection per concurrent invocation of each Lambda consumer of the shipping database,
    against the class's default max_connections."""
    view = p.view
    n = _shipping_db_lambdas(view)
    if not n:
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
            max_conn / n * view.consumer_batch_size / p.profile.consumer_batch_seconds,
            f"{n * min(p.concurrency_needed, view.consumer_max_concurrency):,.1f} (one per concurrent invocation)",
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


def limits(view: StackView, profile: Profile, point: MeasuredPoint, per_instance: float | None = None) -> list[Limit]:
    """Every limit on the peak, in orders/s where it is a rate limit (`per_instance`: the plan's per-instance
    throughput; default the measured one)."""
    p = Peak(view, profile, point, point.orders_per_second if per_instance is None else per_instance)
    return [Limit(**row._asdict(), ok=_ok(row.capacity, p.rate)) for rule in LIMIT_RULES for row in rule(p)]


def binding(found: Iterable[Limit]) -> Limit:
    """The limit that binds first: the lowest verified capacity."""
    rated = [lim for lim in found if lim.capacity is not None]
    return min(rated, key=lambda lim: lim.capacity or 0.0)


def connection_warnings(view: StackView, profile: Profile) -> list[str]:
    n = _shipping_db_lambdas(view)
    if not n:
        return []
    conns = n * min(
        profile.peak_orders_per_second / view.consumer_batch_size * profile.consumer_batch_seconds,
        view.consumer_max_concurrency,
    )
    if conns > view.db_connections_alarm:
        return [
            f"~{conns:,.0f} shipping connections at the peak, over orders:dbConnectionsAlarm "
            f"({view.db_connections_alarm}): the alarm fires"
        ]
    return []
