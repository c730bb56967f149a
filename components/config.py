"""The stack's typed configuration, declared once as pydantic models and handed to the components.

Each field's alias is its Pulumi key (`orders:<alias>`), so a refusal names the key the user set. Defaults live
in `Pulumi.yaml` only (the CLI applies them, and so does the offline harness), so every field is required here
instead of repeating a default. Validation happens here so a bad stack file fails at `pulumi preview`, before
any resource is registered, with a message `Pulumi.<stack>.yaml: orders:<key> = <value>: <why>`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from worker import topology

PREFIX = "orders:"
"""How messages name a key: the project's namespace, as `pulumi config set` spells it."""


class ConfigError(ValueError):
    """A stack setting that cannot work; raised before any resource is registered."""


# --- values as the CLI hands them over (strings), parsed the way pulumi.Config parses them ---------------


def _cli_int(value: object) -> object:
    """`int(text)`, as `Config.require_int`; pydantic's lax parsing would also take '1.0' or a bool."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError("not an integer") from None
    return value


def _cli_bool(value: object) -> object:
    """Only 'true'/'True'/'false'/'False', as `Config.require_bool` (pydantic alone would also take 'yes' or '1')."""
    if isinstance(value, str):
        if value not in ("true", "True", "false", "False"):
            raise ValueError("not a boolean (true or false)")
        return value in ("true", "True")
    return value


def _cli_list(value: object) -> object:
    """An array setting arrives as JSON text, as `Config.require_object` reads it."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("not a JSON array") from None
    return value


def cli_string(value: object) -> str:
    """A stack file's YAML value as the CLI passes it to the program: text, arrays and objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


Int = Annotated[int, Strict(), BeforeValidator(_cli_int)]
Bool = Annotated[bool, Strict(), BeforeValidator(_cli_bool)]
Names = Annotated[tuple[str, ...], BeforeValidator(_cli_list)]

_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


def _log_retention(days: int) -> int:
    if days not in _LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch accepts {list(_LOG_RETENTION_DAYS)}")
    return days


LogRetentionDays = Annotated[Int, AfterValidator(_log_retention)]

_REGION = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-\d$"
)


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError("not an AWS region name (expected e.g. us-east-1)")
    return value


Region = Annotated[str, AfterValidator(_region)]


def key(alias: str, why: str = "", **constraints: Any) -> Any:
    """A field read from `orders:<alias>`; `why` explains its range or choices when a value falls outside them."""
    return Field(alias=alias, description=why or None, **constraints)


class _Section(BaseModel):
    """Immutable, and blind to the other sections' keys: StackConfig hands every section the whole mapping."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def registered_keys(cls) -> dict[str, FieldInfo]:
        """Keys the section reads besides its fields (alias -> field), e.g. one per registered consumer."""
        return {}


class MessagingConfig(_Section):
    order_queue_visibility_seconds: Int = key("orderQueueVisibilitySeconds")
    fanout_queue_visibility_seconds: Int = key("fanoutQueueVisibilitySeconds")
    fifo_high_throughput: Bool = key("fifoHighThroughput")
    content_based_deduplication: Bool = key("contentBasedDeduplication")
    message_retention_days: Int = key("messageRetentionDays")
    table_deletion_protection: Bool = key("tableDeletionProtection")

    @property
    def fanout_queues(self) -> tuple[str, ...]:
        """From worker/topology.py, not from config: each fan-out queue needs a consumer in the runtime."""
        return topology.FANOUT_QUEUES


class MonitoringConfig(_Section):
    alarm_email: str = key("alarmEmail")
    queue_age_seconds: Int = key("alarmQueueAgeSeconds")
    queue_depth: Int = key("alarmQueueDepth")


