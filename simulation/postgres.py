"""A throwaway PostgreSQL server for tests and the demo: free loopback port, temp data dir, no root needed.

Binaries come from the `pgserver` wheel on PyPI (PostgreSQL 16, installed by `requirements-dev.txt`, so
`make test` needs no system package), else from a system install (`/usr/lib/postgresql/*/bin`, or
`ORDERS_PG_BINDIR`). We drive `initdb` and `postgres` ourselves rather than through pgserver's own
manager, because that one listens on a Unix socket only and keeps a shared data dir; tests want TCP on a
free port and a private dir per run. PostgreSQL refuses to run as root, so when this process is root
(containers, CI) the server runs as a dedicated system user that is created on first use.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg

from simulation.emulator import free_port

SERVICE_USER = "orders-pg"
"""System user the server runs as when the caller is root."""
START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries found, or the server did not start; the message says what to install."""


def find_bindir() -> Path:
    """Where `initdb` and `postgres` live: ORDERS_PG_BINDIR, the pgserver wheel, then a system install."""
    candidates: list[Path] = []
    if os.environ.get("ORDERS_PG_BINDIR"):
        candidates.append(Path(os.environ["ORDERS_PG_BINDIR"]))
    # The pgserver wheel ships a relocatable PostgreSQL 16 under pginstall/. Located, not imported:
    # importing it starts its own runtime-dir and lock machinery, which we do not use.
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.submodule_search_locations:
        candidates += [Path(p) / "pginstall" / "bin" for p in spec.submodule_search_locations]
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), reverse=True)
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "postgres").exists():
            return bindir
    raise PostgresUnavailable(
        "no PostgreSQL binaries: `pip install -r requirements-dev.txt` (pgserver), "
        "or `apt-get install postgresql`, or set ORDERS_PG_BINDIR"
    )


def _service_user() -> str | None:
    """None when not root; otherwise a dedicated unprivileged user (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=False,
            capture_output=True,
        )
        pwd.getpwnam(SERVICE_USER)  # raises if another process did not create it either
    return SERVICE_USER


@dataclass
class PostgresServer:
    dsn: str
    port: int
    data_dir: Path
    bindir: Path
    started_in: float
    """Seconds from `initdb` to the first accepted connection."""
    pid: int = 0
    """The server's process (or the wrapper that runs it as the service user)."""

    def create_database(self, name: str) -> str:
        """Create database `name` and return its DSN."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn.rsplit("/", 1)[0] + f"/{name}"


def _wait_ready(dsn: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise PostgresUnavailable(f"postgres exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"postgres did not accept connections:\n{log.read_text()}") from None
            time.sleep(0.05)


def _others_can_reach(path: Path) -> bool:
    """Whether a user other than the owner may traverse every directory down to `path`."""
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in [path, *path.parents])


def reachable_bindir(bindir: Path, user: str | None) -> Path:
    """`bindir`, or, when the server runs as `user` and cannot enter it (a checkout under a 0700 directory,
    or under /root), a world-readable copy in the temp dir, made once and reused.

    The copy keeps the wheel's layout, `<package>/pginstall/` beside `<package>.libs/`: the binaries find
    their bundled libpq through the RPATH `$ORIGIN/../../../pgserver.libs` that auditwheel wrote."""
    if user is None or _others_can_reach(bindir):
        return bindir
    install, package = bindir.parent, bindir.parent.parent
    trees = {Path(package.name) / install.name: install}
    trees |= {Path(libs.name): libs for libs in package.parent.glob(f"{package.name}.libs")}
    key = hashlib.sha256(f"{install}:{(bindir / 'postgres').stat().st_size}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"orders-pginstall-{key}"
    if not (target / package.name / install.name / bindir.name / "initdb").exists():
        staging = Path(tempfile.mkdtemp(prefix="orders-pginstall-", dir=tempfile.gettempdir()))
        for relative, source in trees.items():
            shutil.copytree(source, staging / "tree" / relative, symlinks=True)
        for directory in [staging, *(staging / "tree").rglob("*")]:
            if directory.is_dir():
                directory.chmod(0o755)
        try:
            os.rename(staging / "tree", target)
        except OSError:  # another process made it first
            shutil.rmtree(staging / "tree", ignore_errors=True)
        os.rmdir(staging)
    if not _others_can_reach(target):
        raise PostgresUnavailable(
            f"the PostgreSQL service user {user!r} cannot enter {target.parent}: set TMPDIR to a directory others may enter"
        )
    return target / package.name / install.name / bindir.name


def _private_root(user: str | None) -> Path:
    """A fresh temp dir for the data dir and the log, owned by the service user when there is one."""
    root = Path(tempfile.mkdtemp(prefix="orders-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    return root


def _initdb(bindir: Path, data_dir: Path, root: Path, user: str | None) -> None:
    init = subprocess.run(
        [str(bindir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
        user=user,
    )
    if init.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")


def _server_command(bindir: Path, data_dir: Path, port: int) -> list[str]:
    """Loopback TCP only, durability off (test data only), room for every test's connections."""
    settings = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=100")
    return [
        str(bindir / "postgres"),
        *("-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1"),
        *("-k", ""),  # no Unix socket: nothing to clash with another test run's socket dir
        *(arg for setting in settings for arg in ("-c", setting)),
    ]


def _start_server(command: list[str], log: Path, root: Path, user: str | None) -> subprocess.Popen[bytes]:
    with log.open("wb") as log_file:
        return subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it cleanly
            user=user,
        )


def _stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # "fast" shutdown: roll back open transactions, exit
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_postgres(port: int | None = None) -> Iterator[PostgresServer]:
    """Start a private server (trust auth, loopback only, fsync off: test data only); stop and delete it on exit."""
    user = _service_user()
    bindir = reachable_bindir(find_bindir(), user)
    root = _private_root(user)
    data_dir, log = root / "data", root / "postgres.log"
    started = time.monotonic()
    proc: subprocess.Popen[bytes] | None = None
    try:
        _initdb(bindir, data_dir, root, user)
        port = port or free_port()
        proc = _start_server(_server_command(bindir, data_dir, port), log, root, user)
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _wait_ready(dsn, proc, log, time.monotonic() + START_TIMEOUT)
        yield PostgresServer(dsn, port, data_dir, bindir, time.monotonic() - started, proc.pid)
    finally:
        if proc is not None:
            _stop_server(proc)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    """`python -m simulation.postgres`: start one, print its DSN and start time, stop on Ctrl-C."""
    with running_postgres() as server:
        print(f"{server.dsn}  (binaries {server.bindir}, ready in {server.started_in:.2f}s); Ctrl-C stops it")
        with suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
