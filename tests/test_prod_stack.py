"""The production stack (Pulumi.prod.yaml) under the mock runtime, and a third stack in other regions.

- The prod graph, as `up` and as `preview`, passes the policy pack configured with policy-config.prod.json
  (every rule mandatory) over the pack's gRPC protocol, as `pulumi preview --policy-pack policy
  --policy-pack-config policy-config.prod.json` runs it; and the stricter config bites where dev's only warns.
- Every setting of Pulumi.prod.yaml is found in the graph (a setting without a check fails the test).
- A stack in eu-central-1 with its failover in eu-west-1 (config given here): every provider, every ARN
  and every region-bearing value follows the stack's regions; the one other region is us-east-1, where
  only the health-check alarm and its twin alarm topic live (Route 53 reports there only,
  components/health_alarm.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from offline.graph import Graph, Resource, run_program, stack_config
from offline.policy_client import Diagnostic, PolicyPackProcess, mandatory

ROOT = Path(__file__).resolve().parent.parent
PROD = stack_config("prod")
PROD_PACK_CONFIG = json.loads((ROOT / "policy-config.prod.json").read_text())
DEV_PACK_CONFIG = json.loads((ROOT / "policy-config.dev.json").read_text())


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(scope="module")
def prod(preview: bool) -> Graph:
    return run_program(PROD, stack="prod", preview=preview)


def analyze(graph: Graph, pack_config: dict[str, Any], *, stack: str = "prod") -> list[Diagnostic]:
    with PolicyPackProcess(stack=stack, preview=graph.preview, config=PROD) as pack:
        pack.configure_stack()
        pack.configure(pack_config)
        return pack.analyze_graph(graph)


# --- the stricter pack config --------------------------------------------------------------------------


def test_the_prod_pack_config_raises_every_rule_to_mandatory_and_tightens_thresholds() -> None:
    assert set(PROD_PACK_CONFIG) == set(DEV_PACK_CONFIG), "both name every policy"
    assert {name for name, c in PROD_PACK_CONFIG.items() if c["enforcementLevel"] != "mandatory"} == set()
    for name, dev in DEV_PACK_CONFIG.items():
        prod = PROD_PACK_CONFIG[name]
        assert set(prod) == set(dev), name
        assert prod["exemptResources"] == dev["exemptResources"], "prod exempts nothing dev does not"
    assert PROD_PACK_CONFIG["asg-multi-az"]["minSubnets"] == 3 > DEV_PACK_CONFIG["asg-multi-az"]["minSubnets"]
    assert PROD_PACK_CONFIG["asg-instance-type-diversity"]["minInstanceTypes"] == 6
    assert PROD_PACK_CONFIG["sqs-redrive-max-receive-count"]["maxReceiveCount"] == 3


def test_the_prod_stack_passes_the_pack_with_every_rule_mandatory(prod: Graph) -> None:
    diagnostics = analyze(prod, PROD_PACK_CONFIG)
    assert diagnostics == [], "\n".join(f"{d.policy} {d.level} {d.urn}: {d.message}" for d in diagnostics)
    assert len(prod.resources) > 150


def test_what_dev_only_warns_about_blocks_prod() -> None:
    graph = run_program(PROD, stack="prod")
    table = graph.one("aws:dynamodb/table:Table", "orders")
    for view in (table.inputs, table.wire):
        view["pointInTimeRecovery"] = {"enabled": False}
    under_dev = [d for d in analyze(graph, DEV_PACK_CONFIG) if d.policy == "dynamodb-pitr"]
    under_prod = [d for d in analyze(graph, PROD_PACK_CONFIG) if d.policy == "dynamodb-pitr"]
    assert [d.level for d in under_dev] == ["advisory"] and mandatory(under_dev) == []
    assert [(d.level, d.urn) for d in under_prod] == [("mandatory", table.urn)]


# --- every production setting, in the graph -------------------------------------------------------------


def provider_regions(graph: Graph) -> dict[str, str]:
    return {p.name: str(p.inputs["region"]) for p in graph.of_type("pulumi:providers:aws")}


def one(graph: Graph, type_: str, name: str) -> dict[str, Any]:
    return graph.one(type_, name).inputs


def log_retention(graph: Graph, *names: str) -> set[float]:
    return {one(graph, "aws:cloudwatch/logGroup:LogGroup", n)["retentionInDays"] for n in names}


DB = "aws:rds/instance:Instance"
ASG = "aws:autoscaling/group:Group"
SETTINGS: dict[str, Callable[[Graph, str], None]] = {}
"""Pulumi.prod.yaml key -> a check that its value shows in the graph."""


def setting(*keys: str) -> Callable[[Callable[[Graph, str], None]], Callable[[Graph, str], None]]:
    def register(check: Callable[[Graph, str], None]) -> Callable[[Graph, str], None]:
        SETTINGS.update(dict.fromkeys(keys, check))
        return check

    return register


@setting("orders:primaryRegion")
def _primary(g: Graph, value: str) -> None:
    assert provider_regions(g)["primary"] == value == g.exports["primaryRegion"]
    assert g.region_of(g.one(DB, "shipping-db")) == value


@setting("orders:failoverRegion")
def _failover(g: Graph, value: str) -> None:
    assert provider_regions(g)["failover"] == value == g.exports["failoverRegion"]
    assert g.region_of(g.one("aws:s3/bucket:Bucket", "error-page")) == value


@setting("orders:vpcCidr")
def _cidr(g: Graph, value: str) -> None:
    assert one(g, "aws:ec2/vpc:Vpc", "network")["cidrBlock"] == value


@setting("orders:azCount")
def _zones(g: Graph, value: str) -> None:
    assert len({s.inputs["availabilityZone"] for s in g.of_type("aws:ec2/subnet:Subnet")}) == int(value)
    assert len(one(g, ASG, "workers")["vpcZoneIdentifiers"]) == int(value)


@setting("orders:tableDeletionProtection")
def _table_protection(g: Graph, value: str) -> None:
    table = g.one("aws:dynamodb/table:Table", "orders")
    assert value == "true" and table.inputs["deletionProtectionEnabled"] is True and table.protect
    invoices = g.one("aws:s3/bucket:Bucket", "invoices")
    assert invoices.inputs["forceDestroy"] is False and invoices.protect


@setting("orders:dbDeletionProtection")
def _db_protection(g: Graph, value: str) -> None:
    db = g.one(DB, "shipping-db")
    assert value == "true" and db.protect
    assert (db.inputs["deletionProtection"], db.inputs["skipFinalSnapshot"]) == (True, False)
    assert db.inputs["finalSnapshotIdentifier"] == "orders-prod-shipping-final"
    assert db.inputs["deleteAutomatedBackups"] is False
    assert g.one("aws:redshiftserverless/namespace:Namespace", "sales").protect


@setting("orders:dbMultiAz")
def _multi_az(g: Graph, value: str) -> None:
    assert value == "true" and one(g, DB, "shipping-db")["multiAz"] is True


@setting("orders:dbInstanceClass")
def _db_class(g: Graph, value: str) -> None:
    assert one(g, DB, "shipping-db")["instanceClass"] == value


@setting("orders:dbAllocatedStorageGb")
def _db_storage(g: Graph, value: str) -> None:
    assert one(g, DB, "shipping-db")["allocatedStorage"] == float(value)


@setting("orders:dbBackupRetentionDays")
def _db_backups(g: Graph, value: str) -> None:
    assert one(g, DB, "shipping-db")["backupRetentionPeriod"] == float(value)


@setting("orders:alarmEmail")
def _alarm_email(g: Graph, value: str) -> None:
    subscription = one(g, "aws:sns/topicSubscription:TopicSubscription", "alarm-email")
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", value)


@setting("orders:domainName")
def _domain(g: Graph, value: str) -> None:
    assert one(g, "aws:apigateway/domainName:DomainName", "intake")["domainName"] == value
    assert one(g, "aws:acm/certificate:Certificate", "intake")["domainName"] == value
    assert one(g, "aws:s3/bucket:Bucket", "error-page")["bucket"] == value
    records = {one(g, "aws:route53/record:Record", f"failover-dns-{role}")["name"] for role in ("primary", "secondary")}
    assert records == {value} and g.exports["intakeUrl"] == f"https://{value}/orders"


@setting("orders:hostedZoneId")
def _zone(g: Graph, value: str) -> None:
    assert {r.inputs["zoneId"] for r in g.of_type("aws:route53/record:Record")} == {value}


@setting("orders:fleetMinSize", "orders:fleetDesiredCapacity", "orders:fleetMaxSize")
def _fleet(g: Graph, value: str) -> None:
    group = one(g, ASG, "workers")
    sizes = {"minSize": PROD["orders:fleetMinSize"], "desiredCapacity": PROD["orders:fleetDesiredCapacity"]}
    sizes["maxSize"] = PROD["orders:fleetMaxSize"]
    assert value in sizes.values() and {k: group[k] for k in sizes} == {k: float(v) for k, v in sizes.items()}


@setting("orders:warehouseBaseCapacity")
def _warehouse(g: Graph, value: str) -> None:
    assert one(g, "aws:redshiftserverless/workgroup:Workgroup", "sales")["baseCapacity"] == float(value)


@setting("orders:apiAccessLogRetentionDays")
def _api_logs(g: Graph, value: str) -> None:
    assert log_retention(g, "intake-access", "intake-execution") == {float(value)}


@setting("orders:consumerLogRetentionDays")
def _consumer_logs(g: Graph, value: str) -> None:
    assert log_retention(g, "shipping-consumer", "analytics-consumer") == {float(value)}


@setting("orders:healthCheckIntervalSeconds")
def _health_check(g: Graph, value: str) -> None:
    assert one(g, "aws:route53/healthCheck:HealthCheck", "failover-dns-primary")["requestInterval"] == float(value)


def test_every_key_of_the_prod_stack_file_has_a_check() -> None:
    assert set(PROD) == set(SETTINGS)


@pytest.mark.parametrize("key", sorted(SETTINGS))
def test_each_production_setting_appears_in_the_graph(prod: Graph, key: str) -> None:
    SETTINGS[key](prod, PROD[key])


def test_the_placeholders_a_user_replaces_are_named_and_accepted_by_the_config_loader() -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    assert PROD["orders:domainName"] == "orders.example.com"
    assert PROD["orders:hostedZoneId"].startswith("ZREPLACE") and re.fullmatch(
        r"Z[A-Z0-9]{4,31}", PROD["orders:hostedZoneId"]
    )
    assert PROD["orders:alarmEmail"].startswith("replace-with-") and PROD["orders:alarmEmail"].endswith("@example.com")
    assert text.count("# REPLACE") == 2, "each placeholder block says so"


# --- a third stack: everything follows its regions ------------------------------------------------------

EUROPE = {
    "orders:primaryRegion": "eu-central-1",
    "orders:failoverRegion": "eu-west-1",
    "orders:domainName": "orders.example.eu",
    "orders:hostedZoneName": "example.eu",
    "orders:tableDeletionProtection": "true",
    "orders:dbDeletionProtection": "true",
}
REGION = re.compile(
    r"(?:af|ap|ca|eu|il|me|mx|sa|us)-(?:gov-)?(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d"
)
ARN = re.compile(r"arn:aws:([a-z0-9-]+):([a-z0-9-]*):(\d*):")
GLOBAL_SERVICES = {"iam", "s3", "route53", "cloudfront", "sts"}


def strings(value: Any) -> Iterator[str]:
    """Every string in a value, and in every JSON document held as a string (policies, container definitions)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value
        if value[:1] in "[{":
            try:
                document = json.loads(value)
            except ValueError:
                return
            yield from strings(document)