class NetworkConfig(_Section):
    vpc_cidr: str = key("vpcCidr")
    az_count: Int = key("azCount", "Spot needs at least 2 zones to diversify (max 6)", ge=2, le=6)
    enable_nat: Bool = key("enableNat")

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, cidr: str) -> str:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise ValueError(f"not a CIDR block ({exc})") from exc
        if network.version != 4 or not 16 <= network.prefixlen <= 24:
            raise ValueError("use an IPv4 block between /16 and /24")
        return str(network)


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class FrontDoorConfig(_Section):
    """The intake API and, when a domain is set, its custom domain and the Route 53 failover to the error page."""

    domain_name: str = key("domainName")
    """'' when no domain: the API is reached on its invoke URL and DNS/failover are skipped."""
    hosted_zone_id: str = key(
        "hostedZoneId", "not a Route 53 zone id (e.g. Z0123456789ABCDEFGHIJ)", pattern=r"^(Z[A-Z0-9]{4,31})?$"
    )
    hosted_zone_name: str = key("hostedZoneName")
    stage_name: str = key("apiStageName", "use letters, digits and '_' only", pattern=r"^[A-Za-z0-9_]{1,64}$")
    throttle_rate_limit: Int = key("apiThrottleRateLimit", "must be >= 1", ge=1)
    throttle_burst_limit: Int = key("apiThrottleBurstLimit", "must be >= 1", ge=1)
    access_log_retention_days: LogRetentionDays = key("apiAccessLogRetentionDays")
    manage_account_log_role: Bool = key("apiManageAccountLogRole")
    health_check_interval_seconds: Annotated[Literal[10, 30], BeforeValidator(_cli_int)] = key(
        "healthCheckIntervalSeconds", "Route 53 supports 10 or 30"
    )
    health_check_failure_threshold: Int = key("healthCheckFailureThreshold", "Route 53 accepts 1-10", ge=1, le=10)

    @property
    def has_domain(self) -> bool:
        return bool(self.domain_name)

    @field_validator("domain_name", "hosted_zone_id", "hosted_zone_name", mode="before")
    @classmethod
    def _trim(cls, value: object) -> object:
        """A trailing dot (the fully qualified form) and stray spaces are the same name to Route 53."""
        return value.strip().rstrip(".") if isinstance(value, str) else value

    @field_validator("domain_name")
    @classmethod
    def _dns_name(cls, domain: str) -> str:
        # The error-page bucket is named exactly as the record, so the name must also be a valid bucket name.
        labels = domain.split(".")
        if domain and (len(domain) > 63 or len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels)):
            raise ValueError(
                "use a lower-case DNS name of at most 63 characters (e.g. orders.example.com); "
                "the failover bucket is named after it"
            )
        return domain

    @model_validator(mode="after")
    def _zone_holds_the_domain(self) -> FrontDoorConfig:
        domain, zone_name = self.domain_name, self.hosted_zone_name
        if domain and not self.hosted_zone_id and not zone_name:
            raise ValueError(
                f"{PREFIX}domainName = {domain!r} needs the Route 53 hosted zone that holds it: "
                f"set {PREFIX}hostedZoneId or {PREFIX}hostedZoneName"
            )
        if domain and zone_name and not (domain == zone_name or domain.endswith("." + zone_name)):
            raise ValueError(f"{PREFIX}domainName = {domain!r} is not inside {PREFIX}hostedZoneName = {zone_name!r}")
        if not domain and (self.hosted_zone_id or zone_name):
            raise ValueError(
                f"{PREFIX}hostedZoneId/hostedZoneName is set but {PREFIX}domainName is empty; set both or neither"
            )
        return self


_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")
"""Graviton families carry a `g` after the generation digit: m6g, c7gn, t4g, r8g."""


