"""`python -m simulation local down`: take the emulated stack down the way `pulumi destroy` does, and show
that nothing of it remains.

`pulumi destroy` deletes every resource of the stack in reverse dependency order (a resource before
anything it depends on); its preview fails, so nothing is deleted, when a resource is `protect`ed
(`--exclude-protected` skips those and what they depend on); and each provider's Delete does what the
program asked: a bucket is emptied first only with `force_destroy`, a table with deletion protection is
refused by DynamoDB, a KMS key is scheduled for deletion after its window. This module does the same for
the resource types the emulator runs (offline/moto_provision.py), from the graph the program registers
(offline/graph.py): the order from each resource's dependencies, the physical names from its inputs.
Then it lists what the emulator still holds under the stack's names: queues, topics, subscriptions,
buckets, tables, alarms, dashboards, key aliases and keys not pending deletion.

- `local down --endpoint URL [--region R]`: the stack that `local up` (or the demo) provisioned in that
  running emulator (its names come from the program, as `local up` ran it).
- `local down` alone: a fresh emulator, the stack provisioned from the program as `local up` does, objects
  left in its buckets as the workers leave them (versions and a delete marker), then taken down; prints
  the figures (created, removed, remaining) and exits 0 only when nothing remains.

What this proves and does not prove about `pulumi destroy` on AWS: docs/operations.md ("Destroying a stack").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from offline.graph import Graph, Resource, run_program
from offline.mocks import PARTITION
from offline.moto_provision import EMULATED_TYPES, EmulatorClients, local_config, provision
from simulation.emulator import DEFAULT_REGION, running_emulator

QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:dynamodb/table:Table"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
NOT_FOUND = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFound",
    "NotFoundException",
    "NoSuchBucket",
    "ResourceNotFoundException",
    "ResourceNotFound",
}


class DestroyRefused(RuntimeError):
    """Like the failing preview of `pulumi destroy`: protected resources; nothing was deleted."""


class DestroyFailed(RuntimeError):
    """The emulator refused a delete as AWS would (deletion protection, a bucket not empty); the resources
    before it in the order are gone, as after a `pulumi destroy` that stops half-way (`report` says which)."""

    report: Teardown | None = None


@dataclass(frozen=True)
class Step:
    type: str
    name: str
    physical: str
    action: str


@dataclass
class Teardown:
    order: list[Resource]
    removed: list[Step] = field(default_factory=list)
    kept: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, why) of resources `--exclude-protected` left in place."""
    remaining: dict[str, list[str]] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        return {
            "removed": len(self.removed),
            "kept": len(self.kept),
            "remaining": sum(len(v) for v in self.remaining.values()),
            "remainingByKind": {k: v for k, v in self.remaining.items() if v},
        }


# --- the order ------------------------------------------------------------------------------------------


def _emulated(graph: Graph) -> list[Resource]:
    return [r for r in graph.resources if r.custom and r.type in EMULATED_TYPES]


def emulated_dependencies(graph: Graph) -> dict[str, set[str]]:
    """urn -> the emulated resources it depends on, directly or through resources the emulator does not run
    (an IAM policy, a component: depending on a component is depending on everything in it)."""
    by_urn = {r.urn: r for r in graph.resources}
    emulated = {r.urn for r in _emulated(graph)}
    children: dict[str, list[str]] = {}
    for r in graph.resources:
        children.setdefault(r.parent, []).append(r.urn)
    memo: dict[str, set[str]] = {}

    def reach(urn: str, seen: frozenset[str]) -> set[str]:
        """Emulated resources `urn` stands for as a dependency: itself, or what it depends on / contains."""
        if urn in emulated:
            return {urn}
        if urn in memo:
            return memo[urn]
        if urn in seen or urn not in by_urn:
            return set()
        resource = by_urn[urn]
        through = resource.dependencies if resource.custom else children.get(urn, [])
        found = set().union(*(reach(d, seen | {urn}) for d in through)) if through else set()
        memo[urn] = found
        return found

    return {
        urn: set().union(*(reach(d, frozenset({urn})) for d in by_urn[urn].dependencies)) - {urn}
        if by_urn[urn].dependencies
        else set()
        for urn in emulated
    }


