"""Config is declared once: Pulumi.yaml declares every `orders:*` key, the model (components/config.py) reads
exactly those keys with the same types, docs/configuration.md documents exactly those, and every stack file
passes the model. Every value the model refuses is tested here, on the model, without running the program;
one end-to-end test proves a refusal stops `run_program` before any resource is registered."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.config import ConfigError, StackConfig, config_keys, load_stack_file
from offline.graph import project_defaults, run_program
from offline.mocks import AwsMocks

ROOT = Path(__file__).resolve().parent.parent
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))


def declared() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def documented() -> dict[str, str]:
    """docs/configuration.md's table: key -> its type column."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    return dict(re.findall(r"^\| `orders:([A-Za-z0-9]+)` \| ([a-z]+) \|", text, re.MULTILINE))


def test_pulumi_yaml_declares_every_key_with_a_type_and_a_description() -> None:
    for key, spec in declared().items():
        assert {"type", "description"} <= set(spec), f"orders:{key} in Pulumi.yaml lacks a type or a description"


def test_the_model_reads_exactly_the_declared_keys_with_their_types() -> None:
    model = {key: spec.pulumi_type for key, spec in config_keys().items()}
    assert set(model) == set(declared()), "components/config.py and Pulumi.yaml disagree on the keys"
    assert model == {key: spec["type"] for key, spec in declared().items()}, "and on their types"


def test_the_docs_table_lists_exactly_the_declared_keys_with_their_types() -> None:
    missing, extra = set(declared()) - set(documented()), set(documented()) - set(declared())
    assert not missing and not extra, f"docs/configuration.md: missing {sorted(missing)}, not declared {sorted(extra)}"
    assert documented() == {key: spec["type"] for key, spec in declared().items()}


def test_the_fanout_queue_list_is_no_longer_config() -> None:
    """topology.FANOUT_QUEUES owns it: a queue without a consumer in the runtime would fill its DLQ."""
    assert "fanoutQueues" not in declared() and "fanoutQueues" not in config_keys()


# --- stack files -------------------------------------------------------------------------------------------


def _as_model_holds_it(cfg: StackConfig, key: str) -> Any:
    value = cfg
    for attr in config_keys()[key].path:
        value = getattr(value, attr)
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_passes_the_model_with_its_own_values(stack_file: Path) -> None:
    cfg = load_stack_file(stack_file)
    assert cfg.stack == stack_file.name[len("Pulumi.") : -len(".yaml")] and cfg.project == "orders"
    settings = yaml.safe_load(stack_file.read_text())["config"]
    assert settings, f"{stack_file.name} sets nothing"
    for full_key, value in settings.items():
        assert _as_model_holds_it(cfg, full_key.removeprefix("orders:")) == value, full_key


def test_a_stack_file_with_a_typo_is_refused_naming_the_key_and_the_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    good = {"aws:region": "eu-west-1", "orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}
    (tmp_path / "Pulumi.good.yaml").write_text(yaml.safe_dump({"config": good}))
    assert load_stack_file(tmp_path / "Pulumi.good.yaml").primary_region == "eu-west-1"  # other namespaces pass
    (tmp_path / "Pulumi.typo.yaml").write_text(yaml.safe_dump({"config": {**good, "orders:fleetMaxSzie": 50}}))
    with pytest.raises(ConfigError) as refused:
        load_stack_file(tmp_path / "Pulumi.typo.yaml")
    assert str(refused.value) == (
        "Pulumi.typo.yaml: orders:fleetMaxSzie is not a setting: Pulumi.yaml declares no such key "
        "(did you mean orders:fleetMaxSize?)"
    )


# --- every refusal, on the model ---------------------------------------------------------------------------

EU = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}
GAME_DAY = {"orders:spotGameDay": "true"}
ZONE_ID = "Z0123456789ABCDEFGHIJ"
SIX = ["m6i.large", "m6a.large", "c6i.large", "c6a.large", "m5.large", "m5a.large"]


def types(*names: str) -> str:
    return "[" + ", ".join(f'"{n}"' for n in names) + "]"


