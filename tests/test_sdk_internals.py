"""Every reach past the Pulumi SDKs' public API (offline/sdk_internals.py, policy/guardrails/sdk_internals.py)
still holds on the SDK in use, and the pins have not moved since the touches were verified.

Each test names the touch and the file to revisit, so a bump of `pulumi` or `pulumi-policy` in
policy/requirements.txt fails here, with the reason, before it fails somewhere obscure.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi_policy import policy as policy_module
from pulumi_policy import proxy

from offline import sdk_internals
from offline.graph import UNKNOWN, run_program
from offline.policy_client import Diagnostic
from policy.guardrails import sdk_internals as pack_internals
from policy.guardrails.core import plain

ROOT = Path(__file__).resolve().parent.parent
REVISIT = "revisit offline/sdk_internals.py"
REVISIT_PACK = "revisit policy/guardrails/sdk_internals.py"


def test_the_pins_are_the_versions_the_touches_were_verified_on() -> None:
    assert sdk_internals.pinned_versions() == sdk_internals.TESTED_WITH, (
        f"policy/requirements.txt pins {sdk_internals.pinned_versions()}, but the SDK internals were verified on "
        f"{sdk_internals.TESTED_WITH}: {REVISIT} and {REVISIT_PACK}, run this file, then update TESTED_WITH in both"
    )
    assert {"pulumi-policy": sdk_internals.TESTED_WITH["pulumi-policy"]} == pack_internals.TESTED_WITH, REVISIT_PACK


def test_the_installed_sdk_is_the_pinned_one() -> None:
    assert sdk_internals.untested() == [], f"{sdk_internals.untested()}: reinstall from the pins, or {REVISIT}"


def test_the_mock_monitor_still_takes_a_subclass_that_overrides_register_resource() -> None:
    """Touch 1: `pulumi.runtime.mocks.MockMonitor(mocks)` with the gRPC method `RegisterResource(request)`, and
    `set_mocks(..., monitor=)` that uses the monitor given."""
    assert hasattr(pulumi_mocks, "MockMonitor"), f"pulumi.runtime.mocks.MockMonitor is gone: {REVISIT}"
    params = list(inspect.signature(pulumi_mocks.MockMonitor.RegisterResource).parameters)
    assert params == ["self", "request"], f"MockMonitor.RegisterResource now takes {params}: {REVISIT}"
    assert list(inspect.signature(pulumi_mocks.MockMonitor.__init__).parameters)[:2] == ["self", "mocks"], REVISIT
    assert "monitor" in inspect.signature(pulumi.runtime.set_mocks).parameters, f"set_mocks has no monitor=: {REVISIT}"


def test_the_register_resource_request_still_has_the_fields_recorded() -> None:
    fields = set(resource_pb2.RegisterResourceRequest.DESCRIPTOR.fields_by_name)
    read = {"type", "name", "custom", "parent", "provider", "object", "dependencies", "propertyDependencies",
            "protect", "retainOnDelete"}  # fmt: skip
    assert read <= fields, f"RegisterResourceRequest lost {sorted(read - fields)}: {REVISIT}"
    answer = set(resource_pb2.RegisterResourceResponse.DESCRIPTOR.fields_by_name)
    assert {"urn", "id", "object"} <= answer, (
        f"RegisterResourceResponse lost {sorted({'urn', 'id', 'object'} - answer)}"
    )


def test_the_recording_monitor_sees_registrations_with_their_parent_dependencies_and_options() -> None:
    """End to end through the touch: the graph knows parents, dependencies and protect (MockResourceArgs has none)."""
    graph = run_program(stack="test")
    assert graph.resources, f"the recording monitor recorded nothing: {REVISIT}"
    assert any(r.parent for r in graph.resources) and any(r.dependencies for r in graph.resources), REVISIT
    assert any(r.property_dependencies for r in graph.resources), REVISIT


def test_the_wire_constants_are_the_sdks() -> None:
    """Touch 2: the unknown sentinel and the secret signature, as pulumi.runtime.rpc defines them."""
    assert sdk_internals.UNKNOWN == UNKNOWN == rpc.UNKNOWN, f"the unknown sentinel changed: {REVISIT}"
    assert rpc._special_sig_key == sdk_internals.SECRET_SIG, f"the signature key changed: {REVISIT}"
    assert rpc._special_secret_sig == sdk_internals.SECRET_VALUE, f"the secret signature changed: {REVISIT}"
    assert proxy.UNKNOWN_STRING_VALUE == rpc.UNKNOWN, "pulumi-policy and pulumi disagree on the unknown sentinel"


def test_the_analyzer_stubs_still_carry_what_the_client_sends() -> None:
    """Touch 3: the generated stubs in pulumi.runtime.proto, with the messages and fields the client fills."""
    pb2, grpc_pb2 = sdk_internals.analyzer_pb2, sdk_internals.analyzer_pb2_grpc
    assert hasattr(grpc_pb2, "AnalyzerStub"), f"pulumi.runtime.proto.analyzer_pb2_grpc has no AnalyzerStub: {REVISIT}"
    expected = {
        "AnalyzeRequest": {"type", "urn", "name", "properties", "options", "provider"},
        "AnalyzerResource": {
            "type",
            "urn",
            "name",
            "properties",
            "options",
            "provider",
            "parent",
            "dependencies",
            "propertyDependencies",
        },
        "AnalyzerHandshakeRequest": {"engine_address", "root_directory", "program_directory"},
        "AnalyzerStackConfigureRequest": {"stack", "project", "organization", "dry_run", "config", "tags"},
        "ConfigureAnalyzerRequest": {"policyConfig"},
        "PolicyConfig": {"enforcementLevel", "properties"},
        "AnalyzeDiagnostic": {"policyName", "enforcementLevel", "message", "urn"},
    }
    for message, wanted in expected.items():
        assert hasattr(pb2, message), f"analyzer_pb2.{message} is gone: {REVISIT}"
        have = set(getattr(pb2, message).DESCRIPTOR.fields_by_name)
        assert wanted <= have, f"analyzer_pb2.{message} lost {sorted(wanted - have)}: {REVISIT}"
    for level in ("ADVISORY", "MANDATORY", "REMEDIATE", "DISABLED"):
        assert hasattr(pb2, level), f"analyzer_pb2.{level} is gone: {REVISIT}"


def test_the_pack_launch_line_names_a_module_that_exists() -> None:
    command = sdk_internals.pack_command("python")
    module = command[command.index("-m") + 1]
    assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} cannot be run with -m: {REVISIT}"


def test_the_sdk_still_reports_an_unknown_as_cant_run_during_preview() -> None:
    """Touch 3's text and the pack's touch 2: pulumi-policy turns an UnknownValueError into this diagnostic."""
    source = Path(inspect.getfile(policy_module)).read_text()
    shape = re.compile(
        r"""f"can't run policy '\{policy\.name\}' from policy pack "\s*f"'[^"]*' during preview: \{e\.message\}\""""
    )
    assert shape.search(source), f"pulumi_policy/policy.py words the unknown-value diagnostic differently: {REVISIT}"
    assert "except UnknownValueError as e:" in source, (
        f"pulumi-policy no longer catches UnknownValueError: {REVISIT_PACK}"
    )
    said = "can't run policy 'x' from policy pack 'orders-guardrails@v0.1.0' during preview: 1 violation(s) decided"
    assert Diagnostic("x", "advisory", said, "").cannot_run
    assert not Diagnostic("x", "advisory", "Queue 'q' has no DLQ", "").cannot_run


def test_the_proxies_still_expose_what_they_wrap() -> None:
    """The pack's touch 1: `_DictProxy`/`_ListProxy` hand their target over under "__target", unknowns and all."""
    wrapped = proxy.unknown_checking_proxy({"a": rpc.UNKNOWN, "b": [1, {"c": rpc.UNKNOWN}]})
    assert pack_internals.is_proxy(wrapped), f"unknown_checking_proxy no longer returns a _DictProxy: {REVISIT_PACK}"
    with pytest.raises(proxy.UnknownValueError):
        _ = wrapped["a"]  # reading through the proxy is what the pack must avoid
    assert plain(wrapped) == {"a": rpc.UNKNOWN, "b": [1, {"c": rpc.UNKNOWN}]}, REVISIT_PACK


def test_the_pack_s_unknown_signal_is_the_sdk_s() -> None:
    """The pack's touch 2: PartlyUnknown is an UnknownValueError whose message the SDK reports verbatim."""
    error = pack_internals.PartlyUnknown(["Bucket 'b': policy"], 1)
    assert isinstance(error, proxy.UnknownValueError), REVISIT_PACK
    assert (
        error.message
        == "1 violation(s) decided on known values; not checked because unknown until apply: Bucket 'b': policy"
    )