class FleetConfig(_Section):
    """The Spot worker fleet: instance types, group sizes, scaling target and the drain budget."""

    MIN_INSTANCE_TYPES: ClassVar[int] = 6
    SPOT_NOTICE_SECONDS: ClassVar[int] = 120

    instance_types: Names = key("instanceTypes")
    min_size: Int = key("fleetMinSize")
    desired_capacity: Int = key("fleetDesiredCapacity")
    max_size: Int = key("fleetMaxSize")
    backlog_per_instance: Int = key("backlogPerInstance", "must be >= 1 message per instance", ge=1)
    MIN_DRAIN_SECONDS: ClassVar[int] = topology.LONG_POLL_SECONDS + 10
    """A drain outlasts the worker's long poll (what a receive under way returns is released by the drain)."""

    drain_seconds: Int = key(
        "workerDrainSeconds",
        f"must be {MIN_DRAIN_SECONDS}..{SPOT_NOTICE_SECONDS - 1}: longer than the worker's "
        f"{topology.LONG_POLL_SECONDS} s long poll, inside the 2-minute Spot interruption notice",
        ge=MIN_DRAIN_SECONDS,
        lt=SPOT_NOTICE_SECONDS,
    )
    lifecycle_hook_seconds: Int = key(
        "lifecycleHookTimeoutSeconds", "Auto Scaling holds a terminating instance at most 7200 s", le=7200
    )
    root_volume_gb: Int = key("fleetRootVolumeGb", "the AMI needs >= 8 GiB (max 1024 here)", ge=8, le=1024)
    cpu_alarm_percent: Int = key("fleetCpuAlarmPercent", "must be 1..100", ge=1, le=100)
    wheelhouse_dir: str = key("workerWheelhouse")
    spot_game_day: Bool = key("spotGameDay")
    spot_game_day_percent: Int = key("spotGameDayPercent", "must be 1..100", ge=1, le=100)

    @field_validator("instance_types")
    @classmethod
    def _many_x86_pools(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        if len(types) < cls.MIN_INSTANCE_TYPES or len(set(types)) != len(types):
            raise ValueError(
                f"must list at least {cls.MIN_INSTANCE_TYPES} distinct instance types "
                "(Spot capacity comes from many pools)"
            )
        for t in types:
            if not _INSTANCE_TYPE.match(t):
                raise ValueError(f"entry {t!r} is not an instance type name (e.g. m6i.large)")
            if _GRAVITON.match(t):
                raise ValueError(f"entry {t!r} is Graviton (arm64); the launch template's AMI is x86_64")
        return types

    @model_validator(mode="after")
    def _sizes_and_drain(self) -> FleetConfig:
        lo, want, hi, drain = self.min_size, self.desired_capacity, self.max_size, self.drain_seconds
        if not 1 <= lo <= want <= hi:
            raise ValueError(
                f"{PREFIX}fleetMinSize ({lo}) <= {PREFIX}fleetDesiredCapacity ({want}) <= {PREFIX}fleetMaxSize ({hi}) "
                "must hold, with fleetMinSize >= 1 (the backlog-per-instance metric divides by in-service instances)"
            )
        if self.lifecycle_hook_seconds < drain + 30:
            raise ValueError(
                f"{PREFIX}lifecycleHookTimeoutSeconds = {self.lifecycle_hook_seconds}: must be >= workerDrainSeconds "
                f"+ 30 ({drain + 30}) so the drain finishes before Auto Scaling gives up waiting, and <= 7200"
            )
        return self


ConsumerRuntime = Literal["lambda", "ecs"]
CONSUMER_RUNTIMES: tuple[str, ...] = get_args(ConsumerRuntime)
VISIBILITY_PER_TIMEOUT = 6
"""AWS: an SQS queue feeding Lambda needs a visibility timeout of at least 6x the function timeout."""


class ConsumersConfig(_Section):
    """The fan-out consumers: how each runs (Lambda or ECS Fargate Spot) and how Lambda is fed from SQS.

    How each consumer runs is its own key, named by its registry entry (`topology.FanoutConsumer.runtime_key`,
    e.g. orders:shippingConsumerRuntime): not a field written here but one key per registered consumer
    (`registered_keys`), held as the section's extra values and read through `runtimes`."""

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, ConsumerRuntime] = Field(init=False)

    timeout_seconds: Int = key("consumerTimeoutSeconds", "Lambda allows 1..900 seconds", ge=1, le=900)
    memory_mb: Int = key("consumerMemoryMb", "Lambda allows 128..10240 MB", ge=128, le=10240)
    batch_size: Int = key("consumerBatchSize", "must be 1..10000", ge=1, le=10000)
    batching_window_seconds: Int = key("consumerBatchingWindowSeconds", "must be 0..300", ge=0, le=300)
    max_concurrency: Int = key("consumerMaxConcurrency", "SQS event sources allow 2..1000", ge=2, le=1000)
    layer_dir: str = key("consumerLayerDir")
    image: str = key("consumerImage")
    ecs_desired_count: Int = key("consumerEcsDesiredCount")
    ecs_cpu: Int = key("consumerEcsCpu")
    ecs_memory_mb: Int = key("consumerEcsMemoryMb")
    log_retention_days: LogRetentionDays = key("consumerLogRetentionDays")

    @classmethod
    def registered_keys(cls) -> dict[str, FieldInfo]:
        why = f"expected one of {CONSUMER_RUNTIMES}"
        return {
            c.runtime_key: FieldInfo(annotation=ConsumerRuntime, alias=c.runtime_key, description=why)
            for c in topology.fanout_consumers()
        }

    @model_validator(mode="before")
    @classmethod
    def _own_keys(cls, data: Any) -> Any:
        """The fields' keys and each consumer's runtime key; the other sections' keys are not extra values."""
        if not isinstance(data, dict):
            return data
        runtime_keys = cls.registered_keys()
        missing = [k for k in runtime_keys if k not in data]
        if missing:
            raise ValueError(f"{PREFIX}{missing[0]} is not set, and Pulumi.yaml declares no default for it")
        fields = {f.alias for f in cls.model_fields.values()}
        return {k: v for k, v in data.items() if k in fields or k in runtime_keys}

    @property
    def runtimes(self) -> dict[str, str]:
        """consumer name (shipping, analytics, ...: topology.fanout_consumers()) -> "lambda" | "ecs"."""
        extra = self.__pydantic_extra__ or {}
        return {c.name: extra[c.runtime_key] for c in topology.fanout_consumers()}

    @model_validator(mode="after")
    def _batching_and_image(self) -> ConsumersConfig:
        if self.batch_size > 10 and self.batching_window_seconds < 1:
            raise ValueError(
                f"{PREFIX}consumerBatchSize = {self.batch_size} > 10 needs {PREFIX}consumerBatchingWindowSeconds >= 1"
            )
        if "ecs" in self.runtimes.values() and not self.image:
            raise ValueError(
                f"{PREFIX}consumerImage is required when a consumer runs on ECS (an image built from worker/ "
                "that runs `python -m worker consume`, e.g. in ECR)"
            )
        return self