BAD = [
    # key, bad value, expected fragment of the message, other settings of the case
    ("primaryRegion", "mars-north-1", "orders:primaryRegion = 'mars-north-1': not an AWS region", {}),
    ("failoverRegion", "useast2", "not an AWS region", {}),
    ("failoverRegion", "us-east-1", "orders:failoverRegion must differ from orders:primaryRegion", {}),
    ("failoverRegion", "eu-west-1", "must differ", EU),
    ("vpcCidr", "10.0.0.0/8", "orders:vpcCidr = '10.0.0.0/8': use an IPv4 block between /16 and /24", {}),
    ("vpcCidr", "10.0.0.0/25", "between /16 and /24", EU),
    ("vpcCidr", "fd00::/48", "use an IPv4 block", {}),
    ("vpcCidr", "nope", "orders:vpcCidr = 'nope': not a CIDR block", EU),
    ("azCount", "1", "orders:azCount = 1: Spot needs at least 2 zones to diversify (max 6)", {}),
    ("azCount", "7", "orders:azCount = 7", EU),
    ("azCount", "three", "orders:azCount = three: not an integer", {}),
    ("azCount", "2.0", "not an integer", {}),
    ("enableNat", "yes", "orders:enableNat = yes: not a boolean (true or false)", {}),
    ("instanceTypes", types(*SIX[:5]), "at least 6 distinct instance types", EU),
    ("instanceTypes", types(*SIX[:5], "m5.large"), "at least 6 distinct", {}),
    ("instanceTypes", types(*SIX[:5], "m7g.large"), "entry 'm7g.large' is Graviton", EU),
    ("instanceTypes", types(*SIX[:5], "M6i.large"), "entry 'M6i.large' is not an instance type name", {}),
    ("instanceTypes", "m5.large", "orders:instanceTypes = m5.large: not a JSON array", {}),
    ("instanceTypes", '["m5.large", 5]', "orders:instanceTypes[1] = 5", {}),
    ("fleetMinSize", "5", "orders:fleetMinSize (5) <= orders:fleetDesiredCapacity (2)", EU),
    ("fleetMinSize", "0", "fleetMinSize >= 1", EU),
    ("fleetDesiredCapacity", "21", "orders:fleetMaxSize (20) must hold", {}),
    ("backlogPerInstance", "0", "orders:backlogPerInstance = 0: must be >= 1 message per instance", {}),
    ("workerDrainSeconds", "300", "orders:workerDrainSeconds = 300: must be 30..119", {}),
    ("workerDrainSeconds", "120", "orders:workerDrainSeconds", EU),
    ("workerDrainSeconds", "29", "longer than the worker's 20 s long poll", {}),
    ("lifecycleHookTimeoutSeconds", "100", "orders:lifecycleHookTimeoutSeconds = 100: must be >= workerDrain", EU),
    ("lifecycleHookTimeoutSeconds", "7201", "orders:lifecycleHookTimeoutSeconds = 7201", {}),
    ("fleetRootVolumeGb", "4", "orders:fleetRootVolumeGb = 4: the AMI needs >= 8 GiB", {}),
    ("fleetCpuAlarmPercent", "101", "orders:fleetCpuAlarmPercent = 101: must be 1..100", {}),
    ("spotGameDayPercent", "0", "orders:spotGameDayPercent = 0: must be 1..100", GAME_DAY),
    ("spotGameDayPercent", "101", "orders:spotGameDayPercent", GAME_DAY),
    ("shippingConsumerRuntime", "ecs", "orders:consumerImage is required when a consumer runs on ECS", EU),
    ("analyticsConsumerRuntime", "k8s", "orders:analyticsConsumerRuntime = 'k8s': expected one of", EU),
    ("consumerTimeoutSeconds", "901", "orders:consumerTimeoutSeconds = 901: Lambda allows 1..900", {}),
    ("consumerTimeoutSeconds", "31", "orders:fanoutQueueVisibilitySeconds = 180 is less than 6x", EU),
    ("fanoutQueueVisibilitySeconds", "120", "at least 180", EU),
    ("consumerMemoryMb", "64", "orders:consumerMemoryMb = 64: Lambda allows 128..10240 MB", {}),
    ("consumerBatchSize", "10001", "orders:consumerBatchSize = 10001: must be 1..10000", {}),
    ("consumerBatchSize", "100", "consumerBatchingWindow", {**EU, "orders:consumerBatchingWindowSeconds": "0"}),
    ("consumerBatchingWindowSeconds", "301", "orders:consumerBatchingWindowSeconds = 301: must be 0..300", {}),
    ("consumerMaxConcurrency", "1", "orders:consumerMaxConcurrency = 1: SQS event sources allow 2..1000", EU),
    ("consumerLogRetentionDays", "2", "orders:consumerLogRetentionDays = 2: CloudWatch accepts", {}),
    ("dbAllocatedStorageGb", "10", "orders:dbAllocatedStorageGb = 10: gp3 allows 20..16384 GiB", {}),
    ("dbBackupRetentionDays", "0", "orders:dbBackupRetentionDays = 0: must be 1..35 (0 would disable", EU),
    ("dbInstanceClass", "m5.large", "orders:dbInstanceClass = 'm5.large': not an RDS class", {}),
    ("dbCpuAlarmPercent", "0", "orders:dbCpuAlarmPercent = 0: must be 1..100", {}),
    ("warehouseBaseCapacity", "12", "orders:warehouseBaseCapacity = 12: Redshift Serverless takes 8..512", EU),
    ("warehouseBaseCapacity", "520", "orders:warehouseBaseCapacity", {}),
    ("domainName", "orders.example.com", "needs the Route 53 hosted zone that holds it", {}),
    ("domainName", "Orders.Example.com", "use a lower-case DNS name", {"orders:hostedZoneId": ZONE_ID}),
    ("domainName", "a" * 60 + ".example.com", "at most 63", {"orders:hostedZoneId": ZONE_ID}),
    ("domainName", "orders.example.com", "is not inside", {"orders:hostedZoneName": "example.org"}),
    ("hostedZoneId", ZONE_ID, "orders:hostedZoneId/hostedZoneName is set but orders:domainName is empty", {}),
    ("hostedZoneId", "example.com", "not a Route 53 zone id", {"orders:domainName": "orders.example.com"}),
    ("apiStageName", "v-1", "orders:apiStageName = 'v-1': use letters, digits and '_' only", {}),
    ("apiThrottleRateLimit", "0", "orders:apiThrottleRateLimit = 0: must be >= 1", {}),
    ("apiThrottleBurstLimit", "0", "orders:apiThrottleBurstLimit = 0: must be >= 1", {}),
    ("apiAccessLogRetentionDays", "2", "orders:apiAccessLogRetentionDays = 2: CloudWatch accepts [1, 3, 5", {}),
    ("apiAccessLogRetentionDays", "10", "apiAccessLogRetentionDays", {}),
    ("healthCheckIntervalSeconds", "20", "orders:healthCheckIntervalSeconds = 20: Route 53 supports 10 or 30", {}),
    ("healthCheckFailureThreshold", "11", "orders:healthCheckFailureThreshold = 11: Route 53 accepts 1-10", {}),
    ("flowLogRetentionDays", "10", "orders:flowLogRetentionDays = 10: CloudWatch accepts", {}),
    ("dbLogRetentionDays", "4", "orders:dbLogRetentionDays = 4", {}),
    ("dbSlowStatementMs", "-1", "orders:dbSlowStatementMs = -1: PostgreSQL accepts 0..2147483647 ms", {}),
    ("wafRateLimit", "9", "orders:wafRateLimit = 9: AWS WAF accepts 10..2000000000", {}),
    ("intakeAuth", "cognito", "orders:intakeAuth = 'cognito': expected one of ('iam', 'apiKey', 'none')", {}),
    ("intakeAuth", "apiKey", "orders:intakeAuth = 'apiKey' needs at least one name in orders:intakeApiKeyClients", {}),
    ("intakeClientRoleArns", '["storefront"]', 'orders:intakeClientRoleArns = ["storefront"]: entry', {}),
    ("intakeApiKeyClients", '["a", "a"]', 'orders:intakeApiKeyClients = ["a", "a"]: distinct names', {}),
    ("intakeApiKeyClients", '["a b"]', "distinct names of letters, digits", {}),
    ("intakeApiKeyDailyQuota", "0", "orders:intakeApiKeyDailyQuota = 0: must be >= 1 request per day", {}),
]


