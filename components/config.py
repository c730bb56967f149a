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


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


@dataclass(frozen=True)
class FrontDoorConfig:
    """The intake API and, when a domain is set, its custom domain and the Route 53 failover to the error page."""

    domain_name: str
    """'' when no domain: the API is reached on its invoke URL and DNS/failover are skipped."""
    hosted_zone_id: str
    hosted_zone_name: str
    stage_name: str
    throttle_rate_limit: int
    throttle_burst_limit: int
    access_log_retention_days: int
    manage_account_log_role: bool
    health_check_interval_seconds: int
    health_check_failure_threshold: int

    @property
    def has_domain(self) -> bool:
        return bool(self.domain_name)

    @staticmethod
    def load(cfg: pulumi.Config) -> FrontDoorConfig:
        domain = (cfg.get("domainName") or "").strip().rstrip(".")
        zone_id = (cfg.get("hostedZoneId") or "").strip()
        zone_name = (cfg.get("hostedZoneName") or "").strip().rstrip(".")
        if domain:
            # The error-page bucket is named exactly as the record, so the name must also be a valid bucket name.
            labels = domain.split(".")
            if len(domain) > 63 or len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels):
                raise ConfigError(
                    f"orders:domainName = {domain!r}: use a lower-case DNS name of at most 63 characters "
                    "(e.g. orders.example.com); the failover bucket is named after it"
                )
            if not zone_id and not zone_name:
                raise ConfigError(
                    f"orders:domainName = {domain!r} needs the Route 53 hosted zone that holds it: "
                    "set orders:hostedZoneId or orders:hostedZoneName"
                )
            if zone_name and not (domain == zone_name or domain.endswith("." + zone_name)):
                raise ConfigError(f"orders:domainName = {domain!r} is not inside orders:hostedZoneName = {zone_name!r}")
            if zone_id and not re.fullmatch(r"Z[A-Z0-9]{4,31}", zone_id):
                raise ConfigError(
                    f"orders:hostedZoneId = {zone_id!r} is not a Route 53 zone id (e.g. Z0123456789ABCDEFGHIJ)"
                )
        elif zone_id or zone_name:
            raise ConfigError(
                "orders:hostedZoneId/hostedZoneName is set but orders:domainName is empty; set both or neither"
            )
        stage = cfg.require("apiStageName")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", stage):
            raise ConfigError(f"orders:apiStageName = {stage!r}: use letters, digits and '_' only")
        rate = cfg.require_int("apiThrottleRateLimit")
        burst = cfg.require_int("apiThrottleBurstLimit")
        if rate < 1 or burst < 1:
            raise ConfigError(
                f"orders:apiThrottleRateLimit ({rate}) and orders:apiThrottleBurstLimit ({burst}) must be >= 1"
            )
        retention = cfg.require_int("apiAccessLogRetentionDays")
        if retention not in _LOG_RETENTION_DAYS:
            raise ConfigError(
                f"orders:apiAccessLogRetentionDays = {retention}: CloudWatch accepts {list(_LOG_RETENTION_DAYS)}"
            )
        interval = cfg.require_int("healthCheckIntervalSeconds")
        if interval not in (10, 30):
            raise ConfigError(f"orders:healthCheckIntervalSeconds = {interval}: Route 53 supports 10 or 30")
        threshold = cfg.require_int("healthCheckFailureThreshold")
        if not 1 <= threshold <= 10:
            raise ConfigError(f"orders:healthCheckFailureThreshold = {threshold}: Route 53 accepts 1-10")
        return FrontDoorConfig(
            domain_name=domain,
            hosted_zone_id=zone_id,
            hosted_zone_name=zone_name,
            stage_name=stage,
            throttle_rate_limit=rate,
            throttle_burst_limit=burst,
            access_log_retention_days=retention,
            manage_account_log_role=cfg.require_bool("apiManageAccountLogRole"),
            health_check_interval_seconds=interval,
            health_check_failure_threshold=threshold,
        )


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    primary_region: str
    failover_region: str
    messaging: MessagingConfig
    monitoring: MonitoringConfig
    front_door: FrontDoorConfig
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
            front_door=FrontDoorConfig.load(cfg),
            network=NetworkConfig.load(cfg),
        )
