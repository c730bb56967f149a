"""ECS (AWS only): the cluster and task definition of a consumer run on Fargate."""

from __future__ import annotations

from offline.provision.base import Outputs, ResourceType, arn


def cluster_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    cluster_arn = arn("ecs", region, f"cluster/{name}", account=account)
    return cluster_arn, {"arn": cluster_arn}


def task_definition_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    family = str(inputs.get("family") or name)
    return family, {"arn": arn("ecs", region, f"task-definition/{family}:1", account=account), "revision": 1}


TYPES = (
    ResourceType("aws:ecs/cluster:Cluster", outputs=cluster_outputs),
    ResourceType("aws:ecs/taskDefinition:TaskDefinition", outputs=task_definition_outputs),
)
