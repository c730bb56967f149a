"""boto3 clients against the emulator, always as its root: provisioning and teardown are the account owner's work."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

BOTO_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)
ROOT_ACCESS_KEY_ID = "test"
ROOT_SECRET_ACCESS_KEY = "test"
"""The emulator's root key (MiniStack's default, LocalStack's and moto's too). Provisioning uses it whatever this
process's environment holds (a role's session, say) and whether or not the emulator enforces IAM
(MiniStack's AUTH=true)."""


class EmulatorClients:
    """`clients("sqs", region)`: one boto3 client per service and region against `endpoint` (None: the
    `AWS_ENDPOINT_URL*` environment), as the emulator's root. Thread-safe: the mock runtime calls the
    provisioner from threads."""

    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None

    def __call__(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    aws_access_key_id=ROOT_ACCESS_KEY_ID,
                    aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
                    config=BOTO_CONFIG,
                )
            return self._clients[key]

    def account(self, region: str) -> str:
        """The emulator's account id (STS `GetCallerIdentity`): the embedded one's is the mocks', a user's may differ."""
        if self._account is None:
            self._account = str(self("sts", region).get_caller_identity()["Account"])
        return self._account

    def endpoint_url(self, region: str) -> str:
        """The endpoint the clients reach (the one given, else the environment's)."""
        return str(self("sts", region).meta.endpoint_url).rstrip("/")
