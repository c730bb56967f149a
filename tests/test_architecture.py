"""The allowed import directions (docs/architecture.md, "Import directions"): import-linter contracts in pyproject.toml.

`lint-imports` runs them as `make lint` does; the other tests show the contracts cover every top-level
package and that each one breaks on the import it exists to forbid.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract

ROOT = Path(__file__).resolve().parent.parent
CONFIG = read_configuration(str(ROOT / "pyproject.toml"))
CONTRACTS: dict[str, dict[str, Any]] = {c["id"]: c for c in CONFIG["contracts_options"]}


KNOWN_VIOLATIONS: set[str] = set()
"""Imports the tree still makes against the target contracts, each to be fixed (then removed here).
Empty since the metric namespace moved into worker/topology.py (components/worker_fleet.py used to import
worker.fifo.telemetry for it, which dragged Powertools into the program)."""


def test_lint_imports_keeps_every_contract() -> None:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    violations = set(re.findall(r"^-\s+(\S+ -> \S+) \(l\.\d+\)$", run.stdout, re.MULTILINE))
    assert violations == KNOWN_VIOLATIONS, run.stdout[-4000:] + run.stderr[-2000:]
    broken = 1 if KNOWN_VIOLATIONS else 0
    assert f"Contracts: {len(CONTRACTS) - broken} kept, {broken} broken." in run.stdout, run.stdout[-4000:]
    assert run.returncode == (1 if KNOWN_VIOLATIONS else 0), run.stderr[-2000:]


def test_every_top_level_package_is_checked() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert set(CONFIG["session_options"]["root_packages"]) == packages
    sources = {m for c in CONTRACTS.values() for m in c["source_modules"]}
    assert sources == packages - {"tests"}  # tests may import anything; nothing may import tests


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*CONFIG["session_options"]["root_packages"], cache_dir=None)


ALLOWED = {("components", "worker.topology"), ("components", "worker.model")}


@pytest.fixture(scope="module")
def clean(graph: grimp.ImportGraph) -> grimp.ImportGraph:
    """The tree with every direct import a contract forbids taken out (none, once the tree keeps them all),
    so the checks below do not depend on what the tree breaks today."""
    out = copy.deepcopy(graph)
    for options in CONTRACTS.values():
        for source in options["source_modules"]:
            for forbidden in options["forbidden_modules"]:
                for prefix in (source, f"{source}.**"):
                    for suffix in (forbidden, f"{forbidden}.**"):
                        for imp in out.find_matching_direct_imports(import_expression=f"{prefix} -> {suffix}"):
                            if (source, imp["imported"]) not in ALLOWED:
                                out.remove_import(importer=imp["importer"], imported=imp["imported"])
    return out


def kept(contract_id: str, graph: grimp.ImportGraph) -> bool:
    options = CONTRACTS[contract_id]
    contract = ForbiddenContract(
        name=options["name"], session_options=CONFIG["session_options"], contract_options=options
    )
    return bool(contract.check(graph, verbose=False).kept)


@pytest.mark.parametrize("contract_id", sorted(CONTRACTS))
def test_the_clean_tree_keeps_each_contract(clean: grimp.ImportGraph, contract_id: str) -> None:
    assert kept(contract_id, clean)


@pytest.mark.parametrize(
    ("contract_id", "importer", "imported"),
    [
        ("runtime", "worker.fifo.runner", "simulation.emulator"),
        ("runtime", "worker.consumers.cli", "components.queue"),
        ("runtime", "worker.model", "tests.fifo_harness"),
        ("components", "components.queue", "worker.fifo.runner"),
        ("components", "components.worker_fleet", "worker.consumers.cli"),
        ("components", "components.queue", "simulation.stack"),
        ("components", "components.fanout", "offline.graph"),
        ("policy", "policy.guardrails.sqs", "worker.topology"),
        ("policy", "policy.guardrails.core", "components.queue"),
        ("offline", "offline.graph", "simulation.emulator"),
        ("simulation", "simulation.demo", "tests.fifo_harness"),
        ("simulation", "simulation.stack", "policy.guardrails.core"),
        ("bench", "bench.worker", "tests.fifo_harness"),
    ],
)
def test_each_contract_breaks_on_the_import_it_forbids(
    clean: grimp.ImportGraph, contract_id: str, importer: str, imported: str
) -> None:
    changed = copy.deepcopy(clean)
    changed.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert not kept(contract_id, changed)


def test_components_may_import_the_shared_names_and_the_order_model(clean: grimp.ImportGraph) -> None:
    changed = copy.deepcopy(clean)
    for module in ("worker.topology", "worker.model"):
        changed.add_import(importer="components.queue", imported=module, line_number=1, line_contents="")
    assert kept("components", changed)
