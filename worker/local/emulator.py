"""The embedded AWS emulator: moto in server mode on 127.0.0.1, reached through `AWS_ENDPOINT_URL`.

Application code never knows it runs locally: it is plain boto3 pointed at the endpoint the standard
way. Only this launcher (used by the tests, the demo and `local up`) imports moto.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    endpoint: str
    region: str

    def env(self) -> dict[str, str]:
        """Environment for a child process (worker, consumer, AWS CLI) that should talk to the emulator."""
        return {
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()


@contextmanager
def running_emulator(
    port: int | None = None, region: str = DEFAULT_REGION, *, export_env: bool = True
) -> Iterator[Emulator]:
    """Start moto's threaded server on a free loopback port; stop it on exit.

    With `export_env`, this process's boto3 clients also reach it (AWS_ENDPOINT_URL + dummy credentials).
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    emulator = Emulator(endpoint=f"http://127.0.0.1:{port}", region=region)
    saved = {k: os.environ.get(k) for k in emulator.env()}
    if export_env:
        os.environ.update(emulator.env())
    try:
        yield emulator
    finally:
        server.stop()
        if export_env:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
