"""The stack's configuration, read through the Pulumi program's own loader (the one place ops/ touches it).

`Pulumi.yaml` defaults + `Pulumi.<stack>.yaml`, exactly as `offline.graph` hands them to the program, then
`components.config.StackConfig.load` validates them as `pulumi preview` would. When the loader changes
(e.g. to a pydantic model), only this module changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class StackError(ValueError):
    """A stack that cannot be read: no stack file, or a setting the program would refuse (names the key)."""


def load_stack(stack: str, overrides: Mapping[str, str] | None = None) -> Any:
    """The stack's validated `StackConfig`; StackError with the program's own message on bad config.

    `overrides` ("orders:<key>" -> value, as `pulumi config set` stores it) go over the stack file: a what-if."""
    import pulumi
    from pulumi.runtime import settings

    from components.config import ConfigError, StackConfig
    from offline.graph import PROJECT, project_defaults, stack_config

    if not (ROOT / f"Pulumi.{stack}.yaml").is_file():
        found = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
        raise StackError(f"no stack file Pulumi.{stack}.yaml in {ROOT} (stacks here: {', '.join(found) or 'none'})")
    try:
        values = stack_config(stack)
    except Exception as exc:  # a YAML error: name the file
        raise StackError(f"Pulumi.{stack}.yaml cannot be read: {exc}") from exc
    defaults = project_defaults()
    unknown = sorted(k for k in (overrides or {}) if k not in defaults)
    if unknown:
        raise StackError(f"unknown setting(s) {unknown}: Pulumi.yaml declares no such key")
    pulumi.runtime.set_all_config({**defaults, **values, **(overrides or {})})
    settings.SETTINGS.project, settings.SETTINGS.stack = PROJECT, stack
    try:
        return StackConfig.load(pulumi.Config(PROJECT))
    except ConfigError as exc:  # the loader names the stack file and the key; type errors are ConfigErrors too
        raise StackError(str(exc)) from exc


def interface_endpoints(cfg: Any) -> int:
    """Interface VPC endpoints the program creates for this config (the fleet's, plus the consumers')."""
    from components.consumers import endpoint_services
    from components.network import INTERFACE_SERVICES

    return len(INTERFACE_SERVICES) + len(list(endpoint_services(cfg.consumers.runtimes)))
