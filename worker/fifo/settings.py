"""Worker settings from flags, then environment (the interface shared with the Spot fleet's systemd unit).

`WorkerSettings` is a pydantic-settings model with two sources, in this order: the flags of
`python -m worker run` (given as init values) and the `ORDERS_*` environment (`ENV_VARS`; `AWS_REGION`,
else `AWS_DEFAULT_REGION`). An empty variable counts as unset. Every invalid value becomes one
`SettingsError` naming the flag and the variable.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from worker.topology import INVOICE_PREFIX, LONG_POLL_SECONDS


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the flag and the environment variable."""


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    queue_url: str = Field(min_length=1)
    table: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    region: str = Field(min_length=1)
    invoice_prefix: str = INVOICE_PREFIX
    drain_seconds: float = Field(90.0, ge=1)
    imds_url: str = "http://169.254.169.254"
    imds_poll_seconds: float = Field(5.0, ge=0.1)
    receivers: int = Field(4, ge=1)
    processors: int = Field(16, ge=1)
    wait_seconds: int = Field(LONG_POLL_SECONDS, ge=0, le=LONG_POLL_SECONDS)
    """Flag only: the SQS long-poll maximum is 20."""
    batch_size: int = Field(10, ge=1, le=10)
    """Flag only: the SQS batch maximum is 10."""
    visibility_seconds: int | None = Field(None, ge=1)
    """None: use the queue's own VisibilityTimeout (read at start), so the stack config stays the source."""
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: int = Field(5, ge=1)
    asg_name: str = ""
    lifecycle_hook: str = ""
    metrics_interval: float = Field(60.0, ge=1)
    idle_exit_seconds: float = Field(0.0, ge=0)
    """Drain and exit after this long with nothing received (0 = run until told to stop); for batch runs."""

    @property
    def max_in_flight(self) -> int:
        return max(self.batch_size * self.receivers * 2, self.processors * 2)

    @field_validator("queue_url")
    @classmethod
    def _fifo_queue(cls, url: str) -> str:
        if not url.endswith(".fifo"):
            raise ValueError(f"must name a FIFO queue (.fifo), got {url}")
        return url

    @model_validator(mode="after")
    def _drain_outlasts_a_long_poll(self) -> WorkerSettings:
        if self.drain_seconds <= self.wait_seconds:
            raise ValueError(
                f"ORDERS_DRAIN_SECONDS ({self.drain_seconds:g}) must be longer than the long poll (--wait-seconds "
                f"{self.wait_seconds}): the drain releases what a receive under way returns, once it returns"
            )
        return self

    @model_validator(mode="after")
    def _lifecycle_pair(self) -> WorkerSettings:
        if bool(self.asg_name) != bool(self.lifecycle_hook):
            raise ValueError("ORDERS_ASG_NAME and ORDERS_LIFECYCLE_HOOK must be set together")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init values (the flags) win over the process environment; no .env or secrets files."""
        return init_settings, Environment(settings_cls, os.environ)


ENV_VARS = {
    "queue_url": "ORDERS_QUEUE_URL",
    "table": "ORDERS_TABLE",
    "bucket": "ORDERS_BUCKET",
    "region": "AWS_REGION",
    "invoice_prefix": "ORDERS_INVOICE_PREFIX",
    "drain_seconds": "ORDERS_DRAIN_SECONDS",
    "imds_url": "ORDERS_IMDS_URL",
    "imds_poll_seconds": "ORDERS_IMDS_POLL_SECONDS",
    "receivers": "ORDERS_RECEIVERS",
    "processors": "ORDERS_PROCESSORS",
    "visibility_seconds": "ORDERS_VISIBILITY_SECONDS",
    "retry_mode": "ORDERS_RETRY_MODE",
    "max_attempts": "ORDERS_MAX_ATTEMPTS",
    "asg_name": "ORDERS_ASG_NAME",
    "lifecycle_hook": "ORDERS_LIFECYCLE_HOOK",
    "metrics_interval": "ORDERS_METRICS_INTERVAL",
    "idle_exit_seconds": "ORDERS_IDLE_EXIT_SECONDS",
}
"""Setting -> environment variable; the flag table of docs/fifo-worker.md lists the same."""
_FALLBACK = {"region": "AWS_DEFAULT_REGION"}


class Environment(PydanticBaseSettingsSource):
    """The variables of `ENV_VARS` (and `_FALLBACK`) read from `environ`; an empty value counts as unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo | None, field_name: str) -> tuple[Any, str, bool]:
        for var in (ENV_VARS.get(field_name), _FALLBACK.get(field_name)):
            if var and self.environ.get(var):
                return self.environ[var], var, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {name: self.get_field_value(None, name)[0] for name in ENV_VARS}
        return {name: value for name, value in found.items() if value is not None}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m worker run",
        description="FIFO order worker. Every flag falls back to its environment variable.",
    )
    for name, env in ENV_VARS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=None, help=f"(env {env})")
    p.add_argument("--wait-seconds", dest="wait_seconds", type=int, default=None, help="long-poll wait (<= 20)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=None, help="messages per receive (<= 10)")
    return p


_WHY = {"wait_seconds": " (the SQS long-poll maximum)", "batch_size": " (the SQS batch maximum)"}


def _key(name: str) -> str:
    """How an operator sets `name`: the flag, and the variable when there is one."""
    flag = "--" + name.replace("_", "-")
    return f"{flag} / {ENV_VARS[name]}" if name in ENV_VARS else flag


def _message(error: ErrorDetails) -> str:
    """One line per invalid value, in the words the worker has always used."""
    if not error["loc"]:  # a check across settings: its message names both
        return error["msg"].removeprefix("Value error, ")
    name = str(error["loc"][0])
    kind, ctx, got = error["type"], error.get("ctx", {}), error.get("input")
    if kind in {"missing", "string_too_short"}:
        return f"{_key(name)} is required"
    if kind in {"int_parsing", "float_parsing", "int_from_float", "int_type", "float_type"}:
        return f"{_key(name)}: not a number: {got!r}"
    if kind in {"greater_than_equal", "less_than_equal"}:
        limits = WorkerSettings.model_fields[name].metadata
        low = next((m.ge for m in limits if hasattr(m, "ge")), None)
        high = next((m.le for m in limits if hasattr(m, "le")), None)
        if high is not None:
            return f"{_key(name)} must be between {low} and {high}{_WHY.get(name, '')}, got {got}"
        return f"{_key(name)}: must be >= {low}, got {got}"
    if kind == "literal_error":
        return f"{_key(name)} must be {ctx.get('expected', '').replace(chr(39), '')}, got {got!r}"
    return f"{_key(name)} {error['msg'].removeprefix('Value error, ')}"


def load(argv: list[str], environ: Mapping[str, str] | None = None) -> WorkerSettings:
    """Flags win over the environment; defaults are the model's. Raises SettingsError naming the key."""
    flags = {k: v for k, v in vars(parser().parse_args(argv)).items() if v is not None}
    sources = (
        InitSettingsSource(WorkerSettings, flags),
        Environment(WorkerSettings, os.environ if environ is None else environ),
    )
    try:
        # `_build_sources` is pydantic-settings' init option for sources built by the caller (here: an
        # explicit environment mapping); the pydantic mypy plugin only knows the fields.
        return WorkerSettings(_build_sources=(sources, {}))  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError("; ".join(_message(e) for e in exc.errors())) from None
