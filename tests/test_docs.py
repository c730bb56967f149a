"""README and docs/: every relative link resolves (file and heading), nothing in the repo points outside it, and
what the pages cite is real: every repo path and `file.py:function` exists, every `python -m` command and flag
is in that command's `--help`, every `orders:*` key is declared, and the import table is the contracts'."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

from components.config import config_keys

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens (outside code fences)."""
    found, fence = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"#{1,6} (.+)", line)):
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            found.add(text.replace(" ", "-"))
    return found


def test_every_topic_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(PAGES) > 5
    for page in PAGES[1:]:
        assert f"(docs/{page.name})" in readme, page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve_to_a_file_and_heading(page: Path) -> None:
    links = LINK.findall(page.read_text())
    assert links or page.name != "README.md"
    for target in links:
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_file() and ROOT in resolved.parents, f"{page.name}: {target} does not exist in the repo"
        if anchor:
            assert anchor in anchors(resolved), f"{page.name}: no heading #{anchor} in {resolved.name}"


def test_nothing_in_the_repo_refers_to_files_outside_it() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    this = Path(__file__).relative_to(ROOT).as_posix()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if name == this or not path.is_file() or path.suffix in {".png", ".zip"}:
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {needle}" for needle in ("DESIGN.md", "../shared") if needle in text]
    assert offenders == []


# --- what the pages cite: repo paths and names, commands and flags, config keys -------------------------------

ROOT_PACKAGES = ("components", "worker", "offline", "ops", "simulation", "policy", "bench", "tools", "tests")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")
CITED_PATH = re.compile(r"^(?P<path>\.?[A-Za-z0-9_][A-Za-z0-9_.\-/]*?)(?::(?P<name>[A-Za-z_][\w.]*))?$")
ROOT_ONLY_FILES = re.compile(r"^(Pulumi(\.[a-z]+)?\.yaml|policy-config\.[a-z]+\.json|requirements[\w-]*\.txt|pyproject\.toml|Makefile)$")  # fmt: skip
DOTTED = re.compile(rf"^(?:{'|'.join(ROOT_PACKAGES)})(?:\.[A-Za-z_]\w*)+$")
CONFIG_KEY = re.compile(r"(?<![\w-])orders:([A-Za-z][A-Za-z0-9]*)(?![A-Za-z0-9:])")
PYTHON_M = re.compile(r"python -m ([A-Za-z_][\w.]*)((?:\s+[^\s|;&#)]+)*)")


def spans(page: Path) -> list[str]:
    """Inline code spans outside fenced blocks."""
    return SPAN.findall(FENCE.sub("", page.read_text()))


def fenced_lines(page: Path) -> list[str]:
    """Lines of fenced blocks, a `\\`-continued command joined into one line."""
    lines: list[str] = []
    for block in FENCE.findall(page.read_text()):
        for line in block.replace("\\\n", " ").splitlines()[1:-1]:
            lines.append(line)
    return lines


