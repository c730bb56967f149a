"""Build the stack (`components.program.build`) under Pulumi's mock runtime and capture the graph it registers.

This is how the project is proven without the Pulumi CLI or an AWS account: a recording monitor sees
every RegisterResource the program makes (type, name, parent, provider, inputs, dependencies), in the
exact camelCase, floats-for-numbers shape the engine and the policy pack receive. Config comes from
the test or a stack file, with `Pulumi.yaml` defaults applied as the CLI applies them (both read by
`components/config.py`, the one stack-file loader). The SDK's public testing API runs the program
(`reset_options`, `set_all_config`, `set_mocks`, `pulumi.runtime.test`); recording what it registers is the
one reach past that API, fenced in `offline/sdk_internals.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.config import StackConfig, stack_settings
from components.config import project_defaults as declared_defaults
from components.program import build
from offline.mocks import AwsMocks
from offline.sdk_internals import SECRET_SIG, SECRET_VALUE, UNKNOWN, Registration, set_recording_mocks

__all__ = [
    "PROGRAM_LOG",
    "PROJECT",
    "ROOT",
    "UNKNOWN",
    "Graph",
    "Resource",
    "project_defaults",
    "run_program",
    "stack_config",
]

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "orders"
PROGRAM_LOG = logging.getLogger("orders.program")
"""Where the program's `pulumi.log` lines go under mocks (the CLI would print them in the preview)."""


def _plain(value: Any) -> Any:
    """Wire struct -> plain Python: secrets unwrapped, unknowns kept as the UNKNOWN sentinel."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    """Plain inputs (camelCase keys, numbers as floats, unknowns as `UNKNOWN`)."""
    wire: dict[str, Any]
    """Inputs exactly as serialized on the wire; what the policy pack's Analyzer is sent."""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    protect: bool = False
    """The `protect` resource option: the engine refuses to delete or replace the resource."""
    retain_on_delete: bool = False
    """The `retainOnDelete` resource option: a delete only drops the resource from the state."""

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class Graph:
    resources: list[Resource]
    exports: dict[str, Any]
    preview: bool

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Resource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            raise KeyError(f"expected one {type_} named {name!r}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)

    def region_of(self, resource: Resource) -> str:
        """The region of the explicit provider a resource was registered with ('' if none)."""
        if not resource.provider_urn:
            return ""
        return str(self.by_urn(resource.provider_urn).inputs.get("region", ""))

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]


def _resource(registration: Registration) -> Resource:
    r = registration
    return Resource(
        urn=r.urn,
        type=r.type,
        name=r.name,
        custom=r.custom,
        parent=r.parent,
        provider=r.provider,
        inputs=_plain(r.inputs),
        wire=r.inputs,
        dependencies=r.dependencies,
        property_dependencies=r.property_dependencies,
        outputs=_plain(r.outputs),
        id=r.id,
        protect=r.protect,
        retain_on_delete=r.retain_on_delete,
    )


def project_defaults() -> dict[str, str]:
    """The `config:` defaults declared in Pulumi.yaml, keyed `<PROJECT>:<key>` as the CLI passes them (PROJECT is
    Pulumi.yaml's `name`; a test may patch it to build the stack under another project name)."""
    return declared_defaults(ROOT / "Pulumi.yaml", project=PROJECT)


def stack_config(stack: str) -> dict[str, str]:
    """The settings of `Pulumi.<stack>.yaml`, as strings, exactly as the CLI hands them to the program."""
    return stack_settings(ROOT / f"Pulumi.{stack}.yaml")


def run_program(
    config: Mapping[str, str] | None = None,
    *,
    stack: str = "dev",
    preview: bool = False,
    mocks: Callable[[bool], pulumi.runtime.Mocks] = AwsMocks,
) -> Graph:
    """Build the stack once under mocks and return what it registered and exported.

    `config` keys are `orders:<key>` (or another namespace); Pulumi.yaml defaults fill the rest.
    With `preview=True` the run is a dry run: resources return only their inputs, so every output the
    program reads from a resource not yet created is unknown, as in `pulumi preview` of a new stack.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.reset_options(project=PROJECT, stack=stack, root_directory=str(ROOT), preview=preview)
        pulumi.runtime.set_all_config({**project_defaults(), **(config or {})})
        captured: list[Resource] = []
        set_recording_mocks(
            mocks(preview),
            lambda registration: captured.append(_resource(registration)),
            project=PROJECT,
            stack=stack,
            preview=preview,
            logger=PROGRAM_LOG,
        )
        exports: dict[str, Any] = {}

        @pulumi.runtime.test
        def program() -> pulumi.Output[None]:
            outputs = build(StackConfig.load())
            return pulumi.Output.from_input(_resolve(outputs, exports))

        program()
        return Graph(resources=captured, exports=exports, preview=preview)
    finally:
        pulumi.runtime.reset_options()
        asyncio.set_event_loop(None)
        loop.close()


async def _resolve(outputs: Mapping[str, Any], into: dict[str, Any]) -> None:
    """Each stack output's value, or UNKNOWN when it is not known (preview)."""
    for name, value in outputs.items():
        out = pulumi.Output.from_input(value)
        into[name] = await out.future() if await out.is_known() else UNKNOWN
