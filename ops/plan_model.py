"""The plan's inputs: the peak profile and the stack settings it reads (taken from the program's StackConfig)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
LONG_POLL_SECONDS = 20
"""The worker's long-poll wait (worker/fifo/settings.py default): an idle receiver makes one receive per 20 s."""

Range = tuple[float, float]
"""(low, high) USD; equal when the price is a point."""


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
