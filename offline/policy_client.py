"""Drive the real policy pack over its Analyzer gRPC protocol, the way `pulumi preview --policy-pack` does.

The CLI boots a Python pack with the `pulumi-analyzer-policy-python` shim: in the pack directory it runs
`<virtualenv>/bin/python -u -m pulumi.policy <engine address> .` (the virtualenv named by the runtime
options of PulumiPolicy.yaml; this client falls back to its own interpreter when policy/.venv does not
exist, since the project's .venv pins the same pulumi-policy), with
PULUMI_PROJECT / PULUMI_STACK / PULUMI_DRY_RUN / PULUMI_CONFIG in the environment; the pack prints its
port on the first stdout line. The CLI then calls Handshake (Unimplemented is accepted, as the Python
SDK does not implement it), ConfigureStack, GetAnalyzerInfo, Configure with one entry per policy
(enforcement level + schema defaults + overrides, validated against the schema), Analyze for each
resource and AnalyzeStack at the end. This client does the same, and always stops the process. The
protocol's stubs (generated into the SDK), the launch line and the SDK's "can't run" text come from
`offline/sdk_internals.py`, where every reach past the SDK's public API is fenced.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2

from offline.graph import PROJECT, ROOT, Graph, Resource
from offline.sdk_internals import analyzer_pb2, analyzer_pb2_grpc, is_cannot_run, pack_command, warn_if_untested

PACK_DIR = ROOT / "policy"
LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVELS = {name: value for value, name in LEVEL_NAMES.items()}
START_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0


class PolicyPackError(RuntimeError):
    """The pack failed to start, rejected its config, or a call failed; carries the pack's stderr."""


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str
    message: str
    urn: str

    @property
    def cannot_run(self) -> bool:
        """The SDK's "can't run policy ... during preview" notice (a policy touched an unknown value)."""
        return is_cannot_run(self.message)


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(value), struct)
    return struct


def _python_for(pack_dir: Path) -> str:
    """The pack's own virtualenv (as the CLI uses), else this interpreter (which has pulumi-policy pinned)."""
    project = pack_dir / "PulumiPolicy.yaml"
    if not project.is_file():
        raise PolicyPackError(f"{pack_dir} is not a policy pack: no PulumiPolicy.yaml")
    runtime = (yaml.safe_load(project.read_text()) or {}).get("runtime")  # `python` or {name, options}
    options = runtime.get("options") or {} if isinstance(runtime, dict) else {}
    venv = options.get("virtualenv")
    candidate = pack_dir / str(venv) / "bin" / "python" if venv else None
    return str(candidate) if candidate is not None and candidate.exists() else sys.executable


