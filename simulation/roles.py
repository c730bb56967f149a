"""Each local process under its own role: an AWS config whose profiles assume the stack's roles.

On AWS a FIFO worker gets its credentials from the instance profile and a consumer from its execution
role; the service (EC2, Lambda, ECS) assumes the role for it. Locally the launcher plays that service:
`RoleProfiles` writes a standard AWS config and credentials file (`<out>/aws/`) with

- `[orders-launcher]`: the emulator's IAM user the provisioner created for the local run, allowed
  nothing but `sts:AssumeRole` on the stack's roles (offline/provision: `Provisioned.launcher_credentials`);
- one `[profile <process>]` per process: `role_arn` = the process's role, `source_profile =
  orders-launcher`, `role_session_name` = the process name,

and a child's environment names its profile (`AWS_PROFILE`) and no key of its own. botocore then calls STS
`AssumeRole` through `AWS_ENDPOINT_URL`, refreshes the credentials before they expire, and every call
of the process is made as `assumed-role/<role>/<process>`: the emulator (AUTH=true) evaluates the role's
policies, as AWS would. The same files work with the AWS CLI (`aws --profile worker-1 ...`).
"""

from __future__ import annotations

import configparser
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.session

LAUNCHER_PROFILE = "orders-launcher"
STOREFRONT_PROFILE = "storefront"
"""A client of the intake API (an IAM user with execute-api:Invoke on POST /orders), for the demo and the walkthrough."""
ROLE_OF_WORKER = "workers-instance"
"""The FIFO workers' role (the instance profile's), by its logical name in the program."""


def consumer_role(consumer: str) -> str:
    """A fan-out consumer's execution role, by its logical name in the program."""
    return f"{consumer}-consumer"


@dataclass
class RoleProfiles:
    directory: Path
    role_arns: dict[str, str]
    """Role ARN by the role's logical name in the program (`workers-instance`, `shipping-consumer`, ...)."""
    region: str
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def config_file(self) -> Path:
        return self.directory / "config"

    @property
    def credentials_file(self) -> Path:
        return self.directory / "credentials"

    @classmethod
    def write(
        cls, directory: Path, access_key_id: str, secret_access_key: str, role_arns: dict[str, str], region: str
    ) -> RoleProfiles:
        """Start the files afresh with the launcher's key (readable by this user only)."""
        directory.mkdir(parents=True, exist_ok=True)
        profiles = cls(directory, dict(role_arns), region)
        credentials = configparser.ConfigParser()
        credentials[LAUNCHER_PROFILE] = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        _write_private(profiles.credentials_file, credentials)
        _write_private(profiles.config_file, configparser.ConfigParser())
        return profiles

    def profile(self, process: str, role: str) -> str:
        """The profile `process` uses to act as `role` (added to the config file on first use)."""
        if role not in self.role_arns:
            raise KeyError(f"the stack has no role {role!r}; its roles: {sorted(self.role_arns)}")
        with self._lock:
            config = configparser.ConfigParser()
            config.read(self.config_file)
            config[f"profile {process}"] = {
                "role_arn": self.role_arns[role],
                "source_profile": LAUNCHER_PROFILE,
                "role_session_name": process,
                "region": self.region,
            }
            _write_private(self.config_file, config)
        return process

    def add_user(self, profile: str, access_key_id: str, secret_access_key: str) -> str:
        """A profile with a long-term key of its own (a client of the stack, not one of its roles)."""
        with self._lock:
            credentials = configparser.ConfigParser()
            credentials.read(self.credentials_file)
            credentials[profile] = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
            _write_private(self.credentials_file, credentials)
            config = configparser.ConfigParser()
            config.read(self.config_file)
            config[f"profile {profile}"] = {"region": self.region}
            _write_private(self.config_file, config)
        return profile

    def session(self, profile: str) -> boto3.session.Session:
        """A boto3 session of `profile` from these files, whatever this process's environment holds (an
        explicit profile takes precedence over environment keys in botocore)."""
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(self.config_file))
        core.set_config_variable("credentials_file", str(self.credentials_file))
        core.set_config_variable("profile", profile)
        return boto3.session.Session(botocore_session=core, region_name=self.region)

    def child_env(
        self, process: str, role: str, *, inherit: Mapping[str, str], endpoint: Mapping[str, str]
    ) -> dict[str, str]:
        """A child's environment: what it `inherit`s and the emulator's `endpoint` variables (URL, region),
        with no key of their own, and the profile that assumes `role` as `process`."""
        return {
            **without_credentials(inherit),
            **without_credentials(endpoint),
            "AWS_CONFIG_FILE": str(self.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
            "AWS_PROFILE": self.profile(process, role),
        }


def _write_private(path: Path, parser: configparser.ConfigParser) -> None:
    """Readable by this user only, and replaced in one step: a child starting meanwhile reads the old file
    or the new one (which holds every earlier profile), never a half-written one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    with os.fdopen(fd, "w") as f:
        parser.write(f)
    os.replace(tmp, path)


CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
"""What a child must not inherit: botocore prefers environment keys to the profile."""


def without_credentials(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without any key or profile (`CREDENTIAL_VARIABLES`)."""
    return {k: v for k, v in env.items() if k not in CREDENTIAL_VARIABLES}
