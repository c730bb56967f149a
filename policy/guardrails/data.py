"""Data stores: DynamoDB point-in-time recovery; RDS and Redshift encrypted at rest and not publicly reachable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import Res, Rule, Verdict, as_bool, is_unknown

TABLE = "aws:dynamodb/table:Table"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
REDSHIFT = "aws:redshift/cluster:Cluster"
REDSHIFT_NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
REDSHIFT_WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"


def _flag(res: Res, path: str, want: bool, fix: str) -> Verdict:
    """A boolean setting must equal `want`; absent counts as not set."""
    verdict = Verdict()
    value = res.get(path)
    if is_unknown(value):
        verdict.unknown(f"{res.label}: {path}")
    elif (as_bool(value) is True) != want:
        verdict.fail(f"{res.label}: {path} is {value if value is not None else 'unset'}; {fix}")
    return verdict


def check_pitr(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    return _flag(
        res, "pointInTimeRecovery.enabled", True, "set pointInTimeRecovery {enabled: true} (35 days of restores)"
    )


def check_rds_encrypted(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    return _flag(res, "storageEncrypted", True, "set storageEncrypted: true (it cannot be turned on later)")


def check_rds_private(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    value = res.get("publiclyAccessible")
    if is_unknown(value):
        verdict.unknown(f"{res.label}: publiclyAccessible")
    elif as_bool(value) is True:
        verdict.fail(f"{res.label} is publicly accessible; set publiclyAccessible: false and use private subnets")
    return verdict


def check_redshift_encrypted(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    if res.type == REDSHIFT_NAMESPACE:
        return Verdict()  # Redshift Serverless namespaces are always encrypted
    verdict = Verdict()
    value = res.get("encrypted")
    if is_unknown(value):
        verdict.unknown(f"{res.label}: encrypted")
    elif as_bool(value) is False:
        verdict.fail(f"{res.label}: encrypted is false; set encrypted: true (and kmsKeyId for a customer key)")
    elif value is None:
        verdict.fail(f"{res.label}: encrypted is not set; set encrypted: true so the intent is reviewable")
    return verdict


RULES = [
    Rule(
        id="dynamodb-pitr",
        description="DynamoDB tables have point-in-time recovery enabled.",
        level="advisory",
        control="Security Hub FSBP DynamoDB.2; Checkov CKV_AWS_28",
        scope="resource",
        check=check_pitr,
        types=(TABLE,),
    ),
    Rule(
        id="rds-encrypted",
        description="RDS instances and clusters are encrypted at rest.",
        level="advisory",
        control="Security Hub FSBP RDS.3 and RDS.27; Checkov CKV_AWS_16",
        scope="resource",
        check=check_rds_encrypted,
        types=(RDS_INSTANCE, RDS_CLUSTER),
    ),
    Rule(
        id="rds-not-public",
        description="RDS instances are not publicly accessible.",
        level="advisory",
        control="Security Hub FSBP RDS.2; Checkov CKV_AWS_17",
        scope="resource",
        check=check_rds_private,
        types=(RDS_INSTANCE, RDS_CLUSTER_INSTANCE),
    ),
    Rule(
        id="redshift-encrypted",
        description="Redshift clusters are encrypted at rest (Serverless namespaces always are).",
        level="advisory",
        control="Security Hub FSBP Redshift.10; Checkov CKV_AWS_64",
        scope="resource",
        check=check_redshift_encrypted,
        types=(REDSHIFT, REDSHIFT_NAMESPACE),
    ),
    Rule(
        id="redshift-not-public",
        description="Redshift clusters and Serverless workgroups are not publicly accessible.",
        level="advisory",
        control="Security Hub FSBP Redshift.1; Checkov CKV_AWS_87",
        scope="resource",
        check=check_rds_private,
        types=(REDSHIFT, REDSHIFT_WORKGROUP),
    ),
]
