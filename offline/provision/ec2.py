"""EC2 (AWS only): VPC endpoints and launch templates; the rest of the network echoes its inputs."""

from __future__ import annotations

import zlib

from offline.provision.base import Outputs, ResourceType, arn


def _crc(text: str) -> str:
    return f"{zlib.crc32(text.encode()):08x}"


def vpc_endpoint_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    endpoint_id = f"vpce-{_crc(f'{region}/{name}')}"
    gateway = inputs.get("vpcEndpointType") == "Gateway"
    return endpoint_id, {
        "arn": arn("ec2", region, f"vpc-endpoint/{endpoint_id}", account=account),
        "prefixListId": f"pl-{_crc(str(inputs.get('serviceName')))}" if gateway else None,
    }


def launch_template_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    template_id = f"lt-{_crc(f'{region}/{name}')}0000000"
    return template_id, {
        "arn": arn("ec2", region, f"launch-template/{template_id}", account=account),
        "latestVersion": 1,
        "defaultVersion": 1,
    }


TYPES = (
    ResourceType("aws:ec2/vpcEndpoint:VpcEndpoint", outputs=vpc_endpoint_outputs),
    ResourceType("aws:ec2/launchTemplate:LaunchTemplate", outputs=launch_template_outputs),
)
