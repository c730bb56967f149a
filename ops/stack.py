"""The stack's configuration, read through the Pulumi program's own loader (the one place ops/ touches it).

`Pulumi.yaml` defaults + `Pulumi.<stack>.yaml` (+ what-if overrides), validated by
`components.config.load_stack_file` exactly as `pulumi preview` would validate them. When the loader changes,
only this module changes here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from components.config import StackConfig

ROOT = Path(__file__).resolve().parent.parent


class StackError(ValueError):
    """A stack that cannot be read: no stack file, or a setting the program would refuse (names the key)."""


def load_stack(stack: str, overrides: Mapping[str, str] | None = None) -> StackConfig:
    """The stack's validated `StackConfig`; StackError with the program's own message on bad config.

    `overrides` ("orders:<key>" -> value, as `pulumi config set` stores it) go over the stack file: a what-if."""
    import yaml

    from components.config import PREFIX, ConfigError, config_keys, load_stack_file

    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        found = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
        raise StackError(f"no stack file {path.name} in {ROOT} (stacks here: {', '.join(found) or 'none'})")
    unknown = sorted(
        k for k in (overrides or {}) if not k.startswith(PREFIX) or k.removeprefix(PREFIX) not in config_keys()
    )
    if unknown:
        raise StackError(f"unknown setting(s) {unknown}: Pulumi.yaml declares no such key")
    try:
        return load_stack_file(path, overrides)
    except yaml.YAMLError as exc:  # name the file
        raise StackError(f"{path.name} cannot be read: {exc}") from exc
    except ConfigError as exc:  # the loader names the stack file and the key; type errors are ConfigErrors too
        raise StackError(str(exc)) from exc


def interface_endpoints(cfg: StackConfig) -> int:
    """Interface VPC endpoints the program creates for this config (the fleet's, plus the consumers')."""
    from components.consumers import endpoint_services
    from components.network import INTERFACE_SERVICES

    return len(INTERFACE_SERVICES) + len(list(endpoint_services(cfg.consumers.runtimes)))