@pytest.fixture(scope="module")
def europe() -> Graph:
    return run_program(EUROPE, stack="europe")


def ancestors(graph: Graph, resource: Resource) -> Iterator[Resource]:
    known = {r.urn: r for r in graph.resources}
    while resource.parent in known:
        resource = known[resource.parent]
        yield resource


def expected_region(graph: Graph, resource: Resource) -> str:
    if any(a.type == "orders:monitoring:UsEast1Alarms" for a in ancestors(graph, resource)):
        return "us-east-1"  # the health-check alarm and its twin topic: Route 53 publishes its metrics there only
    return (
        EUROPE["orders:failoverRegion"]
        if "orders:frontdoor:ErrorPage$" in resource.urn
        else EUROPE["orders:primaryRegion"]
    )


def test_a_stack_in_other_regions_gets_its_own_providers_and_every_resource_uses_one(europe: Graph) -> None:
    assert provider_regions(europe) == {
        "primary": "eu-central-1",
        "failover": "eu-west-1",
        "route53-metrics": "us-east-1",
    }
    in_us_east_1 = {r.name for r in europe.resources if r.custom and expected_region(europe, r) == "us-east-1"}
    assert in_us_east_1 == {"alarms-us-east-1", "intake-health-check"}  # key, alias, topic, policy; the alarm
    custom = [r for r in europe.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and all(r.provider_urn for r in custom), "no resource falls back to the default provider"
    for resource in custom:
        assert europe.region_of(resource) == expected_region(europe, resource), resource.urn


def test_every_arn_and_region_in_the_graph_follows_the_stacks_regions(europe: Graph) -> None:
    arns = 0
    for resource in europe.resources:
        if resource.type.startswith("pulumi:providers:"):
            continue
        allowed = {expected_region(europe, resource)}
        if resource.type == "aws:route53/record:Record" and resource.name == "failover-dns-secondary":
            allowed.add(EUROPE["orders:failoverRegion"])  # the alias to the error page's website endpoint
        for text in strings(resource.inputs):
            for match in ARN.finditer(text):
                service, region, _account = match.groups()
                arns += 1
                if service in GLOBAL_SERVICES:
                    assert region == "", f"{resource.name}: global {service} ARN with a region: {text}"
                else:
                    assert region in allowed, f"{resource.type} {resource.name}: {text}"
            found = set(REGION.findall(text))
            assert found <= allowed, f"{resource.type} {resource.name}: {sorted(found - allowed)} in {text[:200]}"
    assert arns > 60, "the check saw the ARNs in policies, redrive policies, integrations and alarms"
    exports = json.dumps(europe.exports)
    assert set(REGION.findall(exports)) == {"eu-central-1", "eu-west-1"}
    assert "sqs.eu-central-1.amazonaws.com" in europe.exports["orderQueueUrl"]
    assert ".eu-central-1.amazonaws.com" in europe.exports["intakeInvokeUrl"]
    assert "eu-west-1" in europe.exports["errorPageWebsiteEndpoint"]


def test_regional_endpoints_zones_and_names_use_the_primary_region(europe: Graph) -> None:
    endpoints = europe.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoints and all(e.inputs["serviceName"].startswith("com.amazonaws.eu-central-1.") for e in endpoints)
    zones = {s.inputs["availabilityZone"] for s in europe.of_type("aws:ec2/subnet:Subnet")}
    assert zones == {"eu-central-1a", "eu-central-1b", "eu-central-1c"}
    for name in ("intake-send", "intake-health", "intake-cloudwatch"):
        assert europe.one("aws:iam/role:Role", name).inputs["name"].endswith("-eu-central-1"), "IAM is global"
    buckets = {b.name: b.inputs["bucket"] for b in europe.of_type("aws:s3/bucket:Bucket")}
    assert buckets["invoices"].endswith("-eu-central-1") and buckets["workers-artifacts"].endswith("-eu-central-1")
    assert buckets["error-page"] == "orders.example.eu"
    dashboard = json.loads(europe.one("aws:cloudwatch/dashboard:Dashboard", "orders").inputs["dashboardBody"])
    assert {w["properties"]["region"] for w in dashboard["widgets"]} == {"eu-central-1"}
