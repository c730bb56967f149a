"""One pin per package across the requirement files; the program's venv gets none of the runtime's extras."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("requirements.txt", "requirements-dev.txt", "worker/requirements.txt", "policy/requirements.txt")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==")


def _lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def _closure(path: Path, seen: set[Path] | None = None) -> set[Path]:
    """`path` and every file it pulls in with `-r`, resolved relative to the including file, as pip does."""
    seen = seen if seen is not None else set()
    path = path.resolve()
    if path in seen:
        return seen
    seen.add(path)
    for line in _lines(path):
        if line.startswith("-r "):
            _closure(path.parent / line[3:].strip(), seen)
    return seen


def _pins(paths: set[Path]) -> list[str]:
    return [m.group(1).lower() for p in sorted(paths) for line in _lines(p) if (m := PIN.match(line))]


def test_no_package_is_pinned_twice() -> None:
    files = set().union(*(_closure(ROOT / f) for f in FILES))
    pins = _pins(files)
    assert sorted(p for p in set(pins) if pins.count(p) > 1) == []


def test_every_requirement_line_is_a_pin_or_an_include() -> None:
    for path in set().union(*(_closure(ROOT / f) for f in FILES)):
        for line in _lines(path):
            assert line.startswith("-r ") or PIN.match(line), f"{path.name}: {line}"
            if line.startswith("-r "):
                assert (path.parent / line[3:].strip()).is_file(), f"{path.name}: {line}"


def test_program_venv_excludes_the_runtime_extras_but_has_what_the_program_imports() -> None:
    pins = set(_pins(_closure(ROOT / "requirements.txt")))
    assert not pins & {"psycopg", "rich", "aws-lambda-powertools"}
    assert {"pulumi", "pulumi-aws", "pydantic"} <= pins


def test_dev_venv_installs_everything() -> None:
    dev = set(_pins(_closure(ROOT / "requirements-dev.txt")))
    for f in FILES:
        assert set(_pins(_closure(ROOT / f))) <= dev, f
