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

from worker import topology

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
    """From worker/topology.py, not from config: each fan-out queue needs a consumer in the runtime."""
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
    spot_game_day: bool = False
    spot_game_day_percent: int = 20

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
            spot_game_day=cfg.require_bool("spotGameDay"),
            spot_game_day_percent=FleetConfig._game_day_percent(cfg.require_int("spotGameDayPercent")),
        )

    @staticmethod
    def _game_day_percent(percent: int) -> int:
        if not 1 <= percent <= 100:
            raise ConfigError(f"orders:spotGameDayPercent = {percent}: must be 1..100")
        return percent


CONSUMER_RUNTIMES = ("lambda", "ecs")
VISIBILITY_PER_TIMEOUT = 6
"""AWS: an SQS queue feeding Lambda needs a visibility timeout of at least 6x the function timeout."""


@dataclass(frozen=True)
class ConsumersConfig:
    """The fan-out consumers: how each runs (Lambda or ECS Fargate Spot) and how Lambda is fed from SQS."""

    runtimes: dict[str, str]
    """consumer name (shipping, analytics) -> "lambda" | "ecs"."""
    timeout_seconds: int
    memory_mb: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    layer_dir: str
    image: str
    ecs_desired_count: int
    ecs_cpu: int
    ecs_memory_mb: int
    log_retention_days: int

    @staticmethod
    def load(cfg: pulumi.Config, fanout_visibility_seconds: int) -> ConsumersConfig:
        runtimes = {
            "shipping": cfg.require("shippingConsumerRuntime"),
            "analytics": cfg.require("analyticsConsumerRuntime"),
        }
        for consumer, runtime in runtimes.items():
            if runtime not in CONSUMER_RUNTIMES:
                raise ConfigError(
                    f"orders:{consumer}ConsumerRuntime = {runtime!r}: expected one of {CONSUMER_RUNTIMES}"
                )
        timeout = cfg.require_int("consumerTimeoutSeconds")
        if not 1 <= timeout <= 900:
            raise ConfigError(f"orders:consumerTimeoutSeconds = {timeout}: Lambda allows 1..900 seconds")
        if fanout_visibility_seconds < VISIBILITY_PER_TIMEOUT * timeout:
            raise ConfigError(
                f"orders:fanoutQueueVisibilitySeconds = {fanout_visibility_seconds} is less than "
                f"{VISIBILITY_PER_TIMEOUT}x orders:consumerTimeoutSeconds ({timeout}); raise it to at least "
                f"{VISIBILITY_PER_TIMEOUT * timeout} or lower the timeout, or batches retried by Lambda are delivered twice"
            )
        memory = cfg.require_int("consumerMemoryMb")
        if not 128 <= memory <= 10240:
            raise ConfigError(f"orders:consumerMemoryMb = {memory}: Lambda allows 128..10240 MB")
        batch = cfg.require_int("consumerBatchSize")
        window = cfg.require_int("consumerBatchingWindowSeconds")
        if not 1 <= batch <= 10000 or not 0 <= window <= 300:
            raise ConfigError(
                f"orders:consumerBatchSize = {batch} must be 1..10000 and orders:consumerBatchingWindowSeconds = "
                f"{window} must be 0..300"
            )
        if batch > 10 and window < 1:
            raise ConfigError(
                f"orders:consumerBatchSize = {batch} > 10 needs orders:consumerBatchingWindowSeconds >= 1"
            )
        concurrency = cfg.require_int("consumerMaxConcurrency")
        if not 2 <= concurrency <= 1000:
            raise ConfigError(f"orders:consumerMaxConcurrency = {concurrency}: SQS event sources allow 2..1000")
        image = cfg.get("consumerImage") or ""
        if "ecs" in runtimes.values() and not image:
            raise ConfigError(
                "orders:consumerImage is required when a consumer runs on ECS (an image built from worker/ "
                "that runs `python -m worker consume`, e.g. in ECR)"
            )
        retention = cfg.require_int("consumerLogRetentionDays")
        if retention not in _LOG_RETENTION_DAYS:
            raise ConfigError(f"orders:consumerLogRetentionDays = {retention}: CloudWatch allows {_LOG_RETENTION_DAYS}")
        return ConsumersConfig(
            runtimes=runtimes,
            timeout_seconds=timeout,
            memory_mb=memory,
            batch_size=batch,
            batching_window_seconds=window,
            max_concurrency=concurrency,
            layer_dir=cfg.require("consumerLayerDir"),
            image=image,
            ecs_desired_count=cfg.require_int("consumerEcsDesiredCount"),
            ecs_cpu=cfg.require_int("consumerEcsCpu"),
            ecs_memory_mb=cfg.require_int("consumerEcsMemoryMb"),
            log_retention_days=retention,
        )


