"""IAM (AWS only, for now): roles and instance profiles answer with their offline outputs."""

from __future__ import annotations

from offline.provision.base import PARTITION, Outputs, OutputsFn, ResourceType

ROLE = "aws:iam/role:Role"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"


def _outputs(kind: str) -> OutputsFn:
    def outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
        return name, {"arn": f"arn:{PARTITION}:iam::{account}:{kind}/{name}", "name": name, "uniqueId": "AROAOFFLINE"}

    return outputs


TYPES = (
    ResourceType(INSTANCE_PROFILE, outputs=_outputs("instance-profile")),
    ResourceType(ROLE, outputs=_outputs("role")),
)
