"""README and docs/: every relative link resolves (file and heading), and nothing in the repo points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

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