class DatabaseConfig(_Section):
    """RDS PostgreSQL for shipping and inventory; Redshift Serverless for sales facts."""

    engine_version: str = key("dbEngineVersion")
    instance_class: str = key("dbInstanceClass", "not an RDS class (e.g. db.t4g.medium)", pattern=r"^db\.")
    allocated_storage_gb: Int = key("dbAllocatedStorageGb", "gp3 allows 20..16384 GiB", ge=20, le=16384)
    multi_az: Bool = key("dbMultiAz")
    backup_retention_days: Int = key("dbBackupRetentionDays", "must be 1..35 (0 would disable backups)", ge=1, le=35)
    deletion_protection: Bool = key("dbDeletionProtection")
    cpu_alarm_percent: Int = key("dbCpuAlarmPercent", "must be 1..100", ge=1, le=100)
    connections_alarm: Int = key("dbConnectionsAlarm")
    warehouse_base_capacity: Int = key(
        "warehouseBaseCapacity", "Redshift Serverless takes 8..512 RPUs in steps of 8", ge=8, le=512, multiple_of=8
    )


IntakeAuth = Literal["iam", "apiKey", "none"]
INTAKE_AUTH_MODES: tuple[str, ...] = get_args(IntakeAuth)
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_API_KEY_CLIENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WAF_MIN_RATE_LIMIT = 10
"""AWS WAF: a rate-based rule's limit is 10..2,000,000,000 requests per evaluation window (since 2024; 100 before)."""


