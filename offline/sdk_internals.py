"""Every place the offline harness reaches past the Pulumi SDKs' public API, fenced in this one module.

The SDK's public testing API (`pulumi.runtime.Mocks`, `set_mocks`, `reset_options`, `set_all_config`,
`pulumi.runtime.test`) answers a program's registrations but never hands them over, and `pulumi-policy` has no
client for a running pack. So the harness touches, and only here:

1. `set_recording_mocks`: a subclass of the SDK's `pulumi.runtime.mocks.MockMonitor` (not exported by
   `pulumi.runtime`) that overrides its gRPC method `RegisterResource`, the one place the raw
   RegisterResourceRequest is seen; `Mocks.new_resource` gets a `MockResourceArgs` that has already dropped the
   parent, dependencies and options the graph tests and the policy pack need. Handed to `set_mocks(monitor=)`.
2. The engine protocol's wire constants (`UNKNOWN`, the secret signature), the values `pulumi.runtime.rpc`
   defines (`UNKNOWN`, `_special_sig_key`, `_special_secret_sig`), to read a request's inputs as the engine would.
3. The Analyzer gRPC stubs generated into the SDK (`pulumi.runtime.proto.analyzer_pb2`, `analyzer_pb2_grpc`),
   the command line that starts a Python pack (`python -m pulumi.policy <engine address> <dir>`, what the CLI's
   `pulumi-analyzer-policy-python` shim runs), and the text of the diagnostic `pulumi-policy` sends when a policy
   met an unknown value ("can't run policy ... during preview: ..."): what `offline/policy_client.py` speaks.

The policy pack's own touch (pulumi-policy's unknown-checking proxies) is fenced in
`policy/guardrails/sdk_internals.py`, since the pack imports nothing of the project. `ops/` touches nothing:
`ops/stack.py` validates a stack with `components.config.load_stack_file`, not through the SDK's runtime settings.

`TESTED_WITH` names the versions every touch was verified against; they must equal the pins in
`policy/requirements.txt` (the one place `pulumi` and `pulumi-policy` are pinned). `tests/test_sdk_internals.py`
fails naming the touch when a pin moves or the installed SDK changes what is touched; at run time an SDK other
than `TESTED_WITH` only warns (`warn_if_untested`), since most releases change none of it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "policy" / "requirements.txt"
TESTED_WITH = {"pulumi": "3.272.0", "pulumi-policy": "1.21.0"}
"""The SDK versions every touch below was verified against (tests/test_sdk_internals.py)."""

__all__ = [
    "CANNOT_RUN_PREFIX",
    "PREVIEW_MARK",
    "SECRET_SIG",
    "SECRET_VALUE",
    "TESTED_WITH",
    "UNKNOWN",
    "Registration",
    "analyzer_pb2",
    "analyzer_pb2_grpc",
    "is_cannot_run",
    "pack_command",
    "set_recording_mocks",
    "warn_if_untested",
]


# --- versions ------------------------------------------------------------------------------------------------


def pinned_versions() -> dict[str, str]:
    """`pulumi` and `pulumi-policy` as policy/requirements.txt pins them (`name==version`)."""
    pins = {}
    for line in PINS.read_text().splitlines():
        if m := re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s#;]+)", line):
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return {name: pins[name] for name in TESTED_WITH if name in pins}


def installed_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in TESTED_WITH}


def untested() -> list[str]:
    """One line per package whose pin or installed version is not the one the touches were verified against."""
    found, pinned, installed = [], pinned_versions(), installed_versions()
    for name, tested in TESTED_WITH.items():
        if pinned.get(name) != tested:
            found.append(
                f"{name}: policy/requirements.txt pins {pinned.get(name)}, the touches were verified on {tested}"
            )
        if installed[name] != tested:
            found.append(f"{name}: {installed[name]} is installed, the touches were verified on {tested}")
    return found


@cache
def warn_if_untested() -> None:
    """Warn once per process when the SDK in use is not the one the touches were verified against."""
    for line in untested():
        warnings.warn(
            f"{line}: offline/sdk_internals.py reaches into the SDK; run tests/test_sdk_internals.py",
            stacklevel=2,
        )


# --- 1 and 2: the recording mock monitor and the wire constants ------------------------------------------------

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What an input that is not known yet (preview of an uncreated resource's output) looks like on the wire
(`pulumi.runtime.rpc.UNKNOWN`)."""
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
"""The protocol's signature key (`rpc._special_sig_key`), and its value for a secret (`rpc._special_secret_sig`):
a secret is `{SECRET_SIG: SECRET_VALUE, "value": ...}`."""


@dataclass(frozen=True)
class Registration:
    """One RegisterResource request as the engine would receive it, and the mock's answer (inputs and
    outputs as the wire's JSON: camelCase keys, numbers as floats, unknowns as `UNKNOWN`)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    outputs: dict[str, Any]
    id: str
    protect: bool
    retain_on_delete: bool


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, handing every registration but the root stack's to `record`."""

    def __init__(self, mocks: pulumi.runtime.Mocks, record: Callable[[Registration], None]) -> None:
        super().__init__(mocks)
        self._record = record

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method it overrides
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._record(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    provider=request.provider,
                    inputs=json_format.MessageToDict(request.object),
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    outputs=json_format.MessageToDict(response.object),
                    id=response.id,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                )
            )
        return response


def set_recording_mocks(
    mocks: pulumi.runtime.Mocks,
    record: Callable[[Registration], None],
    *,
    project: str,
    stack: str,
    preview: bool,
    logger: logging.Logger,
) -> None:
    """`pulumi.runtime.set_mocks`, with a monitor that also hands each registration to `record`."""
    warn_if_untested()
    monitor = _RecordingMonitor(mocks, record)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=logger
    )


# --- 3: the Analyzer protocol a policy pack serves ---------------------------------------------------------------

CANNOT_RUN_PREFIX = "can't run"
PREVIEW_MARK = "during preview"
"""pulumi-policy's diagnostic when a policy (or a remediation) touched an unknown value: `can't run policy
'<name>' from policy pack '<pack>@v<version>' during preview: <the UnknownValueError's message>`
(pulumi_policy/policy.py)."""


def is_cannot_run(message: str) -> bool:
    """The SDK's "can't run policy ... during preview" notice (a policy touched an unknown value)."""
    return message.startswith(CANNOT_RUN_PREFIX) and PREVIEW_MARK in message


def pack_command(python: str | None = None) -> list[str]:
    """What the CLI's `pulumi-analyzer-policy-python` shim runs in the pack's directory: pulumi-policy's
    `pulumi.policy` module with an engine address (this client's port 0: Python packs never call back) and the
    pack's directory; the pack prints its gRPC port on the first stdout line."""
    return [python or sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."]
