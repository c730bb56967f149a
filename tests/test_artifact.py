"""The Spot instance artifact ships the runtime package and its playbook, nothing else."""

from __future__ import annotations

import re

from components.worker_fleet import artifact_files

RUNTIME_DATA = ("worker/requirements.txt", "worker/requirements-core.txt", "worker/consumers/Dockerfile")
"""Non-Python runtime files besides the playbook and the consumers' SQL migrations."""
TOOLING = ("simulation", "tests", "offline", "bench", "components", "tools", "policy")


def _names() -> list[str]:
    return [name for name, _ in artifact_files()]


def test_artifact_holds_only_worker_runtime_files_and_the_playbook() -> None:
    names = _names()
    assert "worker/__main__.py" in names and "worker/fifo/runner.py" in names
    assert any(name.startswith("worker/ansible/") for name in names), "the playbook must ship"
    strays = [
        name
        for name in names
        if not name.startswith("worker/")
        or any(part in TOOLING for part in name.split("/"))
        or not (
            name.startswith("worker/ansible/")
            or name.endswith(".py")
            or name in RUNTIME_DATA
            or (name.startswith("worker/consumers/migrations/") and name.endswith(".sql"))
        )
    ]
    assert strays == []


def test_shipped_python_never_imports_the_simulation_or_moto() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(simulation|moto|tests|offline|bench|components)\b", re.M)
    offenders = [name for name, path in artifact_files() if name.endswith(".py") and pattern.search(path.read_text())]
    assert offenders == []