class SecurityConfig(_Section):
    """Flow logs, RDS log exports, the intake's WAF and its authentication (docs/security.md)."""

    flow_log_retention_days: LogRetentionDays = key("flowLogRetentionDays")
    db_log_retention_days: LogRetentionDays = key("dbLogRetentionDays")
    db_slow_statement_ms: Int = key("dbSlowStatementMs", "PostgreSQL accepts 0..2147483647 ms", ge=0, le=2147483647)
    waf_enabled: Bool = key("waf")
    waf_rate_limit: Int = key(
        "wafRateLimit",
        f"AWS WAF accepts {WAF_MIN_RATE_LIMIT}..2000000000 requests per 5 minutes",
        ge=WAF_MIN_RATE_LIMIT,
        le=2_000_000_000,
    )
    intake_auth: IntakeAuth = key("intakeAuth", f"expected one of {INTAKE_AUTH_MODES}")
    """"iam" (SigV4 + resource policy) | "apiKey" (usage plan, one key per client) | "none" (tagged)."""
    intake_client_role_arns: Names = key("intakeClientRoleArns")
    intake_api_key_clients: Names = key("intakeApiKeyClients")
    intake_api_key_daily_quota: Int = key("intakeApiKeyDailyQuota", "must be >= 1 request per day", ge=1)

    @field_validator("intake_client_role_arns")
    @classmethod
    def _role_arns(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        for arn in roles:
            if not _ROLE_ARN.match(arn):
                raise ValueError(f"entry {arn!r} is not an IAM role ARN")
        return roles

    @field_validator("intake_api_key_clients")
    @classmethod
    def _client_names(cls, clients: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(clients)) != len(clients) or not all(_API_KEY_CLIENT.match(c) for c in clients):
            raise ValueError("distinct names of letters, digits, '-' and '_'")
        return clients

    @model_validator(mode="after")
    def _api_key_clients(self) -> SecurityConfig:
        if self.intake_auth == "apiKey" and not self.intake_api_key_clients:
            raise ValueError(f"{PREFIX}intakeAuth = 'apiKey' needs at least one name in {PREFIX}intakeApiKeyClients")
        return self


class StackConfig(_Section):
    """The whole stack: its regions, one section per tier, and the rules that span sections."""

    project: str
    stack: str
    primary_region: Region = key("primaryRegion")
    failover_region: Region = key("failoverRegion")
    messaging: MessagingConfig
    monitoring: MonitoringConfig
    front_door: FrontDoorConfig
    network: NetworkConfig
    fleet: FleetConfig
    consumers: ConsumersConfig
    databases: DatabaseConfig
    security: SecurityConfig

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        """The keys are flat in the stack file; each section picks its own from the whole mapping."""
        if not isinstance(data, dict):
            return data
        return {**data, **{name: data for name in _sections()}}

    @model_validator(mode="after")
    def _across_tiers(self) -> StackConfig:
        if self.primary_region == self.failover_region:
            raise ValueError(
                f"{PREFIX}failoverRegion must differ from {PREFIX}primaryRegion (both are {self.primary_region}); "
                "a failover page in the failing region would go down with it"
            )
        visibility, timeout = self.messaging.fanout_queue_visibility_seconds, self.consumers.timeout_seconds
        if visibility < VISIBILITY_PER_TIMEOUT * timeout:
            raise ValueError(
                f"{PREFIX}fanoutQueueVisibilitySeconds = {visibility} is less than "
                f"{VISIBILITY_PER_TIMEOUT}x {PREFIX}consumerTimeoutSeconds ({timeout}); raise it to at least "
                f"{VISIBILITY_PER_TIMEOUT * timeout} or lower the timeout, or batches retried by Lambda are delivered twice"
            )
        return self

    @staticmethod
    def load(cfg: pulumi.Config | None = None) -> StackConfig:
        """Read every declared key (and only those) from the stack's config, as `pulumi preview` hands it over."""
        cfg = cfg or pulumi.Config()
        values = {k: v for k in config_keys() if (v := cfg.get(k)) is not None}
        stack = pulumi.get_stack()
        return _validate(values, project=pulumi.get_project(), stack=stack, source=f"Pulumi.{stack}.yaml")

    @staticmethod
    def from_settings(
        settings: Mapping[str, object], *, stack: str, project: str = "orders", source: str = ""
    ) -> StackConfig:
        """Validate `<project>:<key>` settings (a stack file's `config:`, with Pulumi.yaml defaults under it).

        Keys of other namespaces (`aws:region`) are not ours; an undeclared key of ours is refused by name."""
        source = source or f"Pulumi.{stack}.yaml"
        ours = {
            k.removeprefix(f"{project}:"): v for k, v in settings.items() if ":" not in k or k.startswith(f"{project}:")
        }
        unknown = [k for k in ours if k not in config_keys()]
        if unknown:
            raise ConfigError("\n".join(f"{source}: {_unknown(k)}" for k in unknown))
        values = {k: cli_string(v) for k, v in ours.items()}
        return _validate(values, project=project, stack=stack, source=source)


# --- the stack files, read as the CLI reads them (the one loader: offline/graph.py and ops/stack.py use it) ---


def project_defaults(project_file: Path, project: str | None = None) -> dict[str, str]:
    """The `config:` defaults a `Pulumi.yaml` declares, keyed `<project>:<key>` and as text, as the CLI passes
    them to the program; `project` is the namespace of the project's own keys (default: the file's `name`)."""
    return _read_project(project_file, project)[1]


def _read_project(project_file: Path, project: str | None = None) -> tuple[str, dict[str, str]]:
    """A `Pulumi.yaml`'s project name (or `project`) and its `config:` defaults (`project_defaults`)."""
    import yaml  # the program itself never reads files: the CLI hands it the config

    declared = yaml.safe_load(project_file.read_text())
    name = project or declared["name"]
    defaults = {
        (k if ":" in k else f"{name}:{k}"): cli_string(spec["default"])
        for k, spec in declared["config"].items()
        if isinstance(spec, dict) and "default" in spec
    }
    return name, defaults


def stack_settings(stack_file: Path) -> dict[str, str]:
    """A `Pulumi.<stack>.yaml`'s `config:` settings, as text, exactly as the CLI hands them to the program."""
    import yaml

    data = yaml.safe_load(stack_file.read_text()) or {}
    return {k: cli_string(v) for k, v in (data.get("config") or {}).items()}


def load_stack_file(path: Path, overrides: Mapping[str, str] | None = None) -> StackConfig:
    """A stack file's `config:` validated over the defaults of the `Pulumi.yaml` beside it, as `pulumi preview`
    would (without the CLI); a typo'd or undeclared `orders:` key is refused naming the key and the file.

    `overrides` (`<project>:<key>` -> text, as `pulumi config set` stores it) go over the stack file: a what-if."""
    name, defaults = _read_project(path.parent / "Pulumi.yaml")
    settings = {**defaults, **stack_settings(path), **(overrides or {})}
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return StackConfig.from_settings(settings, stack=stack, project=name, source=path.name)


# --- the keys, and pydantic's errors in the words of the stack file ---------------------------------------


@dataclass(frozen=True)
class ConfigKey:
    """One declared key: where its value lands in StackConfig (section, attribute) and its pydantic field."""

    path: tuple[str, ...]
    field: FieldInfo

    @property
    def pulumi_type(self) -> str:
        """The `type:` Pulumi.yaml must declare for this key."""
        kind = self.field.annotation
        choices = get_args(kind) if get_origin(kind) is Literal else ()
        if kind is bool:
            return "boolean"
        if kind is int or (choices and all(isinstance(c, int) for c in choices)):
            return "integer"
        if kind is str or (choices and all(isinstance(c, str) for c in choices)):
            return "string"
        if get_origin(kind) is tuple:
            return "array"
        raise TypeError(f"no Pulumi type for {kind!r}")


def _is_section(kind: object) -> bool:
    return isinstance(kind, type) and issubclass(kind, _Section)


@cache
def _sections() -> tuple[str, ...]:
    """StackConfig's section fields (messaging, network, ...), each a model of its own keys."""
    return tuple(n for n, f in StackConfig.model_fields.items() if _is_section(f.annotation))


def config_keys() -> dict[str, ConfigKey]:
    """Every `orders:` key the model reads (its aliases), in declaration order."""
    return _config_keys(topology.fanout_consumers())


@cache
def _config_keys(consumers: tuple[topology.FanoutConsumer, ...]) -> dict[str, ConfigKey]:
    """`config_keys` while `consumers` are the registered fan-out consumers (each adds its runtime key)."""
    keys: dict[str, ConfigKey] = {}
    for name, field in StackConfig.model_fields.items():
        if _is_section(field.annotation):
            section: type[_Section] = field.annotation  # type: ignore[assignment]
            keys |= {alias: ConfigKey((name, alias), f) for alias, f in section.registered_keys().items()}
            keys |= {f.alias: ConfigKey((name, attr), f) for attr, f in section.model_fields.items() if f.alias}
        elif field.alias:
            keys[field.alias] = ConfigKey((name,), field)
    return keys


def _unknown(key_: str) -> str:
    close = difflib.get_close_matches(key_, config_keys(), n=1)
    hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
    return f"{PREFIX}{key_} is not a setting: Pulumi.yaml declares no such key{hint}"


_CONSTRAINTS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "multiple_of",
    "literal_error",
    "string_pattern_mismatch",
}
"""Errors a field's `why` explains better than pydantic does; type errors keep pydantic's own words."""


def _validate(values: Mapping[str, str], *, project: str, stack: str, source: str) -> StackConfig:
    try:
        return StackConfig.model_validate({**values, "project": project, "stack": stack})
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{source}: {_explain(e)}" for e in exc.errors())) from None


def _explain(error: Any) -> str:
    """One pydantic error as `orders:<key> = <value>: <why>`; a cross-field rule's message names its keys itself."""
    reason = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    named = [p for p in error["loc"] if isinstance(p, str) and p in config_keys()]
    if not named:
        return reason
    spec = config_keys()[named[-1]]
    where = PREFIX + named[-1] + "".join(f"[{p}]" for p in error["loc"] if isinstance(p, int))
    if error["type"] == "missing":
        return f"{where} is not set, and Pulumi.yaml declares no default for it"
    if error["type"] in _CONSTRAINTS and spec.field.description:
        reason = spec.field.description
    value = error["input"]
    shown = repr(value) if spec.pulumi_type == "string" else value
    return f"{where} = {shown}: {reason}"
