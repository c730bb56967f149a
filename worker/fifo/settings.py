"""Worker settings from flags, then environment (the interface shared with the Spot fleet's systemd unit)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

from worker.topology import INVOICE_PREFIX


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the flag and the environment variable."""


@dataclass(frozen=True)
class WorkerSettings:
    queue_url: str
    table: str
    bucket: str
    region: str
    invoice_prefix: str = INVOICE_PREFIX
    drain_seconds: float = 90.0
    imds_url: str = "http://169.254.169.254"
    imds_poll_seconds: float = 5.0
    receivers: int = 4
    processors: int = 16
    wait_seconds: int = 20
    batch_size: int = 10
    visibility_seconds: int | None = None
    """None: use the queue's own VisibilityTimeout (read at start), so the stack config stays the source."""
    retry_mode: str = "standard"
    max_attempts: int = 5
    asg_name: str = ""
    lifecycle_hook: str = ""
    metrics_interval: float = 60.0
    idle_exit_seconds: float = 0.0
    """Drain and exit after this long with nothing received (0 = run until told to stop); for batch runs."""

    @property
    def max_in_flight(self) -> int:
        return max(self.batch_size * self.receivers * 2, self.processors * 2)


_ENV = {
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
ENV_VARS = dict(_ENV)
"""Setting -> environment variable; the README's config table lists the same."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m worker run",
        description="FIFO order worker. Every flag falls back to its environment variable.",
    )
    for name, env in _ENV.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=None, help=f"(env {env})")
    p.add_argument("--wait-seconds", dest="wait_seconds", type=int, default=None, help="long-poll wait (<= 20)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=None, help="messages per receive (<= 10)")
    return p


def _number(name: str, raw: str, kind: type[int] | type[float], minimum: float) -> int | float:
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"--{name.replace('_', '-')} / {_ENV.get(name, name)}: not a number: {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"--{name.replace('_', '-')} / {_ENV.get(name, name)}: must be >= {minimum}, got {raw}")
    return value


def load(argv: list[str], environ: Mapping[str, str] | None = None) -> WorkerSettings:
    """Flags win over the environment; defaults are the dataclass's. Raises SettingsError naming the key."""
    env = os.environ if environ is None else environ
    args = vars(parser().parse_args(argv))
    raw: dict[str, str] = {}
    for name, var in _ENV.items():
        value = args.get(name)
        if value is None:
            value = env.get(var)
        if value is None and name == "region":
            value = env.get("AWS_DEFAULT_REGION")
        if value is not None:
            raw[name] = value
    for name in ("queue_url", "table", "bucket", "region"):
        if not raw.get(name):
            raise SettingsError(f"--{name.replace('_', '-')} / {_ENV[name]} is required")
    kw: dict[str, object] = {k: raw[k] for k in ("queue_url", "table", "bucket", "region")}
    for name in ("invoice_prefix", "imds_url", "asg_name", "lifecycle_hook", "retry_mode"):
        if name in raw:
            kw[name] = raw[name]
    floats = {"drain_seconds": 1, "imds_poll_seconds": 0.1, "metrics_interval": 1, "idle_exit_seconds": 0}
    ints = {"receivers": 1, "processors": 1, "max_attempts": 1, "visibility_seconds": 1}
    for name, low in floats.items():
        if raw.get(name):
            kw[name] = float(_number(name, raw[name], float, low))
    for name, low in ints.items():
        if raw.get(name):
            kw[name] = int(_number(name, raw[name], int, low))
    if args["wait_seconds"] is not None:
        kw["wait_seconds"] = args["wait_seconds"]
    if args["batch_size"] is not None:
        kw["batch_size"] = args["batch_size"]
    settings = WorkerSettings(**kw)  # type: ignore[arg-type]
    if not 0 <= settings.wait_seconds <= 20:
        raise SettingsError("--wait-seconds must be between 0 and 20 (the SQS long-poll maximum)")
    if not 1 <= settings.batch_size <= 10:
        raise SettingsError("--batch-size must be between 1 and 10 (the SQS batch maximum)")
    if settings.retry_mode not in {"standard", "adaptive"}:
        raise SettingsError(
            f"--retry-mode / ORDERS_RETRY_MODE must be standard or adaptive, got {settings.retry_mode!r}"
        )
    if bool(settings.asg_name) != bool(settings.lifecycle_hook):
        raise SettingsError("ORDERS_ASG_NAME and ORDERS_LIFECYCLE_HOOK must be set together")
    if not settings.queue_url.endswith(".fifo"):
        raise SettingsError(f"--queue-url / ORDERS_QUEUE_URL must name a FIFO queue (.fifo), got {settings.queue_url}")
    return settings
