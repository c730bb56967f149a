"""The local PostgreSQL launcher works from any checkout, including one under a directory only its owner can enter.

As root the server runs as an unprivileged service user, which cannot traverse a 0700 parent of the
checkout's `.venv`; the launcher then runs a world-readable copy of the binaries, laid out as the wheel
lays them out (`pgserver/pginstall/` beside `pgserver.libs/`), so the bundled libraries still resolve.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest

from simulation.postgres import find_bindir, reachable_bindir, running_postgres


def fake_wheel(site: Path) -> Path:
    """A site-packages holding a pgserver-like wheel: binaries under the package, libraries beside it."""
    bindir = site / "pgserver" / "pginstall" / "bin"
    bindir.mkdir(parents=True)
    for name in ("initdb", "postgres"):
        (bindir / name).write_text("#!/bin/sh\n")
        (bindir / name).chmod(0o755)
    (site / "pgserver.libs").mkdir()
    (site / "pgserver.libs" / "libpq-0000.so.5").write_text("lib")
    return bindir


def test_unreachable_install_is_copied_once_with_its_libraries_where_others_can_enter(tmp_path: Path) -> None:
    private = tmp_path / "private"
    bindir = fake_wheel(private / "site-packages")
    private.chmod(0o700)
    copied = reachable_bindir(bindir, "orders-pg")
    root = copied.parents[2]
    try:
        assert copied != bindir and (copied / "initdb").exists()
        # the RPATH the wheel's binaries carry, $ORIGIN/../../../pgserver.libs, resolves in the copy
        assert (copied / ".." / ".." / ".." / "pgserver.libs" / "libpq-0000.so.5").resolve().exists()
        assert all(p.stat().st_mode & stat.S_IXOTH for p in [copied, *copied.parents])
        assert reachable_bindir(bindir, "orders-pg") == copied  # reused, not copied again
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_reachable_install_or_no_service_user_is_used_in_place() -> None:
    # pytest's own temp dirs are 0700 (pytest-of-<user>), so this install lives in a directory others may enter
    site = Path(tempfile.mkdtemp(prefix="orders-open-site-"))
    try:
        site.chmod(0o755)
        bindir = fake_wheel(site)
        for directory in (bindir, bindir.parent, bindir.parent.parent):
            directory.chmod(0o755)
        assert reachable_bindir(bindir, "orders-pg") == bindir
        assert reachable_bindir(bindir, None) == bindir
    finally:
        shutil.rmtree(site)


def test_server_starts_from_a_wheel_copied_under_a_0700_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a fresh clone under `mktemp -d` (0700) looks like; as root the service user must still run it."""
    wheel = find_bindir().parent.parent
    private = tmp_path / "owner-only"
    shutil.copytree(wheel / "pginstall", private / "site-packages" / wheel.name / "pginstall", symlinks=True)
    for libs in wheel.parent.glob(f"{wheel.name}.libs"):
        shutil.copytree(libs, private / "site-packages" / libs.name, symlinks=True)
    private.chmod(0o700)
    monkeypatch.setenv("ORDERS_PG_BINDIR", str(private / "site-packages" / wheel.name / "pginstall" / "bin"))
    with running_postgres() as server, psycopg.connect(server.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
