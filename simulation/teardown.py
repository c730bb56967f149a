"""`python -m simulation local down`: take the emulated stack down the way `pulumi destroy` does, and show
that nothing of it remains.

`pulumi destroy` deletes every resource of the stack in reverse dependency order (a resource before
anything it depends on); its preview fails, so nothing is deleted, when a resource is `protect`ed
(`--exclude-protected` skips those and what they depend on); and each provider's Delete does what the
program asked: a bucket is emptied first only with `force_destroy`, a table with deletion protection is
refused by DynamoDB, a KMS key is scheduled for deletion after its window. This module does the same for
the resource types the emulator runs, with each type's own delete (offline/provision/<service>.py), from the
graph the program registers (offline/graph.py): the order from each resource's dependencies, the physical
names from its inputs (the emulator's ids, where the graph holds offline ones, read by name before anything
is deleted). Then the stack's local launcher (an IAM user of the emulator only, offline/provision/iam.py) goes,
and it lists what the emulator still holds under the stack's names, by kind (queues, topics, subscriptions,
buckets, tables, alarms, dashboards, key aliases, keys not pending deletion, roles, instance profiles,
policies, REST APIs, usage plans, API keys, the launcher).

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from offline.graph import PROJECT, Graph, Resource, run_program
from offline.provision import iam
from offline.provision.base import DeleteRefused, Deletion
from offline.provision.clients import EmulatorClients
from offline.provision.provisioner import local_config, provision
from offline.provision.registry import EMULATED_TYPES, KINDS, REGISTRY
from simulation.emulator import DEFAULT_REGION, running_emulator

BUCKET = "aws:s3/bucket:Bucket"
LAUNCHER_KIND = "launcherUsers"


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
    local_only: list[Step] = field(default_factory=list)
    """What the emulator held for the local run only (the launcher user), removed after the stack."""
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


def _deletion(clients: EmulatorClients, graph: Graph, resource: Resource, resolved: dict[str, str]) -> Deletion:
    return Deletion(
        clients=clients, graph=graph, resource=resource, region=graph.region_of(resource), resolved=resolved
    )


def resolve_all(graph: Graph, clients: EmulatorClients) -> dict[str, str]:
    """URN -> the emulator's id of each resource whose type resolves one (a key through its alias, an API by
    name, its parts by path), read in registration order (an API before its parts) before anything is deleted."""
    resolved: dict[str, str] = {}
    for resource in _emulated(graph):
        resolve = REGISTRY[resource.type].resolve
        found = resolve(_deletion(clients, graph, resource, resolved)) if resolve else None
        if found:
            resolved[resource.urn] = found
    return resolved


def graph_stack(graph: Graph) -> str:
    """The stack the program was run as (every URN is `urn:pulumi:<stack>::<project>::...`)."""
    return graph.resources[0].urn.split("::", 1)[0].split(":", 2)[2]


def _iam_region(graph: Graph) -> str:
    """IAM is global: any region of the stack reaches it."""
    return next((graph.region_of(r) for r in _emulated(graph) if graph.region_of(r)), DEFAULT_REGION)


# --- destroy and inventory ------------------------------------------------------------------------------


def _delete_each(graph: Graph, clients: EmulatorClients, keep: set[str], result: Teardown) -> None:
    """Delete the resources in `result.order`, keeping those in `keep`; stop at a delete the emulator refuses."""
    resolved = resolve_all(graph, clients)
    for resource in result.order:
        if resource.urn in keep:
            why = "protected" if resource.protect else "a protected resource depends on it"
            result.kept.append((resource.type, resource.name, why))
            continue
        delete = REGISTRY[resource.type].delete
        assert delete is not None, resource.type
        try:
            physical, action = delete(_deletion(clients, graph, resource, resolved))
        except DeleteRefused as exc:
            result.remaining = remaining(graph, clients=clients, resolved=resolved)
            failed = DestroyFailed(str(exc))
            failed.report = result
            raise failed from exc
        result.removed.append(Step(resource.type, resource.name, physical, action))


def _delete_launcher(graph: Graph, clients: EmulatorClients, result: Teardown) -> None:
    """The stack's local launcher goes with the last of its roles (it may assume nothing else)."""
    if any(type_ == iam.ROLE for type_, _, _ in result.kept):
        return
    user = iam.launcher_user_name(PROJECT, graph_stack(graph))
    action = iam.delete_launcher(clients, _iam_region(graph), user)
    result.local_only.append(Step("local:iam/user:User", "local-launcher", user, action))


def teardown(graph: Graph, *, endpoint: str | None = None, exclude_protected: bool = False) -> Teardown:
    """Delete the graph's emulated resources in reverse dependency order, then the stack's local launcher, then
    list what remains."""
    clients = EmulatorClients(endpoint)
    protected = [r for r in graph.resources if r.protect]
    if protected and not exclude_protected:
        names = ", ".join(f"{r.type} {r.name!r}" for r in protected)
        raise DestroyRefused(
            f"{len(protected)} protected resource(s) cannot be deleted: {names}; `pulumi destroy` fails its "
            "preview the same way (unprotect them with `pulumi state unprotect`, or pass --exclude-protected)"
        )
    keep = _closure([r.urn for r in protected], emulated_dependencies(graph))
    result = Teardown(order=destroy_order(graph))
    _delete_each(graph, clients, keep, result)
    _delete_launcher(graph, clients, result)
    result.remaining = remaining(graph, clients=clients)
    return result


def remaining(
    graph: Graph,
    *,
    endpoint: str | None = None,
    clients: EmulatorClients | None = None,
    resolved: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """What the emulator holds under the graph's physical names, by kind (keys: those not pending deletion),
    and the stack's launcher user (`launcherUsers`)."""
    clients = clients or EmulatorClients(endpoint)
    resolved = resolve_all(graph, clients) if resolved is None else resolved
    found: dict[str, list[str]] = {kind: [] for kind in (*KINDS, LAUNCHER_KIND)}
    for resource in _emulated(graph):
        rtype = REGISTRY[resource.type]
        if rtype.kind is not None and rtype.remaining is not None:
            found[rtype.kind] += rtype.remaining(_deletion(clients, graph, resource, resolved))
    user = iam.launcher_user_name(PROJECT, graph_stack(graph))
    if iam.launcher_exists(clients, _iam_region(graph), user):
        found[LAUNCHER_KIND].append(user)
    return found


def local_graph(region: str, stack: str = "local", config: dict[str, str] | None = None) -> Graph:
    """The program's graph for the local stack, as `local up` provisions it, without creating anything."""
    return run_program(local_config(region, config), stack=stack)


# --- the command ----------------------------------------------------------------------------------------


def leave_objects(graph: Graph, *, endpoint: str | None) -> int:
    """Put objects in every bucket, as a used stack has them: in the versioned invoices bucket two versions of
    an invoice, then its delete marker, and another invoice. Returns the object versions and markers left."""
    clients = EmulatorClients(endpoint)
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
        steps = {
            "steps": [s.__dict__ for s in report.removed],
            "localOnlySteps": [s.__dict__ for s in report.local_only],
        }
        print(json.dumps({**figures, **steps, "keptResources": report.kept}))
        return
    for step in report.removed:
        print(f"  - {step.type.split(':')[-1]:<44} {step.name:<34} {step.action}")
    for step in report.local_only:
        print(f"  - {step.type.split(':')[-1] + ' (local only)':<44} {step.physical:<34} {step.action}")
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