def refusal(settings: dict[str, str]) -> str:
    """The ConfigError message for Pulumi.yaml defaults overlaid with `settings`, as the CLI hands them over."""
    with pytest.raises(ConfigError) as refused:
        StackConfig.from_settings({**project_defaults(), **settings}, stack="test")
    return str(refused.value)


@pytest.mark.parametrize(("key", "value", "needle", "context"), BAD, ids=[f"{k}={v[:24]}" for k, v, *_ in BAD])
def test_a_bad_value_is_refused_naming_the_key_and_the_stack_file(
    key: str, value: str, needle: str, context: dict[str, str]
) -> None:
    message = refusal({**context, f"orders:{key}": value})
    assert message.startswith("Pulumi.test.yaml: orders:") and "\n" not in message, message
    assert needle in message, message


def test_every_refusal_is_reported_at_once_one_line_each() -> None:
    message = refusal({"orders:azCount": "1", "orders:wafRateLimit": "9"})
    assert message.splitlines() == [
        "Pulumi.test.yaml: orders:azCount = 1: Spot needs at least 2 zones to diversify (max 6)",
        "Pulumi.test.yaml: orders:wafRateLimit = 9: AWS WAF accepts 10..2000000000 requests per 5 minutes",
    ]


def test_an_undeclared_key_or_a_missing_default_is_named() -> None:
    assert refusal({"orders:azCounts": "3"}).endswith("no such key (did you mean orders:azCount?)")
    without = {k: v for k, v in project_defaults().items() if k != "orders:azCount"}
    with pytest.raises(ConfigError, match=re.escape("Pulumi.test.yaml: orders:azCount is not set")):
        StackConfig.from_settings(without, stack="test")


