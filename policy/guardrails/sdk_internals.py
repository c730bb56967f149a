"""Every place the pack reaches past pulumi-policy's public API, fenced in this one module.

The pack imports nothing of the project (the "policy" import contract), so its touches live here rather than in
`offline/sdk_internals.py`, with the same treatment: why, the version verified (`TESTED_WITH`, equal to the pin
in `policy/requirements.txt`), and a check in `tests/test_sdk_internals.py` that fails naming the touch.

1. `proxy_target`: pulumi-policy hands a validation its inputs wrapped in unknown-checking proxies
   (`pulumi_policy.proxy._DictProxy` / `_ListProxy`) that raise on the first unknown value read, after which
   the SDK skips the whole policy ("can't run ... during preview"). The rules must decide on the known parts and
   list only what is unknown, so they read the proxied container itself, which the proxies expose under the
   undocumented key `"__target"`.
2. `PartlyUnknown`: the other way round, the pack raises the SDK's `pulumi_policy.proxy.UnknownValueError` (not
   exported by `pulumi_policy`) with its own `message`; the SDK reports any UnknownValueError as the advisory
   "can't run policy '<id>' ... during preview: <message>", so that message lists exactly what was not checked.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

TESTED_WITH = {"pulumi-policy": "1.21.0"}
"""The pulumi-policy version both touches were verified against."""

_PROXIES = ("_DictProxy", "_ListProxy")
_TARGET = "__target"


def is_proxy(value: Any) -> bool:
    """One of pulumi-policy's unknown-checking proxies (a dict or a list of inputs)."""
    return type(value).__name__ in _PROXIES


def proxy_target(value: Any) -> Any:
    """The dict or list a proxy wraps (unknown values left in it as the wire's sentinels); anything else as is."""
    if not is_proxy(value):
        return value
    try:
        return value[_TARGET]
    except (KeyError, IndexError, TypeError) as exc:
        raise RuntimeError(
            f"pulumi-policy's {type(value).__name__} no longer exposes what it wraps under {_TARGET!r} (verified on "
            f"pulumi-policy {TESTED_WITH['pulumi-policy']}): update policy/guardrails/sdk_internals.py"
        ) from exc


class PartlyUnknown(UnknownValueError):
    """The SDK's "unknown during preview" signal, with a message listing exactly what was not checked."""

    def __init__(self, unchecked: list[str], decided: int) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = (
            f"{decided} violation(s) decided on known values; not checked because unknown until apply: "
            + "; ".join(unchecked)
        )
