"""Auto Scaling (AWS only): the worker fleet's group."""

from __future__ import annotations

from offline.provision.base import Outputs, ResourceType, arn

OFFLINE_GROUP_ID = "6d5a1b2c-3e4f-4a5b-8c9d-0e1f2a3b4c5d"


def group_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    resource = f"autoScalingGroup:{OFFLINE_GROUP_ID}:autoScalingGroupName/{name}"
    return name, {"arn": arn("autoscaling", region, resource, account=account)}


TYPES = (ResourceType("aws:autoscaling/group:Group", outputs=group_outputs),)
