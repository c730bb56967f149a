"""The planner's pinned inputs: the dated price file (ops/prices.json) and the worker's measurement (ops/measured.json)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HERE = Path(__file__).resolve().parent
PRICES = HERE / "prices.json"
MEASURED = HERE / "measured.json"


class InputError(ValueError):
    """A price or measurement file that is missing or malformed (names the file and the field)."""


class Price(BaseModel):
    """One list price: a figure with its source, a sourced range, or the reason it is missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float | None = Field(default=None, ge=0)
    usd_low: float | None = Field(default=None, ge=0)
    usd_high: float | None = Field(default=None, ge=0)
    unit: str = ""
    source: str = ""
    note: str = ""
    not_sourced: str = ""

    @model_validator(mode="after")
    def _sourced_or_explained(self) -> Price:
        has_range = self.usd_low is not None and self.usd_high is not None
        if (self.usd is not None or has_range) and not self.source:
            raise ValueError("a price needs its source")
        if self.usd is None and not has_range and not self.not_sourced:
            raise ValueError("a missing price needs not_sourced (why it is missing)")
        if has_range and self.usd_low > self.usd_high:  # type: ignore[operator]
            raise ValueError("usd_low > usd_high")
        return self

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(low, high) USD, or None when not sourced."""
        if self.usd is not None:
            return (self.usd, self.usd)
        if self.usd_low is not None and self.usd_high is not None:
            return (self.usd_low, self.usd_high)
        return None


class RegionPrices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ec2_on_demand_hourly: dict[str, Price] = Field(default_factory=dict)
    rds_postgres_hourly: dict[str, Price] = Field(default_factory=dict)
    sqs_fifo_per_million_requests: Price | None = None
    sqs_standard_per_million_requests: Price | None = None
    dynamodb_on_demand_per_million_wru: Price | None = None
    s3_put_per_thousand: Price | None = None
    sns_publish_per_million: Price | None = None
    sns_sqs_delivery_per_million: Price | None = None
    lambda_gb_second_x86: Price | None = None
    lambda_per_million_requests: Price | None = None
    apigateway_rest_per_million: Price | None = None
    waf_per_million_requests: Price | None = None
    waf_web_acl_per_month: Price | None = None
    waf_rule_per_month: Price | None = None
    rds_gp3_gb_month: Price | None = None
    redshift_serverless_rpu_hour: Price | None = None
    nat_gateway_hourly: Price | None = None
    nat_gateway_per_gb: Price | None = None
    interface_endpoint_hourly_per_az: Price | None = None
    interface_endpoint_per_gb: Price | None = None
    not_sourced: str = ""


class SpotModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    low_fraction_of_on_demand: float = Field(gt=0, le=1)
    high_fraction_of_on_demand: float = Field(gt=0, le=1)
    source: str = Field(min_length=1)
    note: str = ""


class PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    what: str
    retrieved: date
    how: str
    currency: str = Field(pattern=r"^USD$")
    regions: dict[str, RegionPrices]
    spot: SpotModel


class CallsPerOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    receives: float = Field(ge=0)
    deletes: float = Field(ge=0)
    PutItem: float = Field(ge=0)
    PutObject: float = Field(ge=0)
    expect_100_continue: float = Field(default=0, ge=0)
    """Requests sent with `Expect: 100-continue`: each waits a round trip for the go-ahead before its body."""


class MeasuredPoint(BaseModel):
    """One modelled round trip: ours' figures, side by side with the no-logic ceiling of the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rtt_ms: float = Field(ge=0)
    orders_per_second: float = Field(gt=0)
    cpu_seconds_per_1000_orders: float = Field(gt=0)
    """The worker process's own CPU (user + system) per 1,000 orders: its side of the wire."""
    peak_rss_mb: float = Field(ge=0)
    calls_per_order: CallsPerOrder
    round_trips_per_order: float = Field(gt=0)
    """Round trips one order costs the processor thread that handles it, one after another (PutItem, PutObject
    and any 100-continue wait); receives and deletes are other threads' and carry 10 orders each."""
    emulator_cpu_seconds_per_1000_orders: float | None = Field(default=None, ge=0)
    naive_orders_per_second: float | None = None
    ceiling_orders_per_second: float | None = Field(default=None, gt=0)
    ceiling_cpu_seconds_per_1000_orders: float | None = Field(default=None, ge=0)
    ours_to_ceiling: float | None = Field(default=None, gt=0)
    """Ours' orders/s over the ceiling's, run by run side by side (median); None: no ceiling was measured."""


class Concurrency(BaseModel):
    """The worker's concurrency as benchmarked (worker/fifo/settings.py defaults, one process)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    processors: int = Field(ge=1)
    """Group threads: each handles one order at a time."""
    receivers: int = Field(ge=1)
    batch_size: int = Field(ge=1, le=10)
    max_in_flight: int = Field(ge=1)
    """Messages held (received, not yet deleted or released) at most."""
    deleters: int = Field(ge=1)
    """Threads sending DeleteMessageBatch (up to 10 each), one round trip at a time."""


class Measured(BaseModel):
    """What bench/worker.py --measured writes: one worker process at each modelled round trip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    what: str
    date: date
    machine: str
    command: str = Field(min_length=1)
    uptime_before: str = ""
    uptime_after: str = ""
    note: str = ""
    caveats: list[str]
    concurrency: Concurrency
    points: list[MeasuredPoint] = Field(min_length=1)

    def at(self, rtt_ms: float) -> MeasuredPoint:
        for p in self.points:
            if p.rtt_ms == rtt_ms:
                return p
        have = ", ".join(f"{p.rtt_ms:g}" for p in self.points)
        raise InputError(f"--rtt-ms {rtt_ms:g}: no measurement at that round trip (measured: {have} ms)")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path} is missing") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None


def _first_error(path: Path, exc: ValidationError) -> InputError:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return InputError(f"{path}: {where}: {err['msg']}")


def load_prices(path: Path = PRICES) -> PriceFile:
    try:
        return PriceFile.model_validate(_read(path))
    except ValidationError as exc:
        raise _first_error(path, exc) from None


def load_measured(path: Path = MEASURED) -> Measured:
    try:
        return Measured.model_validate(_read(path))
    except ValidationError as exc:
        raise _first_error(path, exc) from None
