"""RDS (AWS only): the shipping database (run locally as a private PostgreSQL by the simulation)."""

from __future__ import annotations

from offline.provision.base import Outputs, ResourceType, arn, short_id


def instance_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    address = f"{name}.c0offline0.{region}.rds.amazonaws.com"
    port = inputs.get("port") or 5432
    secret = arn("secretsmanager", region, f"secret:rds!db-{short_id(region, name)}-AbCdEf", account=account)
    managed = inputs.get("manageMasterUserPassword")
    return name, {
        "address": address,
        "port": port,
        "endpoint": f"{address}:{int(port)}",
        "arn": arn("rds", region, f"db:{name}", account=account),
        "resourceId": f"db-{short_id('rds', name).upper()}",
        "masterUserSecrets": [{"secretArn": secret, "secretStatus": "active", "kmsKeyId": ""}] if managed else [],
    }


TYPES = (ResourceType("aws:rds/instance:Instance", outputs=instance_outputs),)
