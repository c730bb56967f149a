"""KMS: keys and aliases."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from offline.provision.base import Creation, Deletion, Outputs, ResourceType, arn, json_document, take

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
OFFLINE_KEY_ID = "0b6c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
KEY_INPUTS = {"description", "enableKeyRotation", "deletionWindowInDays", "policy", "keyUsage", "customerMasterKeySpec"}


def key_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    return OFFLINE_KEY_ID, {
        "arn": arn("kms", region, f"key/{OFFLINE_KEY_ID}", account=account),
        "keyId": OFFLINE_KEY_ID,
    }


def create_key(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {*KEY_INPUTS, "tags"}, ctx.what, ignore=("isEnabled", "multiRegion", "bypassPolicyLockoutSafetyCheck"))
    kms = ctx.client("kms")
    kwargs: dict[str, Any] = {"Description": inputs.get("description", "")}
    if inputs.get("policy"):
        json_document(inputs["policy"], ctx.what)
        kwargs["Policy"] = inputs["policy"]
    for key, api in (("keyUsage", "KeyUsage"), ("customerMasterKeySpec", "KeySpec")):
        if inputs.get(key):
            kwargs[api] = inputs[key]
    meta = kms.create_key(**kwargs)["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"arn": meta["Arn"], "keyId": meta["KeyId"]}


def create_alias(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"name", "targetKeyId"}, ctx.what)
    kms = ctx.client("kms")
    kms.create_alias(AliasName=inputs["name"], TargetKeyId=inputs["targetKeyId"])
    alias_arn = next(a["AliasArn"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == inputs["name"])
    return inputs["name"], {"arn": alias_arn, "targetKeyArn": ""}


def resolve_key(ctx: Deletion) -> str | None:
    """The key's id in the emulator: the graph's (provisioned in this process), else through its alias (which
    is deleted before the key, hence resolved before anything is deleted)."""
    kms = ctx.client("kms")
    if ctx.resource.id:
        try:
            return str(kms.describe_key(KeyId=ctx.resource.id)["KeyMetadata"]["KeyId"])
        except ClientError:
            pass
    aliases = {a.inputs["name"] for a in ctx.graph.of_type(ALIAS) if ctx.resource.urn in a.dependencies}
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] in aliases and alias.get("TargetKeyId"):
            return str(alias["TargetKeyId"])
    return None


def delete_key(ctx: Deletion) -> tuple[str, str]:
    key_id = ctx.resolved.get(ctx.resource.urn)
    if key_id is None:
        return "?", "already gone"
    days = int(ctx.inputs.get("deletionWindowInDays") or 30)
    ctx.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    return key_id, f"deletion scheduled in {days} days"


def delete_alias(ctx: Deletion) -> tuple[str, str]:
    name = ctx.inputs["name"]
    return ctx.unless_gone(lambda: ctx.client("kms").delete_alias(AliasName=name), name, "deleted")


def remaining_key(ctx: Deletion) -> list[str]:
    """The key, unless it is gone or pending deletion (KMS keeps a deleted key until its window ends)."""
    key_id = ctx.resolved.get(ctx.resource.urn)
    if not key_id:
        return []
    state = ctx.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    return [] if state == "PendingDeletion" else [key_id]


def remaining_alias(ctx: Deletion) -> list[str]:
    name = ctx.inputs["name"]
    return [name] if any(a["AliasName"] == name for a in ctx.client("kms").list_aliases()["Aliases"]) else []


TYPES = (
    ResourceType(ALIAS, create=create_alias, delete=delete_alias, kind="aliases", remaining=remaining_alias),
    ResourceType(
        KEY,
        outputs=key_outputs,
        create=create_key,
        delete=delete_key,
        resolve=resolve_key,
        kind="keys",
        remaining=remaining_key,
    ),
)