@cache
def top_level() -> frozenset[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return frozenset(name.split("/", 1)[0] for name in tracked.split() if "/" in name)


def _defines(body: list[ast.stmt], name: str) -> list[ast.stmt] | None:
    """The body of what `name` names in `body` (a def's or a class's; [] for a plain assignment), else None."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return node.body
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []  # fmt: skip
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return []
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return []
    return None


def defined_in(path: Path, qualified: str) -> bool:
    """`qualified` (`f`, `Class.method`) is defined in the Python file `path`."""
    body: list[ast.stmt] | None = ast.parse(path.read_text()).body
    for part in qualified.split("."):
        body = _defines(body or [], part)
        if body is None:
            return False
    return True


def dotted_exists(dotted: str) -> bool:
    """`package.module[.name...]` resolves to a module of the repo and, after it, names defined in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if module.is_file():
            rest = ".".join(parts[cut:])
            return not rest or defined_in(module, rest)
    return False


def cited(page: Path) -> list[str]:
    """What the page cites as a repo path (`dir/file`, `file.py:function`) or a dotted name that does not exist."""
    missing = []
    for span in spans(page):
        text = span.strip()
        if any(mark in text for mark in ("<", "*", "...", "{", "$", " ")):
            continue
        if DOTTED.match(text):
            if not dotted_exists(text):
                missing.append(text)
            continue
        m = CITED_PATH.match(text)
        if not m:
            continue
        path = m.group("path")
        first = path.split("/", 1)[0]
        if not (("/" in path and first in top_level() and first != "build") or ROOT_ONLY_FILES.match(path)):
            continue
        target = ROOT / path.rstrip("/")
        if not target.exists() or (
            m.group("name") and not (target.suffix == ".py" and defined_in(target, m.group("name")))
        ):
            missing.append(text)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_repo_path_and_name_a_page_cites_exists(page: Path) -> None:
    assert cited(page) == [], f"{page.name} cites what the repo does not hold"


def test_the_order_path_cites_a_function_at_every_hop() -> None:
    citations = [s for s in spans(ROOT / "docs" / "order-path.md") if CITED_PATH.match(s) and ":" in s]
    assert len(citations) >= 30, "docs/order-path.md names each hop as file:function"


@cache
def help_text(command: tuple[str, ...]) -> str:
    """`python -m <command...> --help`, run once per command."""
    run = subprocess.run(
        [sys.executable, "-m", *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    text = run.stdout + run.stderr
    # a dispatcher may answer --help with its usage and exit 2 (`python -m simulation local`): still a help
    assert run.returncode == 0 or text.lstrip().startswith("usage:"), (
        f"python -m {' '.join(command)} --help:\n{text[-2000:]}"
    )
    return text


def resolve(module: str, words: list[str]) -> tuple[tuple[str, ...], str]:
    """The command the words name (descending while the help lists the next word as a subcommand) and its help."""
    command: tuple[str, ...] = (module,)
    text = help_text(command)
    for word in words:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        lists_it = re.search(rf"^\s+{re.escape(word)}\s", text, re.MULTILINE)
        in_usage = re.search(rf"python -m {re.escape(' '.join(command))} {re.escape(word)}\b", text)
        if not (lists_it or in_usage):
            break
        command = (*command, word)
        text = help_text(command)
    return command, text


def commands_shown(page: Path) -> list[tuple[str, list[str]]]:
    """Each `python -m <project module> ...` the page shows: the module and the tokens that follow it."""
    shown = []
    for snippet in [*spans(page), *fenced_lines(page)]:
        for m in PYTHON_M.finditer(snippet):
            module = m.group(1)
            if module.split(".")[0] in ROOT_PACKAGES:
                shown.append((module, m.group(2).split()))
    return shown


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_and_flag_a_page_shows_is_in_its_help(page: Path) -> None:
    unknown = []
    for module, tokens in commands_shown(page):
        command, text = resolve(module, tokens)
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", " ".join(tokens)):
            if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text):
                unknown.append(f"python -m {' '.join(command)} {flag}")
    assert unknown == [], f"{page.name} shows flags the command's --help does not list"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_config_key_a_page_names_is_declared(page: Path) -> None:
    named = set(CONFIG_KEY.findall(page.read_text()))
    assert sorted(named - set(config_keys())) == [], f"{page.name} names orders: keys Pulumi.yaml does not declare"


def project_imports(package: str) -> set[str]:
    """The other project packages `package` imports directly (absolute imports, at any depth of its code)."""
    others, used = set(ROOT_PACKAGES) - {package}, set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                used |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                used.add(node.module.split(".")[0])
    return used & others


def test_the_import_table_matches_the_contracts_and_the_imports() -> None:
    """docs/architecture.md's import directions: the "never imports" column is each package's import-linter
    contract, and every project package a package imports is named in its row."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    forbidden = {c["source_modules"][0]: set(c["forbidden_modules"]) for c in contracts}
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z]+)` \| (.*) \|$", text, re.MULTILINE))
    assert set(rows) == set(ROOT_PACKAGES), "docs/architecture.md's import table has one row per package"
    for package, row in rows.items():
        imports, never = row.rsplit(" | ", 1)
        if package in forbidden:
            named = (
                set(ROOT_PACKAGES) - {package} if never == "everything else" else set(re.findall(r"`([a-z]+)`", never))
            )
            assert named == forbidden[package], (
                f"`{package}` never imports {sorted(forbidden[package])} (pyproject.toml)"
            )
        if imports != "anything":
            said = {n.split(".")[0] for n in re.findall(r"`([a-z]+)(?:\.[\w.]+)?`", imports)}
            missing = sorted(project_imports(package) - said)
            assert missing == [], f"docs/architecture.md: `{package}` also imports {missing}"
