"""Shared fixtures. The project root is on sys.path so tests import `components`, `worker`, `offline`.

- `emulator`: the embedded AWS emulator (MiniStack, its own process) for one test module, its endpoint and dummy
  credentials exported to this process. A module picks its region by overriding `emulator_region`.
- `no_mandatory_violation`: runs the policy pack as the CLI does over a captured graph, asserts that no
  mandatory rule is violated and returns every diagnostic for the test's own checks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# Imported at collection, not late: a run with no hypothesis test makes hypothesis's pytest plugin import
# it in the terminal summary, where pytest's assertion rewriter parses its modules deep in the hook stack,
# and CPython 3.11.7 then intermittently fails the parse with "SystemError: AST constructor recursion
# depth mismatch" (fixed in later 3.11 releases), turning a green run red after the last test.
import hypothesis  # noqa: F401
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline.graph import Graph  # noqa: E402
from offline.policy_client import Diagnostic, PolicyPackProcess, mandatory  # noqa: E402
from simulation.emulator import DEFAULT_REGION, Emulator, running_emulator  # noqa: E402

CheckPack = Callable[..., list[Diagnostic]]


@pytest.fixture(scope="module")
def emulator_region() -> str:
    """The region the module's emulator reports (override in a module to change it)."""
    return DEFAULT_REGION


@pytest.fixture(scope="module")
def emulator_restartable() -> bool:
    """Whether the module's emulator keeps its state across `stop()`/`start()` (override to True in a module
    that takes the endpoint away: it costs emulator CPU on every S3 write)."""
    return False


@pytest.fixture(scope="module")
def emulator(emulator_region: str, emulator_restartable: bool) -> Iterator[Emulator]:
    with running_emulator(region=emulator_region, restartable=emulator_restartable) as emu:
        yield emu


@pytest.fixture(scope="module")
def no_mandatory_violation() -> CheckPack:
    """`check(graph, pack=None, *, stack="test")`: analyze `graph` with `pack` (a running, configured
    PolicyPackProcess) or with a fresh pack started and configured for `stack` and the graph's preview
    flag; assert no mandatory violation; return all diagnostics."""

    def check(graph: Graph, pack: PolicyPackProcess | None = None, *, stack: str = "test") -> list[Diagnostic]:
        if pack is None:
            with PolicyPackProcess(stack=stack, preview=graph.preview) as fresh:
                fresh.configure()
                diagnostics = fresh.analyze_graph(graph)
        else:
            assert pack.preview == graph.preview, "the pack and the graph disagree on preview"
            diagnostics = pack.analyze_graph(graph)
        assert mandatory(diagnostics) == []
        return diagnostics

    return check
