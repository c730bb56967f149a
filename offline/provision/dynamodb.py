"""DynamoDB: tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from offline.provision.base import (
    NOT_FOUND,
    Creation,
    DeleteRefused,
    Deletion,
    Outputs,
    ResourceType,
    arn,
    error_code,
    take,
)

TABLE = "aws:dynamodb/table:Table"
TABLE_INPUTS = frozenset(
    {
        "name",
        "hashKey",
        "rangeKey",
        "attributes",
        "billingMode",
        "pointInTimeRecovery",
        "serverSideEncryption",
        "deletionProtectionEnabled",
        "globalSecondaryIndexes",
        "ttl",
        "streamEnabled",
        "streamViewType",
        "readCapacity",
        "writeCapacity",
        "tags",
    }
)
"""The `aws.dynamodb.Table` inputs the emulator translation knows."""


def table_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    return name, {"arn": arn("dynamodb", region, f"table/{name}", account=account)}


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def _sse_specification(sse: Mapping[str, Any]) -> dict[str, Any]:
    """SSE with KMS: the table's own key when one is named, else the AWS-managed key."""
    return {"Enabled": True, "SSEType": "KMS", **({"KMSMasterKeyId": sse["kmsKeyArn"]} if sse.get("kmsKeyArn") else {})}


def _global_secondary_indexes(indexes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "IndexName": g["name"],
            "KeySchema": _key_schema(g["hashKey"], g.get("rangeKey")),
            "Projection": {"ProjectionType": g.get("projectionType", "ALL")},
        }
        for g in indexes
    ]


def create_table_request(inputs: Outputs) -> dict[str, Any]:
    """`aws.dynamodb.Table` inputs (camelCase) -> the parameters of DynamoDB CreateTable."""
    request: dict[str, Any] = {
        "TableName": inputs["name"],
        "KeySchema": _key_schema(inputs["hashKey"], inputs.get("rangeKey")),
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        "BillingMode": inputs.get("billingMode", "PROVISIONED"),
        "DeletionProtectionEnabled": bool(inputs.get("deletionProtectionEnabled", False)),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(inputs["readCapacity"]),
            "WriteCapacityUnits": int(inputs["writeCapacity"]),
        }
    sse = inputs.get("serverSideEncryption") or {}
    if sse.get("enabled"):
        request["SSESpecification"] = _sse_specification(sse)
    if inputs.get("streamEnabled"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": inputs["streamViewType"]}
    if inputs.get("globalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = _global_secondary_indexes(inputs["globalSecondaryIndexes"])
    return request


def create_table(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """CreateTable, then the settings DynamoDB takes only on an existing table (PITR, TTL)."""
    take(inputs, TABLE_INPUTS, ctx.what)
    name = inputs["name"]
    dynamodb = ctx.client("dynamodb")
    table = dynamodb.create_table(**create_table_request(inputs))["TableDescription"]
    if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
        )
    return name, {"arn": table["TableArn"], "name": name, "streamArn": table.get("LatestStreamArn", "")}


def delete_table(ctx: Deletion) -> tuple[str, str]:
    name = ctx.inputs["name"]
    try:
        ctx.client("dynamodb").delete_table(TableName=name)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return name, "already gone"
        if "DeletionProtectionEnabled" in str(exc):
            raise DeleteRefused(f"{ctx.what}: DynamoDB refuses, deletion protection is on") from exc
        raise
    return name, "deleted"


def remaining_table(ctx: Deletion) -> list[str]:
    name = str(ctx.inputs["name"])
    return [name] if ctx.exists(lambda: ctx.client("dynamodb").describe_table(TableName=name)) else []


TYPES = (
    ResourceType(
        TABLE,
        outputs=table_outputs,
        create=create_table,
        delete=delete_table,
        kind="tables",
        remaining=remaining_table,
    ),
)
