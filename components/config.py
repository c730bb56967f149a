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
class StackConfig:
    project: str
    stack: str
    primary_region: str
    failover_region: str
    messaging: MessagingConfig
    monitoring: MonitoringConfig
    network: NetworkConfig

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
        )