def destroy_order(graph: Graph) -> list[Resource]:
    """The emulated resources, each before everything it depends on: the reverse of a creation order in
    which every resource follows its dependencies (ties broken by registration order, so it is stable)."""
    by_urn = {r.urn: r for r in graph.resources}
    rank = {r.urn: i for i, r in enumerate(graph.resources)}
    sorter = TopologicalSorter(emulated_dependencies(graph))
    sorter.prepare()
    creation: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)
        creation += ready
        sorter.done(*ready)
    return [by_urn[urn] for urn in reversed(creation)]


def _closure(urns: Iterable[str], deps: dict[str, set[str]]) -> set[str]:
    out: set[str] = set()
    todo = list(urns)
    while todo:
        urn = todo.pop()
        if urn not in out:
            out.add(urn)
            todo += deps.get(urn, ())
    return out


# --- the emulator ---------------------------------------------------------------------------------------


class Clients(EmulatorClients):
    """The emulator's clients (as the provisioner has them), and what a teardown resolved up front."""

    def __init__(self, endpoint: str | None) -> None:
        super().__init__(endpoint)
        self.key_ids: dict[str, str] = {}
        """Key URN -> the emulator's key id, resolved before anything is deleted (its alias goes first)."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _queue_url(clients: Clients, region: str, name_or_url: str) -> str | None:
    try:
        url: str = clients("sqs", region).get_queue_url(QueueName=name_or_url.rsplit("/", 1)[-1])["QueueUrl"]
        return url
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return None
        raise


def _key_id(clients: Clients, graph: Graph, key: Resource, region: str) -> str | None:
    """The key's id in the emulator: the graph's (provisioned in this process), else through its alias."""
    kms = clients("kms", region)
    if key.id:
        try:
            return str(kms.describe_key(KeyId=key.id)["KeyMetadata"]["KeyId"])
        except ClientError:
            pass
    aliases = {a.inputs["name"] for a in graph.of_type(ALIAS) if key.urn in a.dependencies}
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] in aliases and alias.get("TargetKeyId"):
            return str(alias["TargetKeyId"])
    return None


def _subscription_arns(clients: Clients, region: str, topic_arn: str, endpoint: str | None = None) -> list[str]:
    try:
        found = clients("sns", region).list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return []
        raise
    return [s["SubscriptionArn"] for s in found if endpoint is None or s["Endpoint"] == endpoint]


def _topic_arn(clients: Clients, name: str, region: str) -> str:
    """A topic's ARN from its name, in the emulator's account."""
    return f"arn:{PARTITION}:sns:{region}:{clients.account(region)}:{name}"


def _empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every delete marker and object version, as the provider does for force_destroy.

    Emulator workarounds, not AWS behaviour: one by one (moto answers DeleteObjects with a 500), and on a
    bucket whose versioning was suspended (by the BucketVersioning delete just before) versioning is turned
    back on first, because moto treats a suspended bucket as unversioned and fails to delete a version id.
    """
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Suspended":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
            removed += 1
    return removed


Deleter = Callable[[Clients, Graph, Resource, str], tuple[str, str]]
"""(clients, graph, resource, region) -> (physical id, what was done)."""


def _unless_gone(delete: Callable[[], object], physical: str, done: str) -> tuple[str, str]:
    """Run one delete call; a resource the emulator no longer has is "already gone", as the provider treats it."""
    try:
        delete()
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return physical, "already gone"
        raise
    return physical, done


