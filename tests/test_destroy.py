"""What `pulumi destroy` meets, read from the graph: with the dev config nothing blocks it and nothing is left
behind; with the prod config every data store is protected at both layers (AWS and Pulumi).

"Blocks" means: Pulumi refuses (`protect`), AWS refuses (deletion protection, a bucket that still holds
objects, an RDS instance with neither a final snapshot nor skip_final_snapshot), or the resource outlives
the stack (`retainOnDelete`, a log group's skip_destroy, a log group a service creates itself because the
program did not). docs/operations.md ("Destroying a stack") explains the choices.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from offline.graph import Graph, Resource, run_program, stack_config
from offline.provision.provisioner import provision
from simulation import teardown
from simulation.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent

DOMAIN = {"orders:domainName": "orders.example.com", "orders:hostedZoneId": "Z0123456789ABCDEFGHIJ"}
"""Dev with a domain, so the error-page bucket (which holds the two pages) is part of the graph."""
BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:dynamodb/table:Table"
DB = "aws:rds/instance:Instance"
NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DATA_STORES = {(TABLE, "orders"), (BUCKET, "invoices"), (DB, "shipping-db"), (NAMESPACE, "sales")}


@pytest.fixture(scope="module")
def dev() -> Graph:
    return run_program({**stack_config("dev"), **DOMAIN})


@pytest.fixture(scope="module")
def prod() -> Graph:
    return run_program(stack_config("prod"), stack="prod")


def destroy_blockers(graph: Graph) -> dict[tuple[str, str], list[str]]:
    """(type, name) -> why `pulumi destroy` would stop at it or leave it behind."""
    found: dict[tuple[str, str], list[str]] = {}

    def block(resource: Resource, why: str) -> None:
        found.setdefault((resource.type, resource.name), []).append(why)

    for r in graph.resources:
        inputs: dict[str, Any] = r.inputs
        if r.protect:
            block(r, "protect")
        if r.retain_on_delete:
            block(r, "retainOnDelete")
        if r.type == BUCKET and not inputs.get("forceDestroy"):
            block(r, "no forceDestroy (S3 refuses to delete a bucket that holds objects)")
        if r.type == TABLE and inputs.get("deletionProtectionEnabled"):
            block(r, "deletion protection")
        if r.type == DB:
            if inputs.get("deletionProtection"):
                block(r, "deletion protection")
            if not inputs.get("skipFinalSnapshot") and not inputs.get("finalSnapshotIdentifier"):
                block(r, "neither skipFinalSnapshot nor finalSnapshotIdentifier (the provider refuses)")
        if r.type == LOG_GROUP and inputs.get("skipDestroy"):
            block(r, "skipDestroy")
    return found


def test_with_the_dev_config_nothing_blocks_pulumi_destroy(dev: Graph) -> None:
    assert destroy_blockers(dev) == {}
    buckets = {b.name: b.inputs["forceDestroy"] for b in dev.of_type(BUCKET)}
    assert buckets == {"invoices": True, "workers-artifacts": True, "error-page": True}
    db = dev.one(DB, "shipping-db").inputs
    assert (db["deletionProtection"], db["skipFinalSnapshot"], db["deleteAutomatedBackups"]) == (False, True, True)
    assert "finalSnapshotIdentifier" not in db
    assert dev.one(TABLE, "orders").inputs["deletionProtectionEnabled"] is False
    assert not dev.one(NAMESPACE, "sales").protect


def test_with_the_prod_config_the_data_stores_and_only_they_are_protected(prod: Graph) -> None:
    blockers = destroy_blockers(prod)
    assert set(blockers) == DATA_STORES
    assert blockers[(TABLE, "orders")] == ["protect", "deletion protection"]
    assert blockers[(DB, "shipping-db")] == ["protect", "deletion protection"]
    assert blockers[(BUCKET, "invoices")] == [
        "protect",
        "no forceDestroy (S3 refuses to delete a bucket that holds objects)",
    ]
    assert blockers[(NAMESPACE, "sales")] == ["protect"]  # no final-snapshot input exists for a namespace
    db = prod.one(DB, "shipping-db").inputs
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"] == "orders-prod-shipping-final"
    assert db["deleteAutomatedBackups"] is False, "a deliberate delete keeps the automated backups too"
    # Rebuilt from the repository on every `pulumi up`: nothing to keep.
    assert {b.name for b in prod.of_type(BUCKET) if b.inputs["forceDestroy"]} == {"workers-artifacts", "error-page"}
    # Retained resources would leave the state but not AWS: none is; protection is explicit and reversible.
    assert not any(r.retain_on_delete for r in prod.resources)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_kms_key_has_a_deletion_window_and_log_groups_go_with_the_stack(
    stack: str, dev: Graph, prod: Graph
) -> None:
    graph = dev if stack == "dev" else prod
    keys = graph.of_type("aws:kms/key:Key")  # prod also has the us-east-1 alarm topic's key
    assert sorted(k.name for k in keys) == (["messaging"] if stack == "dev" else ["alarms-us-east-1", "messaging"])
    for key in keys:
        assert 7 <= key.inputs["deletionWindowInDays"] <= 30, "a scheduled deletion can still be cancelled"
    groups = graph.of_type(LOG_GROUP)
    assert groups and all(not g.inputs.get("skipDestroy") and not g.protect for g in groups)
    assert all(g.inputs["retentionInDays"] > 0 for g in groups), "every group also expires on its own"


def test_every_log_group_a_service_writes_to_is_managed_by_the_stack(dev: Graph) -> None:
    """A group a service creates on first write (Lambda's /aws/lambda/<fn>, API Gateway's execution logs)
    would outlive `pulumi destroy`: the program creates each one first and points the service at it."""
    managed = {g.inputs["name"] for g in dev.of_type(LOG_GROUP)}
    for function in dev.of_type("aws:lambda/function:Function"):
        assert function.inputs["loggingConfig"]["logGroup"] in managed
    (api,) = dev.of_type("aws:apigateway/restApi:RestApi")
    (stage,) = dev.of_type("aws:apigateway/stage:Stage")
    assert f"API-Gateway-Execution-Logs_{api.id}/{stage.inputs['stageName']}" in managed
    (settings,) = dev.of_type("aws:apigateway/methodSettings:MethodSettings")
    execution = dev.one(LOG_GROUP, "intake-execution")
    assert execution.urn in settings.dependencies, "the group exists before logging is switched on"
    assert stage.inputs["accessLogSettings"]["destinationArn"].endswith(
        f":log-group:{dev.one(LOG_GROUP, 'intake-access').inputs['name']}"
    )
    assert dev.one(LOG_GROUP, "workers-logs").inputs["name"] == "/orders/dev/workers"


def test_ecs_pollers_log_to_a_managed_group() -> None:
    graph = run_program(
        {
            **stack_config("dev"),
            "orders:shippingConsumerRuntime": "ecs",
            "orders:consumerImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1",
        }
    )
    managed = {g.inputs["name"] for g in graph.of_type(LOG_GROUP)}
    (task,) = graph.of_type("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    assert container["logConfiguration"]["options"]["awslogs-group"] in managed
    assert destroy_blockers(graph) == {}


# --- on the emulator: `local down` takes down what `local up` provisioned ------------------------------

STACK_KINDS = {
    "queues": 6,
    "topics": 2,
    "subscriptions": 2,
    "buckets": 2,
    "tables": 1,
    "alarms": 18,
    "dashboards": 1,
    "aliases": 1,
    "keys": 1,
    "instanceProfiles": 1,
    "policies": 0,
    "roles": 8,
    "restApis": 1,
    "apiKeys": 0,
    "usagePlans": 0,
    "launcherUsers": 1,
}
"""What the local (dev) stack holds in the emulator, by kind (the launcher user: the local run's only)."""


def test_local_down_removes_everything_local_up_created_in_reverse_dependency_order(emulator: Emulator) -> None:
    # `production-europe`: before the names were fitted, moto (which checks bucket names too) refused its
    # 65-character artifact bucket, so this stack could not even be brought up locally.
    provisioned = provision(emulator.region, endpoint=emulator.endpoint, stack="production-europe")
    written = teardown.leave_objects(provisioned.graph, endpoint=emulator.endpoint)
    assert written == 4 + 1, "invoices (versioned): 2 versions, a marker, 1 more; artifacts: the last object"
    before = teardown.remaining(provisioned.graph, endpoint=emulator.endpoint)
    assert {kind: len(found) for kind, found in before.items()} == STACK_KINDS
    # As `local down --endpoint` does: the graph rebuilt from the program, names resolved in the emulator.
    graph = teardown.local_graph(emulator.region, "production-europe")
    report = teardown.teardown(graph, endpoint=emulator.endpoint)
    assert report.remaining == {kind: [] for kind in STACK_KINDS}
    assert sorted((s.type, s.name) for s in report.removed) == sorted((t, n) for t, n, _ in provisioned.created)
    emptied = [s for s in report.removed if s.type == BUCKET]
    assert sum(int(s.action.split("(")[1].split()[0]) for s in emptied if "emptied" in s.action) == written
    key = next(s for s in report.removed if s.type == "aws:kms/key:Key")
    assert key.action == "deletion scheduled in 7 days"
    assert [(s.physical, s.action) for s in report.local_only] == [
        ("orders-production-europe-local-launcher", "deleted with 1 access key(s)")
    ]
    # Each resource went before everything it depends on.
    position = {r.urn: i for i, r in enumerate(report.order)}
    deps = teardown.emulated_dependencies(graph)
    assert all(position[urn] < position[dep] for urn, ds in deps.items() for dep in ds)
    names = [(s.type.split(":")[-1], s.name) for s in report.removed]
    for first, then in (
        (("BucketNotification", "invoices"), ("Topic", "order-events")),
        (("TopicSubscription", "shipping"), ("Queue", "shipping")),
        (("Queue", "orders"), ("Queue", "orders-dlq")),
        (("Alias", "messaging"), ("Key", "messaging")),
        (("Topic", "order-events"), ("Key", "messaging")),
        (("BucketPolicy", "invoices"), ("Bucket", "invoices")),
        (("RolePolicy", "workers-instance"), ("Role", "workers-instance")),
        (("InstanceProfile", "workers-instance"), ("Role", "workers-instance")),
        (("Integration", "orders-post"), ("Role", "intake-send")),
        (("Stage", "intake"), ("Deployment", "intake")),
        (("Method", "orders-post"), ("Resource", "orders")),
        (("Resource", "orders"), ("RestApi", "intake")),
        (("Account", "intake"), ("Role", "intake-cloudwatch")),
    ):
        assert names.index(first) < names.index(then), (first, then)


def test_local_down_removes_the_api_keys_and_usage_plan_of_an_api_key_stack(emulator: Emulator) -> None:
    config = {"orders:intakeAuth": "apiKey", "orders:intakeApiKeyClients": '["web", "mobile"]'}
    provisioned = provision(emulator.region, endpoint=emulator.endpoint, stack="keyed", config=config)
    before = teardown.remaining(provisioned.graph, endpoint=emulator.endpoint)
    assert (len(before["apiKeys"]), len(before["usagePlans"]), len(before["restApis"])) == (2, 1, 1)
    report = teardown.teardown(teardown.local_graph(emulator.region, "keyed", config), endpoint=emulator.endpoint)
    assert report.remaining == {kind: [] for kind in before}
    assert sorted((s.type, s.name) for s in report.removed) == sorted((t, n) for t, n, _ in provisioned.created)
    assert not [s for s in report.removed if s.action == "already gone"], "each was found by its name and deleted"


def test_a_protected_stack_is_refused_whole_and_exclude_protected_keeps_only_the_protected(emulator: Emulator) -> None:
    protected = {"orders:tableDeletionProtection": "true"}
    provisioned = provision(emulator.region, endpoint=emulator.endpoint, stack="guarded", config=protected)
    before = teardown.remaining(provisioned.graph, endpoint=emulator.endpoint)
    with pytest.raises(teardown.DestroyRefused, match="protected"):
        teardown.teardown(provisioned.graph, endpoint=emulator.endpoint)
    assert teardown.remaining(provisioned.graph, endpoint=emulator.endpoint) == before, "nothing was deleted"
    report = teardown.teardown(provisioned.graph, endpoint=emulator.endpoint, exclude_protected=True)
    assert sorted((t, n) for t, n, _ in report.kept) == [(TABLE, "orders"), (BUCKET, "invoices")]
    left = {kind: found for kind, found in report.remaining.items() if found}
    assert left == {"buckets": ["orders-guarded-invoices-123456789012-us-east-1"], "tables": ["orders-guarded-orders"]}


def test_a_bucket_without_force_destroy_stops_the_destroy_where_s3_would(emulator: Emulator) -> None:
    provisioned = provision(emulator.region, endpoint=emulator.endpoint, stack="no-force")
    teardown.leave_objects(provisioned.graph, endpoint=emulator.endpoint)
    graph = teardown.local_graph(emulator.region, "no-force")
    graph.one(BUCKET, "invoices").inputs["forceDestroy"] = False
    with pytest.raises(teardown.DestroyFailed, match="holds objects") as failed:
        teardown.teardown(graph, endpoint=emulator.endpoint)
    report = failed.value.report
    assert report is not None
    # Everything before the bucket in the order is gone; the bucket and everything after it are still there.
    stop = next(i for i, r in enumerate(report.order) if (r.type, r.name) == (BUCKET, "invoices"))
    assert [(s.type, s.name) for s in report.removed] == [(r.type, r.name) for r in report.order[:stop]]
    assert "orders-no-force-invoices-123456789012-us-east-1" in report.remaining["buckets"]
    after = {r.type for r in report.order[stop:]}
    left = {kind for kind, found in report.remaining.items() if found}
    assert ("tables" in left) == (TABLE in after) and ("queues" in left) == ("aws:sqs/queue:Queue" in after)


@pytest.mark.heavy
def test_the_local_down_command_brings_a_fresh_stack_up_and_down() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulation", "local", "down", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["created"] == figures["removed"] == 91
    assert [step["physical"] for step in figures["localOnlySteps"]] == ["orders-local-local-launcher"]
    assert (figures["kept"], figures["remaining"], figures["remainingByKind"]) == (0, 0, {})
