"""The embedded emulator in a child process of its own: `running_emulator` on a core of its own.

moto is pure Python: served from the process that also produces orders, draws the live progress and
verifies the results, it shares one interpreter lock with all of that. The demo, `local up` and the
producer benchmark therefore run the same launcher (`worker.local.emulator.running_emulator`, with its
patch) in a child process and talk to it over HTTP like every other client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from worker.local.emulator import DEFAULT_REGION, Emulator, free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0


@contextmanager
def emulator_process(region: str = DEFAULT_REGION, *, export_env: bool = True) -> Iterator[Emulator]:
    """Start the emulator as a child process on a free port; SIGTERM it on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.local.emulator_process", str(port), region],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to us; we stop it in order
    )
    emulator = Emulator(endpoint=f"http://127.0.0.1:{port}", region=region)
    saved = {k: os.environ.get(k) for k in emulator.env()}
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the emulator process exited with {proc.returncode} before serving")
            try:
                requests.get(f"{emulator.endpoint}/moto-api/data.json", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not answer on {emulator.endpoint}") from None
                time.sleep(0.05)
        if export_env:
            os.environ.update(emulator.env())
        yield emulator
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if export_env:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def serve(port: int, region: str) -> None:
    """Child side: serve until SIGTERM/SIGINT, or until the parent process is gone."""
    from worker.local.emulator import running_emulator

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    with running_emulator(port=port, region=region, export_env=False):
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the parent died without stopping us (SIGKILL): do not linger
                break


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
