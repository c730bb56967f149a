"""The stack's typed configuration, read once in `__main__.py` and handed to the components.

Defaults live in `Pulumi.yaml` only (the CLI applies them, and so does the offline harness), so this
module requires every key instead of repeating defaults. Validation happens here so a bad stack file
fails at `pulumi preview` with a message that names the key.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import pulumi

_REGION = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-\d$"
)


_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")
"""Graviton families carry a `g` after the generation digit: m6g, c7gn, t4g, r8g."""


class ConfigError(ValueError):
    """A stack setting that cannot work; raised before any resource is registered."""


def validate_region(key: str, value: str) -> str:
    if not _REGION.match(value):
        raise ConfigError(f"orders:{key} = {value!r} is not an AWS region name (expected e.g. us-east-1)")
    return value


@dataclass(frozen=True)
class MessagingConfig:
    fanout_queues: tuple[str, ...]
    order_queue_visibility_seconds: int
    fanout_queue_visibility_seconds: int
    fifo_high_throughput: bool
    content_based_deduplication: bool
    message_retention_days: int
    table_deletion_protection: bool


@dataclass(frozen=True)
class MonitoringConfig:
    alarm_email: str
    queue_age_seconds: int
    queue_depth: int


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: str
    az_count: int
    enable_nat: bool

    @staticmethod
    def load(cfg: pulumi.Config) -> NetworkConfig:
        cidr = cfg.require("vpcCidr")
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise ConfigError(f"orders:vpcCidr = {cidr!r} is not a CIDR block ({exc})") from exc
        if network.version != 4 or not 16 <= network.prefixlen <= 24:
            raise ConfigError(f"orders:vpcCidr = {cidr!r}: use an IPv4 block between /16 and /24")
        az_count = cfg.require_int("azCount")
        if not 2 <= az_count <= 6:
            raise ConfigError(f"orders:azCount = {az_count}: Spot needs at least 2 zones to diversify (max 6)")
        return NetworkConfig(vpc_cidr=str(network), az_count=az_count, enable_nat=cfg.require_bool("enableNat"))


@dataclass(frozen=True)
class FleetConfig:
    """The Spot worker fleet: instance types, group sizes, scaling target and the drain budget."""

    instance_types: tuple[str, ...]
    min_size: int
    desired_capacity: int
    max_size: int
    backlog_per_instance: int
    drain_seconds: int
    lifecycle_hook_seconds: int
    root_volume_gb: int
    cpu_alarm_percent: int
    wheelhouse_dir: str

    MIN_INSTANCE_TYPES = 6
    SPOT_NOTICE_SECONDS = 120

    @staticmethod
    def load(cfg: pulumi.Config) -> FleetConfig:
        types = tuple(cfg.require_object("instanceTypes"))
        if len(types) < FleetConfig.MIN_INSTANCE_TYPES or len(set(types)) != len(types):
            raise ConfigError(
                f"orders:instanceTypes must list at least {FleetConfig.MIN_INSTANCE_TYPES} distinct instance types "
                f"(Spot capacity comes from many pools), got {list(types)}"
            )
        for t in types:
            if not isinstance(t, str) or not _INSTANCE_TYPE.match(t):
                raise ConfigError(f"orders:instanceTypes entry {t!r} is not an instance type name (e.g. m6i.large)")
            if _GRAVITON.match(t):
                raise ConfigError(
                    f"orders:instanceTypes entry {t!r} is Graviton (arm64); the launch template's AMI is x86_64"
                )
        lo, want, hi = (cfg.require_int(k) for k in ("fleetMinSize", "fleetDesiredCapacity", "fleetMaxSize"))
        if not 1 <= lo <= want <= hi:
            raise ConfigError(
                f"orders:fleetMinSize ({lo}) <= orders:fleetDesiredCapacity ({want}) <= orders:fleetMaxSize ({hi}) "
                "must hold, with fleetMinSize >= 1 (the backlog-per-instance metric divides by in-service instances)"
            )
        backlog = cfg.require_int("backlogPerInstance")
        if backlog < 1:
            raise ConfigError(f"orders:backlogPerInstance = {backlog}: must be >= 1 message per instance")
        drain = cfg.require_int("workerDrainSeconds")
        if not 10 <= drain < FleetConfig.SPOT_NOTICE_SECONDS:
            raise ConfigError(
                f"orders:workerDrainSeconds = {drain}: must be 10..{FleetConfig.SPOT_NOTICE_SECONDS - 1}, "
                "inside the 2-minute Spot interruption notice"
            )
        hook = cfg.require_int("lifecycleHookTimeoutSeconds")
        if not drain + 30 <= hook <= 7200:
            raise ConfigError(
                f"orders:lifecycleHookTimeoutSeconds = {hook}: must be >= workerDrainSeconds + 30 ({drain + 30}) "
                "so the drain finishes before Auto Scaling gives up waiting, and <= 7200"
            )
        volume = cfg.require_int("fleetRootVolumeGb")
        if not 8 <= volume <= 1024:
            raise ConfigError(f"orders:fleetRootVolumeGb = {volume}: the AMI needs >= 8 GiB (max 1024 here)")
        cpu = cfg.require_int("fleetCpuAlarmPercent")
        if not 1 <= cpu <= 100:
            raise ConfigError(f"orders:fleetCpuAlarmPercent = {cpu}: must be 1..100")
        return FleetConfig(
            instance_types=types,
            min_size=lo,
            desired_capacity=want,
            max_size=hi,
            backlog_per_instance=backlog,
            drain_seconds=drain,
            lifecycle_hook_seconds=hook,
            root_volume_gb=volume,
            cpu_alarm_percent=cpu,
            wheelhouse_dir=cfg.require("workerWheelhouse"),
        )


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    primary_region: str
    failover_region: str
    messaging: MessagingConfig
    monitoring: MonitoringConfig
    network: NetworkConfig
    fleet: FleetConfig

    @staticmethod
    def load(cfg: pulumi.Config | None = None) -> StackConfig:
        cfg = cfg or pulumi.Config()
        primary = validate_region("primaryRegion", cfg.require("primaryRegion"))
        failover = validate_region("failoverRegion", cfg.require("failoverRegion"))
        if primary == failover:
            raise ConfigError(
                f"orders:failoverRegion must differ from orders:primaryRegion (both are {primary}); "
                "a failover page in the failing region would go down with it"
            )
        fanout = tuple(cfg.require_object("fanoutQueues"))
        if not fanout or len(set(fanout)) != len(fanout):
            raise ConfigError(f"orders:fanoutQueues must be a non-empty list of distinct names, got {list(fanout)}")
        for name in fanout:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name):
                raise ConfigError(f"orders:fanoutQueues entry {name!r}: use lower-case letters, digits and '-'")
        return StackConfig(
            project=pulumi.get_project(),
            stack=pulumi.get_stack(),
            primary_region=primary,
            failover_region=failover,
            messaging=MessagingConfig(
                fanout_queues=fanout,
                order_queue_visibility_seconds=cfg.require_int("orderQueueVisibilitySeconds"),
                fanout_queue_visibility_seconds=cfg.require_int("fanoutQueueVisibilitySeconds"),
                fifo_high_throughput=cfg.require_bool("fifoHighThroughput"),
                content_based_deduplication=cfg.require_bool("contentBasedDeduplication"),
                message_retention_days=cfg.require_int("messageRetentionDays"),
                table_deletion_protection=cfg.require_bool("tableDeletionProtection"),
            ),
            monitoring=MonitoringConfig(
                alarm_email=cfg.get("alarmEmail") or "",
                queue_age_seconds=cfg.require_int("alarmQueueAgeSeconds"),
                queue_depth=cfg.require_int("alarmQueueDepth"),
            ),
            network=NetworkConfig.load(cfg),
            fleet=FleetConfig.load(cfg),
        )
