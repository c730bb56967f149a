"""The AWS emulator the local run talks to: MiniStack started here as a child process, or one the user runs.

Application code never knows it runs locally: it is plain boto3 pointed at the endpoint the standard way
(`AWS_ENDPOINT_URL`). Nothing here patches the emulator. MiniStack is pinned in
simulation/requirements-emulator.txt and installed by `make` into a virtualenv of its own (`.venv-emulator`,
next to `.venv`): it pins a botocore of its own, which the project's awscli and boto3 do not share.

- `running_emulator()`: start MiniStack on a free loopback port, with the account id the offline mocks give the
  program (`offline.mocks.ACCOUNT_ID`), and stop it on exit. With `restartable=True`, `stop()`/`start()` take
  the endpoint away and bring it back with every resource, message and object kept (MiniStack saves its state
  on shutdown and keeps S3 objects on disk: the disk write costs about 3 ms of emulator CPU per PutObject, so
  only the outage tests ask for it); `freeze()`/`thaw()` stop the process without closing its port.
- `connected_emulator(url)`: an emulator the user already runs (MiniStack or LocalStack in Docker, a moto
  server). Its account id is read from STS `GetCallerIdentity`, and the run adapts to it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from offline.mocks import ACCOUNT_ID

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
"""The embedded emulator's root (admin) credentials: provisioning and the demo's read-back checks only."""
EMULATOR_VENV = ROOT / ".venv-emulator"
"""MiniStack's own virtualenv, built by `make` from simulation/requirements-emulator.txt."""
READY_TIMEOUT = 30.0
HEALTH = "/_ministack/health"
RESET = "/_ministack/reset"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ministack_command() -> list[str]:
    """The command that starts MiniStack, or a clear error naming the step that installs it."""
    exe = EMULATOR_VENV / "bin" / "ministack"
    if not exe.exists():
        raise RuntimeError(
            f"MiniStack is not installed at {exe.relative_to(ROOT)}: run `make venv` in the project root "
            "(it builds .venv-emulator from simulation/requirements-emulator.txt)"
        )
    return [str(exe)]


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the process that started it dies, however it dies
    (Linux `PR_SET_PDEATHSIG`), so a killed demo or test leaves no emulator behind. Elsewhere: nothing."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class _Process:
    """One MiniStack child process on a fixed port, restartable with its state kept on disk."""

    def __init__(self, port: int, env: dict[str, str], log: Path | None) -> None:
        self.port, self.env, self.log = port, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                ministack_command(),
                cwd=self.env["STATE_DIR"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to us; we stop it in order
                preexec_fn=_die_with_parent,
            )
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                where = f" (its output: {self.log})" if self.log else ""
                raise RuntimeError(f"MiniStack exited with {self.proc.returncode} before serving{where}")
            try:
                requests.get(f"http://127.0.0.1:{self.port}{HEALTH}", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"MiniStack did not answer on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (MiniStack saves its state and exits), SIGKILL if it does not within 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGCONT)  # a frozen process cannot handle SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)


@dataclass
class Emulator:
    """An emulator endpoint, its region and account, and (when this process started it) its process."""

    endpoint: str
    region: str
    account_id: str = ACCOUNT_ID
    credentials: dict[str, str] = field(default_factory=lambda: dict(DUMMY_CREDENTIALS))
    _process: _Process | None = field(default=None, repr=False, compare=False)
    restartable: bool = False
    """Whether `stop()` then `start()` keeps every resource, message and object."""

    @property
    def pid(self) -> int | None:
        """The emulator's process id, when this process started it."""
        proc = self._process.proc if self._process else None
        return proc.pid if proc is not None else None

    @property
    def embedded(self) -> bool:
        """True when this process started the emulator (it can be stopped, frozen and reset)."""
        return self._process is not None

    def env(self) -> dict[str, str]:
        """Environment for a child process (worker, consumer, AWS CLI) that should talk to the emulator."""
        return {
            **self.credentials,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` against the emulator with its own credentials."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.credentials.get("AWS_SESSION_TOKEN"),
            **kwargs,
        )

    def reset(self) -> None:
        """Forget every resource (MiniStack's reset API; only for an emulator this process started)."""
        self._require_embedded("reset")
        requests.post(f"{self.endpoint}{RESET}", timeout=30).raise_for_status()

    def stop(self) -> None:
        """Take the endpoint away (connections refused); every resource and message is kept for `start`."""
        self._require_embedded("stop")
        if not self.restartable:
            raise RuntimeError("this emulator was started without restartable=True: a restart would lose its state")
        assert self._process is not None
        self._process.stop()

    def start(self) -> None:
        """Serve again on the same port, with every queue, message, table and object as before `stop`."""
        self._require_embedded("start")
        assert self._process is not None
        self._process.start()

    def freeze(self) -> None:
        """Stop the process (SIGSTOP) with its port open: connections are accepted and never answered."""
        self._require_embedded("freeze")
        assert self._process is not None
        self._process.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._require_embedded("thaw")
        assert self._process is not None
        self._process.signal(signal.SIGCONT)

    def _require_embedded(self, what: str) -> None:
        if self._process is None:
            raise RuntimeError(f"cannot {what} an emulator this process did not start ({self.endpoint})")


@contextmanager
def exported_env(env: dict[str, str], *, enabled: bool = True) -> Iterator[None]:
    """Put `env` into this process's environment for the block, then restore what was there."""
    saved = {k: os.environ.get(k) for k in env}
    if enabled:
        os.environ.update(env)
    try:
        yield
    finally:
        if enabled:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def ministack_env(
    port: int, state_dir: str, *, account_id: str = ACCOUNT_ID, auth: bool = True, restartable: bool = False
) -> dict[str, str]:
    """MiniStack's settings: loopback only, the program's account, IAM enforced (`auth`: identity policies
    of assumed roles, trust policies, resource policies); `restartable`: state saved to `state_dir` on
    shutdown and S3 objects kept there, so a restart finds everything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MINISTACK_", "GATEWAY_"))}
    return {
        **env,
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_ACCOUNT_ID": account_id,
        "AUTH": "true" if auth else "false",
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],  # the root key MiniStack accepts
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "PERSIST_STATE": "1" if restartable else "0",
        "STATE_DIR": state_dir,
        "S3_PERSIST": "1" if restartable else "0",
        "S3_DATA_DIR": str(Path(state_dir) / "s3"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def running_emulator(
    region: str = DEFAULT_REGION, *, export_env: bool = True, log: Path | None = None, restartable: bool = False
) -> Iterator[Emulator]:
    """Start MiniStack as a child process on a free loopback port; stop it on exit.

    With `export_env`, this process's boto3 clients also reach it (AWS_ENDPOINT_URL + root credentials).
    `log` receives its output; `restartable`: `stop()` then `start()` keeps everything (see the module).
    """
    with ExitStack() as stack:
        state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ministack-"))
        port = free_port()
        process = _Process(port, ministack_env(port, state_dir, restartable=restartable), log)
        stack.callback(process.stop)
        process.start()
        emulator = Emulator(
            endpoint=f"http://127.0.0.1:{port}", region=region, _process=process, restartable=restartable
        )
        with exported_env(emulator.env(), enabled=export_env):
            yield emulator


def connected_emulator(endpoint: str, region: str = DEFAULT_REGION) -> Emulator:
    """An emulator the user runs at `endpoint`; its account id comes from STS, as the program reads it."""
    emulator = Emulator(endpoint=endpoint.rstrip("/"), region=region)
    sts = emulator.client("sts", config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=10))
    try:
        identity = sts.get_caller_identity()  # type: ignore[attr-defined]
    except Exception as exc:
        raise RuntimeError(f"no AWS emulator answered STS GetCallerIdentity at {endpoint}: {exc}") from exc
    emulator.account_id = str(identity["Account"])
    return emulator


@contextmanager
def emulator_at(endpoint: str | None, region: str = DEFAULT_REGION, *, log: Path | None = None) -> Iterator[Emulator]:
    """The emulator at `endpoint` (the user's), or an embedded one started here when `endpoint` is None;
    either way exported to this process's boto3 clients for the block."""
    if endpoint:
        emulator = connected_emulator(endpoint, region)
        with exported_env(emulator.env()):
            yield emulator
        return
    with running_emulator(region, log=log) as emulator:
        yield emulator