class PolicyPackProcess:
    """A running policy pack and an Analyzer stub for it. Use as a context manager: the process always ends."""

    def __init__(
        self,
        pack_dir: Path = PACK_DIR,
        *,
        stack: str = "dev",
        preview: bool = False,
        config: Mapping[str, str] | None = None,
        python: str | None = None,
    ) -> None:
        self.pack_dir = pack_dir
        self.stack = stack
        self.preview = preview
        self.config = dict(config or {})
        self.python = python or _python_for(pack_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self.port = 0
        self._stderr: list[bytes] = []

    # --- process lifecycle ---------------------------------------------------------------------------

    def start(self) -> PolicyPackProcess:
        warn_if_untested()
        args = pack_command(self.python)
        env = {
            **os.environ,
            "PULUMI_PROJECT": PROJECT,
            "PULUMI_STACK": self.stack,
            "PULUMI_ORGANIZATION": "organization",
            "PULUMI_DRY_RUN": "true" if self.preview else "false",
            "PULUMI_CONFIG": json.dumps(self.config),
        }
        self.process = subprocess.Popen(
            args, cwd=self.pack_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        port_line: list[bytes] = []
        reader = threading.Thread(target=lambda: port_line.append(self._stdout().readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        line = port_line[0].strip() if port_line else b""
        if not line.isdigit():
            self.close()
            raise PolicyPackError(f"policy pack did not print its port (got {line!r}); stderr:\n{self.stderr}")
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self

    def _stdout(self) -> Any:
        assert self.process is not None and self.process.stdout is not None
        return self.process.stdout

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for chunk in iter(self.process.stderr.readline, b""):
            self._stderr.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def close(self) -> None:
        """Stop the pack (SIGTERM, then SIGKILL after 5 s) and close the channel; safe to call twice."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process is not None:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> PolicyPackProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the Analyzer protocol -------------------------------------------------------------------------

    def _call(self, method: str, request: Any) -> Any:
        if self.stub is None:
            raise PolicyPackError("policy pack is not running")
        try:
            return getattr(self.stub, method)(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            raise PolicyPackError(f"{method} failed: {exc.code()} {exc.details()}\nstderr:\n{self.stderr}") from exc

    def handshake(self) -> bool:
        """Handshake as the CLI does; False when the pack does not implement it (the CLI then carries on)."""
        directory = str(self.pack_dir)
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address="127.0.0.1:0", root_directory=directory, program_directory=directory
        )
        assert self.stub is not None
        try:
            self.stub.Handshake(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise PolicyPackError(f"Handshake failed: {exc.code()} {exc.details()}") from exc
        return True

    def configure_stack(self, tags: Mapping[str, str] | None = None) -> None:
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack,
                project=PROJECT,
                organization="organization",
                dry_run=self.preview,
                config=self.config,
                tags=dict(tags or {}),
            ),
        )

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return self._call("GetAnalyzerInfo", empty_pb2.Empty())

    def cli_config(self, overrides: Mapping[str, str | Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
        """What the CLI sends to Configure: every policy with its level and schema defaults, then the
        `--policy-pack-config` overrides (a level string, or an object with enforcementLevel and properties),
        validated against each policy's schema. An unknown policy name or a bad value is an error."""
        info = self.info()
        config: dict[str, dict[str, Any]] = {}
        schemas: dict[str, dict[str, Any]] = {}
        for policy in info.policies:
            schema = json_format.MessageToDict(policy.configSchema.properties)
            schemas[policy.name] = {
                "type": "object",
                "properties": {**schema, "enforcementLevel": {"enum": list(LEVELS)}},
                "required": list(policy.configSchema.required),
                "additionalProperties": False,
            }
            defaults = {k: v["default"] for k, v in schema.items() if "default" in v}
            config[policy.name] = {"enforcementLevel": LEVEL_NAMES[policy.enforcementLevel], **defaults}
        for name, value in (overrides or {}).items():
            if name not in config:
                raise PolicyPackError(f"policy pack config names unknown policy {name!r}")
            if isinstance(value, str):
                config[name]["enforcementLevel"] = value
            else:
                config[name].update(copy.deepcopy(dict(value)))
        for name, values in config.items():
            try:
                jsonschema.validate(values, schemas[name])
            except jsonschema.ValidationError as exc:
                where = ".".join(str(p) for p in exc.absolute_path) or "(the policy's object)"
                raise PolicyPackError(f"invalid config for policy {name!r} at {where}: {exc.message}") from exc
        return config

    def configure(self, overrides: Mapping[str, str | Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
        config = self.cli_config(overrides)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, values in config.items():
            props = {k: v for k, v in values.items() if k != "enforcementLevel"}
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=LEVELS[values["enforcementLevel"]], properties=_struct(props)
                )
            )
        self._call("Configure", request)
        return config

    def _provider(self, graph: Graph, resource: Resource) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not resource.provider_urn:
            return None
        provider = graph.by_urn(resource.provider_urn)
        return analyzer_pb2.AnalyzerProviderResource(
            type=provider.type, urn=provider.urn, name=provider.name, properties=_struct(provider.wire)
        )

    def analyze(self, graph: Graph, resource: Resource) -> list[Diagnostic]:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=_struct(resource.wire),
            options=analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent),
            provider=self._provider(graph, resource),
        )
        # The engine attributes a resource policy's diagnostics to the analyzed resource.
        return self._diagnostics(self._call("Analyze", request), default_urn=resource.urn)

    def analyze_stack(self, graph: Graph) -> list[Diagnostic]:
        resources = [
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                urn=r.urn,
                name=r.name,
                properties=_struct(r.wire),
                options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent),
                provider=self._provider(graph, r),
                parent=r.parent,
                dependencies=r.dependencies,
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                    for k, v in r.property_dependencies.items()
                    if v
                },
            )
            for r in graph.resources
        ]
        return self._diagnostics(self._call("AnalyzeStack", analyzer_pb2.AnalyzeStackRequest(resources=resources)))

    def analyze_graph(self, graph: Graph) -> list[Diagnostic]:
        """Analyze every resource (providers excepted, as the engine does) and then the whole stack."""
        found: list[Diagnostic] = []
        for resource in graph.resources:
            if not resource.type.startswith("pulumi:providers:"):
                found += self.analyze(graph, resource)
        return found + self.analyze_stack(graph)

    @staticmethod
    def _diagnostics(response: analyzer_pb2.AnalyzeResponse, default_urn: str = "") -> list[Diagnostic]:
        return [
            Diagnostic(d.policyName, LEVEL_NAMES[d.enforcementLevel], d.message, d.urn or default_urn)
            for d in response.diagnostics
        ]


def mandatory(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.level == "mandatory"]
