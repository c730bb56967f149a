"""Provision the emulator from the Pulumi program itself.

`EmulatorMocks` is an `AwsMocks` whose `new_resource` creates every resource type the emulator can run (its
`create` in offline/provision/<service>.py) through boto3, as the emulator's root, and hands the emulator's
REAL ARNs/URLs/ids back as the resource's outputs, so every later resource and every stack export sees real
values. The mock runtime registers a resource only once its inputs (and `depends_on`) have resolved, so the
program's own dependency graph orders the API calls, exactly as the engine orders them on AWS.

Inputs arrive in the engine's camelCase shape; each handler translates the keys it knows into API parameters
and rejects any other key, so a misspelt attribute or a malformed redrive policy fails here, locally, instead
of on `pulumi up`. Types the emulator cannot run (VPC, ASG, Lambda, RDS, Route 53, ACM, WAF...) get the
offline mock outputs and are listed in `aws_only`; what is created but not enforced, or validated but kept
out of the emulator, is in `not_applied`; what exists in the emulator only for the local run (the launcher's
trust statements, `offline/provision/iam.py`) is in `local_only`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.intake_api import ORDERS_PATH
from offline.graph import PROGRAM_LOG, PROJECT, Graph, run_program, stack_config
from offline.mocks import AwsMocks
from offline.provision import apigateway, iam
from offline.provision.base import Creation, LauncherCredentials, ProvisionError, Run
from offline.provision.clients import EmulatorClients
from offline.provision.registry import EMULATED_TYPES, REGISTRY

__all__ = [
    "EMULATED_TYPES",
    "EmulatorClients",
    "EmulatorMocks",
    "LauncherCredentials",
    "ProvisionError",
    "Provisioned",
    "local_config",
    "provision",
]


@dataclass
class Provisioned:
    """What one run of the program created in the emulator."""

    graph: Graph
    created: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, physical id) in creation order."""
    aws_only: list[tuple[str, str]] = field(default_factory=list)
    """(type, logical name) of resources recorded as "deployed to AWS only"."""
    not_applied: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, why): validated but not handed to the emulator, or handed but not enforced by it."""
    local_only: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, what): added in the emulator for the local run only (the launcher's trust)."""
    launcher_credentials: LauncherCredentials | None = None
    """The local launcher's access key: it may only `sts:AssumeRole` the stack's roles (`role_arns`)."""
    endpoint: str = ""
    """The emulator's endpoint the stack was provisioned in."""

    @property
    def exports(self) -> dict[str, Any]:
        return self.graph.exports

    def aws_only_types(self) -> list[str]:
        return sorted({t for t, _ in self.aws_only})

    @property
    def role_arns(self) -> dict[str, str]:
        """The emulator's role ARN by the role's logical name (its purpose: `workers-instance`, `shipping-consumer`...)."""
        return {r.name: str(r.outputs["arn"]) for r in self.graph.of_type(iam.ROLE)}

    @property
    def intake_orders_url(self) -> str:
        """POST /orders of the intake API on the emulator (`{endpoint}/restapis/{apiId}/{stage}/_user_request_/orders`)."""
        stages = self.graph.of_type(apigateway.STAGE)
        if len(stages) != 1:
            raise LookupError(f"expected the intake API's one stage, found {len(stages)}")
        stage = stages[0]
        url = apigateway.local_invoke_url(self.endpoint, stage.inputs["restApi"], stage.inputs["stageName"])
        return f"{url}/{ORDERS_PATH}"


class EmulatorMocks(AwsMocks):
    """AwsMocks that create the emulatable resources in the emulator (via boto3, as its root)."""

    def __init__(self, preview: bool, *, endpoint: str | None = None, stack: str = "local") -> None:
        if preview:
            raise ValueError("provisioning creates resources: run the program as `up`, not preview")
        super().__init__(preview)
        self.endpoint = endpoint
        self.created: list[tuple[str, str, str]] = []
        self.aws_only: list[tuple[str, str]] = []
        self.client = EmulatorClients(endpoint)
        self.run = Run(clients=self.client, launcher_name=iam.launcher_user_name(PROJECT, stack))
        self._lock = threading.Lock()

    @property
    def not_applied(self) -> list[tuple[str, str, str]]:
        return self.run.not_applied

    def account_for(self, region: str) -> str:
        """An AWS-only resource's computed outputs name the emulator's account, whatever it is."""
        return self.client.account(region)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[Any, Any]:  # type: ignore[override]
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            # The program builds every ARN and policy from this account: the emulator's own, whatever it is.
            identity = self.client("sts", self.region_for(args.provider)).get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "userId": identity["UserId"],
                "id": identity["Account"],
            }
        return super().call(args)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ.startswith("pulumi:providers:") or not args.custom:
            return super().new_resource(args)
        rtype = REGISTRY.get(args.typ)
        if rtype is None or rtype.create is None:
            with self._lock:
                self.aws_only.append((args.typ, args.name))
            return super().new_resource(args)
        inputs = {k: v for k, v in dict(args.inputs).items() if k != "__defaults"}
        ctx = Creation(run=self.run, type=args.typ, name=args.name, region=self.region_for(args.provider))
        try:
            id_, outputs = rtype.create(ctx, inputs)
        except ProvisionError:
            raise
        except Exception as exc:  # botocore ClientError and friends: name the resource that failed
            raise ProvisionError(f"{ctx.what}: the emulator refused it: {exc}") from exc
        with self._lock:
            self.created.append((args.typ, args.name, id_))
        return id_, {**inputs, "id": id_, **outputs}

    def provisioned(self, graph: Graph, region: str) -> Provisioned:
        return Provisioned(
            graph=graph,
            created=list(self.created),
            aws_only=list(self.aws_only),
            not_applied=list(self.run.not_applied),
            local_only=list(self.run.local_only),
            launcher_credentials=self.run.launcher,
            endpoint=self.client.endpoint_url(region),
        )


def local_config(region: str, config: Mapping[str, str] | None = None) -> dict[str, str]:
    """The local stack's settings: the dev stack's file with the emulator's region as primary, plus `config`."""
    settings = {**stack_config("dev"), "orders:primaryRegion": region, **(config or {})}
    if settings.get("orders:failoverRegion") == region:
        settings["orders:failoverRegion"] = "us-west-2" if region != "us-west-2" else "us-east-2"
    return settings


def provision(
    region: str,
    *,
    endpoint: str | None = None,
    stack: str = "local",
    config: Mapping[str, str] | None = None,
) -> Provisioned:
    """Run the program with `region` as its primary region and create the emulatable resources in the emulator.

    `endpoint` defaults to AWS_ENDPOINT_URL (what `running_emulator` exports). Config is the dev stack's
    file plus `config`, so the local stack is the dev stack with the emulator's region. The local launcher
    (`offline/provision/iam.py`) is created first, then the program's resources, all as the emulator's root.
    """
    mocks = EmulatorMocks(False, endpoint=endpoint, stack=stack)
    iam.ensure_launcher(mocks.run, region)

    def factory(preview: bool) -> pulumi.runtime.Mocks:
        if preview:
            raise ValueError("provisioning creates resources: run the program as `up`, not preview")
        return mocks

    settings = local_config(region, config)
    # The program warns about deploy-time artifacts (Lambda layer, worker wheelhouse) that a local
    # stack never uploads; keep those out of the demo's output, errors still show.
    level = PROGRAM_LOG.level
    PROGRAM_LOG.setLevel(logging.ERROR)
    try:
        graph = run_program(settings, stack=stack, preview=False, mocks=factory)
    finally:
        PROGRAM_LOG.setLevel(level)
    return mocks.provisioned(graph, region)