@dataclass(frozen=True)
class DatabaseConfig:
    """RDS PostgreSQL for shipping and inventory; Redshift Serverless for sales facts."""

    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    cpu_alarm_percent: int
    connections_alarm: int
    warehouse_base_capacity: int

    @staticmethod
    def load(cfg: pulumi.Config) -> DatabaseConfig:
        storage = cfg.require_int("dbAllocatedStorageGb")
        if not 20 <= storage <= 16384:
            raise ConfigError(f"orders:dbAllocatedStorageGb = {storage}: gp3 allows 20..16384 GiB")
        backups = cfg.require_int("dbBackupRetentionDays")
        if not 1 <= backups <= 35:
            raise ConfigError(f"orders:dbBackupRetentionDays = {backups}: must be 1..35 (0 would disable backups)")
        rpu = cfg.require_int("warehouseBaseCapacity")
        if rpu < 8 or rpu > 512 or rpu % 8:
            raise ConfigError(
                f"orders:warehouseBaseCapacity = {rpu}: Redshift Serverless takes 8..512 RPUs in steps of 8"
            )
        instance_class = cfg.require("dbInstanceClass")
        if not instance_class.startswith("db."):
            raise ConfigError(f"orders:dbInstanceClass = {instance_class!r} is not an RDS class (e.g. db.t4g.medium)")
        cpu = cfg.require_int("dbCpuAlarmPercent")
        if not 1 <= cpu <= 100:
            raise ConfigError(f"orders:dbCpuAlarmPercent = {cpu}: must be 1..100")
        return DatabaseConfig(
            engine_version=cfg.require("dbEngineVersion"),
            instance_class=instance_class,
            allocated_storage_gb=storage,
            multi_az=cfg.require_bool("dbMultiAz"),
            backup_retention_days=backups,
            deletion_protection=cfg.require_bool("dbDeletionProtection"),
            cpu_alarm_percent=cpu,
            connections_alarm=cfg.require_int("dbConnectionsAlarm"),
            warehouse_base_capacity=rpu,
        )


INTAKE_AUTH_MODES = ("iam", "apiKey", "none")
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_API_KEY_CLIENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WAF_MIN_RATE_LIMIT = 10
"""AWS WAF: a rate-based rule's limit is 10..2,000,000,000 requests per evaluation window (since 2024; 100 before)."""


@dataclass(frozen=True)
class SecurityConfig:
    """Issue 13: flow logs, RDS log exports, the intake's WAF and its authentication."""

    flow_log_retention_days: int
    db_log_retention_days: int
    db_slow_statement_ms: int
    waf_enabled: bool
    waf_rate_limit: int
    intake_auth: str
    """"iam" (SigV4 + resource policy) | "apiKey" (usage plan, one key per client) | "none" (tagged)."""
    intake_client_role_arns: tuple[str, ...]
    intake_api_key_clients: tuple[str, ...]
    intake_api_key_daily_quota: int

    @staticmethod
    def load(cfg: pulumi.Config) -> SecurityConfig:
        retention = {k: cfg.require_int(k) for k in ("flowLogRetentionDays", "dbLogRetentionDays")}
        for key, days in retention.items():
            if days not in _LOG_RETENTION_DAYS:
                raise ConfigError(f"orders:{key} = {days}: CloudWatch accepts {list(_LOG_RETENTION_DAYS)}")
        slow = cfg.require_int("dbSlowStatementMs")
        if not 0 <= slow <= 2147483647:
            raise ConfigError(f"orders:dbSlowStatementMs = {slow}: PostgreSQL accepts 0..2147483647 ms")
        rate = cfg.require_int("wafRateLimit")
        if not WAF_MIN_RATE_LIMIT <= rate <= 2_000_000_000:
            raise ConfigError(
                f"orders:wafRateLimit = {rate}: AWS WAF accepts {WAF_MIN_RATE_LIMIT}..2000000000 requests per 5 minutes"
            )
        auth = cfg.require("intakeAuth")
        if auth not in INTAKE_AUTH_MODES:
            raise ConfigError(f"orders:intakeAuth = {auth!r}: expected one of {INTAKE_AUTH_MODES}")
        roles = tuple(cfg.require_object("intakeClientRoleArns"))
        for arn in roles:
            if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
                raise ConfigError(f"orders:intakeClientRoleArns entry {arn!r} is not an IAM role ARN")
        clients = tuple(cfg.require_object("intakeApiKeyClients"))
        if len(set(clients)) != len(clients) or not all(
            isinstance(c, str) and _API_KEY_CLIENT.match(c) for c in clients
        ):
            raise ConfigError(
                f"orders:intakeApiKeyClients = {list(clients)}: distinct names of letters, digits, '-' and '_'"
            )
        quota = cfg.require_int("intakeApiKeyDailyQuota")
        if quota < 1:
            raise ConfigError(f"orders:intakeApiKeyDailyQuota = {quota}: must be >= 1 request per day")
        if auth == "apiKey" and not clients:
            raise ConfigError("orders:intakeAuth = 'apiKey' needs at least one name in orders:intakeApiKeyClients")
        return SecurityConfig(
            flow_log_retention_days=retention["flowLogRetentionDays"],
            db_log_retention_days=retention["dbLogRetentionDays"],
            db_slow_statement_ms=slow,
            waf_enabled=cfg.require_bool("waf"),
            waf_rate_limit=rate,
            intake_auth=auth,
            intake_client_role_arns=roles,
            intake_api_key_clients=clients,
            intake_api_key_daily_quota=quota,
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
    fleet: FleetConfig
    consumers: ConsumersConfig
    databases: DatabaseConfig
    security: SecurityConfig

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
        return StackConfig(
            project=pulumi.get_project(),
            stack=pulumi.get_stack(),
            primary_region=primary,
            failover_region=failover,
            messaging=MessagingConfig(
                fanout_queues=topology.FANOUT_QUEUES,
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
            fleet=FleetConfig.load(cfg),
            consumers=ConsumersConfig.load(cfg, cfg.require_int("fanoutQueueVisibilitySeconds")),
            databases=DatabaseConfig.load(cfg),
            security=SecurityConfig.load(cfg),
        )