def test_values_are_parsed_as_the_cli_hands_them_over() -> None:
    cfg = StackConfig.from_settings(
        {
            **project_defaults(),
            "orders:vpcCidr": "10.40.0.0/20",
            "orders:waf": "False",
            "orders:domainName": " orders.example.com. ",
            "orders:hostedZoneName": "example.com.",
            "orders:shippingConsumerRuntime": "ecs",
            "orders:consumerImage": "registry.example.com/orders-consumer:1",
            "orders:intakeAuth": "apiKey",
            "orders:intakeApiKeyClients": '["storefront", "partner-1"]',
        },
        stack="test",
    )
    assert (cfg.network.vpc_cidr, cfg.network.az_count, cfg.security.waf_enabled) == ("10.40.0.0/20", 3, False)
    assert (cfg.front_door.domain_name, cfg.front_door.hosted_zone_name) == ("orders.example.com", "example.com")
    assert cfg.front_door.has_domain and cfg.consumers.runtimes == {"shipping": "ecs", "analytics": "lambda"}
    assert cfg.security.intake_api_key_clients == ("storefront", "partner-1")
    assert cfg.messaging.fanout_queues == ("shipping", "analytics") and cfg.fleet.instance_types[0] == "m5.large"


# --- end to end: the program stops before registering anything -------------------------------------------


class Recording(AwsMocks):
    registered: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.registered.append(args.typ)
        return super().new_resource(args)


def test_a_bad_value_in_a_stack_stops_run_program_before_any_resource() -> None:
    Recording.registered = []
    run_program(EU, stack="test", preview=True, mocks=Recording)
    assert Recording.registered, "the recorder sees a good stack's resources"
    Recording.registered = []
    with pytest.raises(ConfigError, match=re.escape("Pulumi.test.yaml: orders:azCount = 1: Spot needs")):
        run_program({**EU, "orders:azCount": "1"}, stack="test", preview=True, mocks=Recording)
    assert Recording.registered == []