def _delete_queue(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    url = _queue_url(c, region, r.inputs["name"])
    if url is None:
        return r.inputs["name"], "already gone"
    c("sqs", region).delete_queue(QueueUrl=url)
    return url, "deleted"


def _delete_queue_policy(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    url = _queue_url(c, region, r.inputs["queueUrl"])
    if url is None:
        return r.inputs["queueUrl"], "already gone"
    c("sqs", region).set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    return url, "policy removed"


def _delete_topic(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    arn = _topic_arn(c, r.inputs["name"], region)
    c("sns", region).delete_topic(TopicArn=arn)  # idempotent in SNS
    return arn, "deleted"


def _delete_topic_policy(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    # The provider writes the topic's default policy back; the topic itself goes next.
    return r.inputs["arn"], "policy reset with the topic"


def _delete_subscription(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    arns = _subscription_arns(c, region, r.inputs["topic"], r.inputs["endpoint"])
    for arn in arns:
        c("sns", region).unsubscribe(SubscriptionArn=arn)
    return (arns[0] if arns else r.inputs["endpoint"]), ("unsubscribed" if arns else "already gone")


def _delete_bucket(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    s3, bucket = c("s3", region), r.inputs["bucket"]
    emptied = _empty_bucket(s3, bucket) if r.inputs.get("forceDestroy") else 0
    try:
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) == "NoSuchBucket":
            return bucket, "already gone"
        if _code(exc) == "BucketNotEmpty":
            raise DestroyFailed(
                f"{r.type} {r.name!r} ({bucket}): S3 refuses, the bucket holds objects and force_destroy is off"
            ) from exc
        raise
    return bucket, f"emptied ({emptied} object versions) and deleted" if emptied else "deleted"


def _bucket_setting(method: str, done: str, **extra: Any) -> Deleter:
    def delete(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
        bucket = r.inputs["bucket"]
        return _unless_gone(lambda: getattr(c("s3", region), method)(Bucket=bucket, **extra), bucket, done)

    return delete


def _delete_table(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    try:
        c("dynamodb", region).delete_table(TableName=r.inputs["name"])
    except ClientError as exc:
        if _code(exc) in NOT_FOUND:
            return r.inputs["name"], "already gone"
        if "DeletionProtectionEnabled" in str(exc):
            raise DestroyFailed(f"{r.type} {r.name!r}: DynamoDB refuses, deletion protection is on") from exc
        raise
    return r.inputs["name"], "deleted"


def _delete_key(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    key_id = c.key_ids.get(r.urn)
    if key_id is None:
        return "?", "already gone"
    days = int(r.inputs.get("deletionWindowInDays") or 30)
    c("kms", region).schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    return key_id, f"deletion scheduled in {days} days"


def _delete_alias(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    name = r.inputs["name"]
    return _unless_gone(lambda: c("kms", region).delete_alias(AliasName=name), name, "deleted")


def _delete_alarm(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    c("cloudwatch", region).delete_alarms(AlarmNames=[r.inputs["name"]])
    return r.inputs["name"], "deleted"


def _delete_dashboard(c: Clients, g: Graph, r: Resource, region: str) -> tuple[str, str]:
    name = r.inputs["dashboardName"]
    return _unless_gone(lambda: c("cloudwatch", region).delete_dashboards(DashboardNames=[name]), name, "deleted")


DELETERS: dict[str, Deleter] = {
    QUEUE: _delete_queue,
    "aws:sqs/queuePolicy:QueuePolicy": _delete_queue_policy,
    TOPIC: _delete_topic,
    "aws:sns/topicPolicy:TopicPolicy": _delete_topic_policy,
    SUBSCRIPTION: _delete_subscription,
    BUCKET: _delete_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _bucket_setting("delete_public_access_block", "removed"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _bucket_setting(
        "delete_bucket_ownership_controls", "removed"
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_setting(
        "delete_bucket_encryption", "removed"
    ),
    # The provider suspends versioning (a bucket cannot go back to unversioned); the bucket goes next.
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_setting(
        "put_bucket_versioning", "versioning suspended", VersioningConfiguration={"Status": "Suspended"}
    ),
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_setting("delete_bucket_policy", "removed"),
    "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration": _bucket_setting("delete_bucket_website", "removed"),
    "aws:s3/bucketNotification:BucketNotification": _bucket_setting(
        "put_bucket_notification_configuration", "removed", NotificationConfiguration={}
    ),
    TABLE: _delete_table,
    KEY: _delete_key,
    ALIAS: _delete_alias,
    ALARM: _delete_alarm,
    DASHBOARD: _delete_dashboard,
}


# --- destroy and inventory ------------------------------------------------------------------------------


def teardown(graph: Graph, *, endpoint: str | None = None, exclude_protected: bool = False) -> Teardown:
    """Delete the graph's emulated resources in reverse dependency order, then list what remains."""
    clients = Clients(endpoint)
    protected = [r for r in graph.resources if r.protect]
    if protected and not exclude_protected:
        names = ", ".join(f"{r.type} {r.name!r}" for r in protected)
        raise DestroyRefused(
            f"{len(protected)} protected resource(s) cannot be deleted: {names}; `pulumi destroy` fails its "
            "preview the same way (unprotect them with `pulumi state unprotect`, or pass --exclude-protected)"
        )
    deps = emulated_dependencies(graph)
    keep = _closure([r.urn for r in protected], deps)
    result = Teardown(order=destroy_order(graph))
    for key in graph.of_type(KEY):
        key_id = _key_id(clients, graph, key, graph.region_of(key))
        if key_id:
            clients.key_ids[key.urn] = key_id
    for resource in result.order:
        if resource.urn in keep:
            why = "protected" if resource.protect else "a protected resource depends on it"
            result.kept.append((resource.type, resource.name, why))
            continue
        try:
            physical, action = DELETERS[resource.type](clients, graph, resource, graph.region_of(resource))
        except DestroyFailed as exc:
            result.remaining = remaining(graph, clients=clients)
            exc.report = result
            raise
        result.removed.append(Step(resource.type, resource.name, physical, action))
    result.remaining = remaining(graph, clients=clients)
    return result


KINDS = ("queues", "topics", "subscriptions", "buckets", "tables", "alarms", "dashboards", "aliases", "keys")


def remaining(graph: Graph, *, endpoint: str | None = None, clients: Clients | None = None) -> dict[str, list[str]]:
    """What the emulator holds under the graph's physical names, by kind (keys: those not pending deletion)."""
    clients = clients or Clients(endpoint)
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    regions = {graph.region_of(r) for r in _emulated(graph)}
    for region in sorted(regions):
        mine = [r for r in _emulated(graph) if graph.region_of(r) == region]

        def names(type_: str, key: str = "name", rs: list[Resource] = mine) -> set[str]:
            return {str(r.inputs[key]) for r in rs if r.type == type_}

        queues = [url for url in clients("sqs", region).list_queues().get("QueueUrls", [])]
        found["queues"] += [u for u in queues if u.rsplit("/", 1)[-1] in names(QUEUE)]
        topics = {t["TopicArn"] for t in clients("sns", region).list_topics()["Topics"]}
        found["topics"] += sorted(t for t in topics if t.rsplit(":", 1)[-1] in names(TOPIC))
        mine_topics = {_topic_arn(clients, n, region) for n in names(TOPIC)}
        mine_endpoints = {str(r.inputs["endpoint"]) for r in mine if r.type == SUBSCRIPTION}
        for sub in clients("sns", region).list_subscriptions()["Subscriptions"]:
            if sub["TopicArn"] in mine_topics or sub["Endpoint"] in mine_endpoints:
                found["subscriptions"].append(sub["SubscriptionArn"])
        buckets = {b["Name"] for b in clients("s3", region).list_buckets()["Buckets"]}
        found["buckets"] += sorted(buckets & names(BUCKET, "bucket"))
        tables = set(clients("dynamodb", region).list_tables()["TableNames"])
        found["tables"] += sorted(tables & names(TABLE))
        alarm_names = sorted(names(ALARM))
        for i in range(0, len(alarm_names), 100):
            alarms = clients("cloudwatch", region).describe_alarms(AlarmNames=alarm_names[i : i + 100])
            found["alarms"] += [a["AlarmName"] for a in alarms["MetricAlarms"]]
        dashboards = {d["DashboardName"] for d in clients("cloudwatch", region).list_dashboards()["DashboardEntries"]}
        found["dashboards"] += sorted(dashboards & names(DASHBOARD, "dashboardName"))
        kms = clients("kms", region)
        found["aliases"] += sorted(
            a["AliasName"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] in names(ALIAS)
        )
        for key in (r for r in mine if r.type == KEY):
            key_id = clients.key_ids.get(key.urn) or _key_id(clients, graph, key, region)
            if key_id and kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] != "PendingDeletion":
                found["keys"].append(key_id)
    return found


def local_graph(region: str, stack: str = "local", config: dict[str, str] | None = None) -> Graph:
    """The program's graph for the local stack, as `local up` provisions it, without creating anything."""
    return run_program(local_config(region, config), stack=stack)


# --- the command ----------------------------------------------------------------------------------------


def leave_objects(graph: Graph, *, endpoint: str | None) -> int:
    """Put objects in every bucket, as a used stack has them: in the versioned invoices bucket two versions of
    an invoice, then its delete marker, and another invoice. Returns the object versions and markers left."""
    clients = Clients(endpoint)
    left = 0
    for bucket in graph.of_type(BUCKET):
        s3, name = clients("s3", graph.region_of(bucket)), bucket.inputs["bucket"]
        for body in (b'{"OrderID": "o-1"}', b'{"OrderID": "o-1", "total": "10.00"}'):
            s3.put_object(Bucket=name, Key="invoices/o-1.json", Body=body)
        s3.delete_object(Bucket=name, Key="invoices/o-1.json")
        s3.put_object(Bucket=name, Key="invoices/o-2.json", Body=b'{"OrderID": "o-2"}')
        versions = s3.list_object_versions(Bucket=name)
        left += len(versions.get("Versions", [])) + len(versions.get("DeleteMarkers", []))
    return left


def _print(report: Teardown, created: int | None, as_json: bool) -> None:
    figures = {"created": created, **report.figures()}
    if as_json:
        print(json.dumps({**figures, "steps": [s.__dict__ for s in report.removed], "keptResources": report.kept}))
        return
    for step in report.removed:
        print(f"  - {step.type.split(':')[-1]:<44} {step.name:<34} {step.action}")
    for type_, name, why in report.kept:
        print(f"  = {type_.split(':')[-1]:<44} {name:<34} kept ({why})")
    made = f"created {created}, " if created is not None else ""
    print(f"{made}removed {figures['removed']}, kept {figures['kept']}, remaining {figures['remaining']}")
    for kind, left in figures["remainingByKind"].items():
        print(f"  still there: {kind}: {', '.join(left)}", file=sys.stderr)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m simulation local down", description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", help="a running emulator (`local up` prints it); default: start a fresh one")
    p.add_argument("--region", default=None, help="the emulator's region (default: the emulator's own)")
    p.add_argument("--stack", default="local", help="stack name the program was run with (default local)")
    p.add_argument("--exclude-protected", action="store_true", help="like `pulumi destroy --exclude-protected`")
    p.add_argument("--json", action="store_true", help="print the figures and steps as one JSON object")
    args = p.parse_args(argv)
    try:
        if args.endpoint:
            graph = local_graph(args.region or DEFAULT_REGION, args.stack)
            report = teardown(graph, endpoint=args.endpoint, exclude_protected=args.exclude_protected)
            created = None
        else:
            region = args.region or DEFAULT_REGION
            with (
                tempfile.TemporaryDirectory() as tmp,
                running_emulator(region, export_env=False, log=Path(tmp) / "emulator.log") as emu,
            ):
                provisioned = provision(region, endpoint=emu.endpoint, stack=args.stack)
                leave_objects(provisioned.graph, endpoint=emu.endpoint)
                report = teardown(provisioned.graph, endpoint=emu.endpoint, exclude_protected=args.exclude_protected)
                created = len(provisioned.created)
    except (DestroyRefused, DestroyFailed) as exc:
        print(f"local down: {exc}", file=sys.stderr)
        return 1
    _print(report, created, args.json)
    return 0 if report.figures()["remaining"] == 0 else 1
