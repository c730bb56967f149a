"""Redshift Serverless (AWS only): the analytics warehouse's namespace and workgroup."""

from __future__ import annotations

from offline.provision.base import Outputs, ResourceType, arn, short_id


def namespace_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    namespace_id = f"{short_id('ns', region, name)}-0000-4000-8000-000000000000"
    return name, {
        "namespaceId": namespace_id,
        "arn": arn("redshift-serverless", region, f"namespace/{namespace_id}", account=account),
    }


def workgroup_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    workgroup_id = f"{short_id('wg', region, name)}-0000-4000-8000-000000000000"
    host = f"{name}.{account}.{region}.redshift-serverless.amazonaws.com"
    return name, {
        "workgroupId": workgroup_id,
        "arn": arn("redshift-serverless", region, f"workgroup/{workgroup_id}", account=account),
        "endpoints": [{"address": host, "port": 5439}],
    }


TYPES = (
    ResourceType("aws:redshiftserverless/namespace:Namespace", outputs=namespace_outputs),
    ResourceType("aws:redshiftserverless/workgroup:Workgroup", outputs=workgroup_outputs),
)
