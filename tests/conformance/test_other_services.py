"""The calls of the runtime to services beyond SQS, S3 and DynamoDB: Secrets Manager (the shipping consumer's
database password), the Redshift Data API (the analytics consumer's warehouse) and EC2 Auto Scaling (the worker
completes its termination lifecycle action after a drain).

Against real AWS the Redshift tests need a Redshift Serverless workgroup that already exists
(ORDERS_CONFORMANCE_REDSHIFT_WORKGROUP, ORDERS_CONFORMANCE_REDSHIFT_DATABASE; creating one takes minutes and
bills, so the suite does not); without it they are skipped with that reason. The Auto Scaling test launches one
t3.micro instance in the default VPC.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conformance.harness import Resources, Target, wait_until

REDSHIFT_WORKGROUP = "ORDERS_CONFORMANCE_REDSHIFT_WORKGROUP"
REDSHIFT_DATABASE = "ORDERS_CONFORMANCE_REDSHIFT_DATABASE"
AL2023_AMI = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def test_get_secret_value_returns_the_database_credentials(target: Target, resources: Resources) -> None:
    """GetSecretValue (AWS Secrets Manager API Reference):
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
    The shipping consumer reads the RDS-managed secret (JSON with username and password) at every connect."""
    secret = {"username": "orders", "password": "s3cr3t!"}
    arn = resources.secret(json.dumps(secret))
    got = target.client("secretsmanager").get_secret_value(SecretId=arn)
    assert json.loads(got["SecretString"]) == secret


# Redshift Data API ---------------------------------------------------------------------


def warehouse(target: Target, resources: Resources) -> dict[str, str]:
    """WorkgroupName and Database for the Data API: an existing workgroup on AWS, a new one on an emulator."""
    if target.is_aws:
        workgroup = os.environ.get(REDSHIFT_WORKGROUP, "")
        if not workgroup:
            pytest.skip(f"real AWS: set {REDSHIFT_WORKGROUP} (and {REDSHIFT_DATABASE}) to an existing workgroup")
        return {"WorkgroupName": workgroup, "Database": os.environ.get(REDSHIFT_DATABASE, "dev")}
    serverless = target.client("redshift-serverless")
    namespace, workgroup = resources.name("ns"), resources.name("wg")
    serverless.create_namespace(namespaceName=namespace, dbName="sales")
    resources.defer(f"namespace {namespace}", lambda: serverless.delete_namespace(namespaceName=namespace))
    serverless.create_workgroup(workgroupName=workgroup, namespaceName=namespace)
    resources.defer(f"workgroup {workgroup}", lambda: serverless.delete_workgroup(workgroupName=workgroup))
    return {"WorkgroupName": workgroup, "Database": "sales"}


def finished(client: Any, statement_id: str, timeout: float) -> dict[str, Any]:
    """DescribeStatement until the statement ends (worker/consumers/sql.py's wait)."""
    end = time.monotonic() + timeout
    while True:
        desc: dict[str, Any] = client.describe_statement(Id=statement_id)
        if desc["Status"] in {"FINISHED", "FAILED", "ABORTED"} or time.monotonic() > end:
            return desc
        time.sleep(0.1)


NO_DATA_API_MINISTACK = "no Redshift Serverless or Data API (the analytics consumer uses PostgreSQL locally)"
NO_DATA_API_MOTO = (
    "no Redshift Serverless (CreateNamespace answers 500); its Data API statements never finish (always STARTED)"
)


@pytest.mark.known_difference("ministack", reason=NO_DATA_API_MINISTACK)
@pytest.mark.known_difference("moto", reason=NO_DATA_API_MOTO)
def test_data_api_runs_a_parameterised_query(target: Target, resources: Resources) -> None:
    """ExecuteStatement with Parameters, DescribeStatement, GetStatementResult (Amazon Redshift Data API Reference):
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_GetStatementResult.html
    worker/consumers/sql.py DataApiWarehouse.query: named :parameters bound from strings, typed result fields."""
    client, where = target.client("redshift-data"), warehouse(target, resources)
    submitted = client.execute_statement(
        Sql="SELECT CAST(:n AS INTEGER) + 1 AS n, CAST(:s AS VARCHAR(16)) AS s",
        Parameters=[{"name": "n", "value": "41"}, {"name": "s", "value": "forty-two"}],
        **where,
    )
    desc = finished(client, submitted["Id"], 120 if target.is_aws else 10)
    assert desc["Status"] == "FINISHED", desc
    rows = [
        record
        for page in client.get_paginator("get_statement_result").paginate(Id=submitted["Id"])
        for record in page["Records"]
    ]
    assert rows == [[{"longValue": 42}, {"stringValue": "forty-two"}]]


@pytest.mark.known_difference("ministack", reason=NO_DATA_API_MINISTACK)
@pytest.mark.known_difference("moto", reason=NO_DATA_API_MOTO)
def test_data_api_runs_a_batch_in_one_transaction(target: Target, resources: Resources) -> None:
    """BatchExecuteStatement (Amazon Redshift Data API Reference: "the SQL statements are run as a single
    transaction"): https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_BatchExecuteStatement.html
    DataApiWarehouse.run_script applies each migration and records it in one batch."""
    client, where = target.client("redshift-data"), warehouse(target, resources)
    table = resources.name("facts").replace("-", "_")
    batch = client.batch_execute_statement(
        Sqls=[f"CREATE TABLE {table} (n INTEGER)", f"INSERT INTO {table} VALUES (1), (2)"], **where
    )
    resources.defer(f"table {table}", lambda: client.execute_statement(Sql=f"DROP TABLE {table}", **where))
    timeout = 120 if target.is_aws else 10
    assert finished(client, batch["Id"], timeout)["Status"] == "FINISHED"
    count = client.execute_statement(Sql=f"SELECT COUNT(*) FROM {table}", **where)
    assert finished(client, count["Id"], timeout)["Status"] == "FINISHED"
    assert client.get_statement_result(Id=count["Id"])["Records"] == [[{"longValue": 2}]]


@pytest.mark.known_difference("ministack", reason=NO_DATA_API_MINISTACK)
@pytest.mark.known_difference("moto", reason=NO_DATA_API_MOTO)
def test_data_api_cancels_a_statement(target: Target, resources: Resources) -> None:
    """CancelStatement (Amazon Redshift Data API Reference):
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_CancelStatement.html
    DataApiWarehouse cancels a statement still running at its timeout. A statement cancelled before it ends is
    ABORTED; one that ended first cannot be cancelled (ValidationException) and stays FINISHED."""
    client, where = target.client("redshift-data"), warehouse(target, resources)
    submitted = client.execute_statement(Sql="SELECT 1", **where)
    try:
        cancelled = bool(client.cancel_statement(Id=submitted["Id"])["Status"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ValidationException", exc.response
        cancelled = False
    desc = finished(client, submitted["Id"], 120 if target.is_aws else 10)
    assert desc["Status"] == ("ABORTED" if cancelled else "FINISHED"), desc


# EC2 Auto Scaling -------------------------------------------------------------------------


def instance_state(asg: Any, group: str) -> tuple[str, str]:
    """(instance id, lifecycle state) of the group's one instance, or ("", "") when it has none."""
    (described,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    instances = described["Instances"]
    return (instances[0]["InstanceId"], instances[0]["LifecycleState"]) if instances else ("", "")


@pytest.mark.known_difference(
    "ministack", reason="a scale-in removes the instance at once: no lifecycle hook holds it in Terminating:Wait"
)
@pytest.mark.known_difference(
    "moto", reason="a scale-in removes the instance at once: no lifecycle hook holds it in Terminating:Wait"
)
def test_complete_lifecycle_action_releases_a_terminating_instance(target: Target, resources: Resources) -> None:
    """Amazon EC2 Auto Scaling lifecycle hooks (User Guide), and CompleteLifecycleAction (API Reference):
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html
    A terminating instance waits in Terminating:Wait until the hook times out or CompleteLifecycleAction
    (CONTINUE) lets it go; the worker completes the action once its drain is done, with the parameters below."""
    ec2, asg = target.client("ec2"), target.client("autoscaling")
    template, group, hook = resources.name("lt"), resources.name("asg"), "orders-drain"
    # Real AWS resolves the current Amazon Linux image; an emulator launches nothing, any image it lists will do.
    image = AL2023_AMI if target.is_aws else ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
    )
    resources.defer(f"launch template {template}", lambda: ec2.delete_launch_template(LaunchTemplateName=template))
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:1]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        AvailabilityZones=zones,
    )
    resources.defer(
        f"auto scaling group {group}",
        lambda: asg.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True),
    )
    # ABANDON after 300 s: only CompleteLifecycleAction lets the instance go within the wait below.
    asg.put_lifecycle_hook(
        LifecycleHookName=hook,
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
        DefaultResult="ABANDON",
    )
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    wait_until(lambda: instance_state(asg, group)[1] == "InService", target.settle_seconds, "an instance InService")
    instance_id = instance_state(asg, group)[0]

    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
    wait_until(lambda: instance_state(asg, group)[1] in {"Terminating:Wait", ""}, target.settle_seconds, "the scale-in")
    assert instance_state(asg, group) == (instance_id, "Terminating:Wait")
    asg.complete_lifecycle_action(
        LifecycleHookName=hook,
        AutoScalingGroupName=group,
        LifecycleActionResult="CONTINUE",
        InstanceId=instance_id,
    )
    wait_until(
        lambda: instance_state(asg, group)[1] in {"Terminating:Proceed", "Terminated", ""},
        120 if target.is_aws else 10,
        "the instance to leave Terminating:Wait",
    )
