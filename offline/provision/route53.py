"""Route 53 (AWS only): the health check and the failover records."""

from __future__ import annotations

from offline.provision.base import PARTITION, Outputs, ResourceType, short_id


def health_check_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    check_id = f"{short_id(name)}-0000-4000-8000-{short_id(name, 'hc')}00"
    return check_id, {"arn": f"arn:{PARTITION}:route53:::healthcheck/{check_id}"}


def record_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    fqdn = str(inputs.get("name")).rstrip(".")
    record_id = "_".join(str(inputs.get(k, "")) for k in ("zoneId", "name", "type", "setIdentifier")).rstrip("_")
    return record_id, {"fqdn": fqdn}


TYPES = (
    ResourceType("aws:route53/healthCheck:HealthCheck", outputs=health_check_outputs),
    ResourceType("aws:route53/record:Record", outputs=record_outputs),
)
