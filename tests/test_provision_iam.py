"""The stack's IAM in the emulator, under its IAM enforcement (MiniStack AUTH=true): the program's roles, inline
policies, managed-policy attachments and instance profile, and the local launcher that may assume those roles
and do nothing else, through the one trust statement the emulator's roles have beyond the program's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pulumi
import pytest
from botocore.exceptions import ClientError

from offline.graph import Graph, Resource, run_program
from offline.provision import iam
from offline.provision.base import Deletion
from offline.provision.clients import EmulatorClients
from offline.provision.provisioner import EmulatorMocks, Provisioned, ProvisionError, local_config, provision
from simulation.emulator import Emulator, running_emulator

REGION = "eu-west-1"
STACK = "trust"
ROLE = "aws:iam/role:Role"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """This module's emulator enforces IAM: identity policies, trust policies, resource policies."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AUTH", "true")
        with running_emulator(REGION) as emu:
            yield emu


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Provisioned:
    return provision(REGION, endpoint=emulator.endpoint, stack=STACK)


def root(emulator: Emulator, service: str) -> Any:
    return emulator.client(service)


def as_launcher(stack: Provisioned, emulator: Emulator, service: str) -> Any:
    launcher = stack.launcher_credentials
    assert launcher is not None
    session = boto3.session.Session(
        aws_access_key_id=launcher.access_key_id, aws_secret_access_key=launcher.secret_access_key, region_name=REGION
    )
    return session.client(service, endpoint_url=emulator.endpoint)


def statements(document: str | dict[str, Any]) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def test_the_programs_roles_policies_and_instance_profile_are_in_the_emulator(
    stack: Provisioned, emulator: Emulator
) -> None:
    client = root(emulator, "iam")
    roles = stack.graph.of_type(ROLE)
    assert len(roles) == 8 and set(stack.role_arns) == {r.name for r in roles}
    for role in roles:
        got = client.get_role(RoleName=role.inputs["name"])["Role"]
        assert got["Arn"] == stack.role_arns[role.name] == role.outputs["arn"]
    for policy in stack.graph.of_type(iam.ROLE_POLICY):
        name = iam.inline_policy_name(policy.inputs, policy.name)
        document = client.get_role_policy(RoleName=policy.inputs["role"], PolicyName=name)["PolicyDocument"]
        # the program's policy, plus the SQS batch names the emulator needs (recorded as local-only)
        assert document == iam.with_batch_actions(json.loads(policy.inputs["policy"]))[0], policy.name
    for attachment in stack.graph.of_type(iam.ATTACHMENT):
        attached = client.list_attached_role_policies(RoleName=attachment.inputs["role"])["AttachedPolicies"]
        assert attachment.inputs["policyArn"] in {a["PolicyArn"] for a in attached}
    (profile,) = stack.graph.of_type(iam.INSTANCE_PROFILE)
    got = client.get_instance_profile(InstanceProfileName=profile.inputs["name"])["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [profile.inputs["role"]]
    assert got["Arn"] == profile.outputs["arn"]
    assert not [n for n in stack.not_applied if n[0] == iam.ATTACHMENT], "MiniStack knows both AWS-managed policies"


def test_the_deployed_trust_policies_are_the_programs_and_the_emulator_adds_exactly_one_statement(
    stack: Provisioned, emulator: Emulator
) -> None:
    offline = run_program(local_config(REGION), stack=STACK)
    launcher = stack.launcher_credentials
    assert launcher is not None
    for role in stack.graph.of_type(ROLE):
        deployed = role.inputs["assumeRolePolicy"]
        assert deployed == offline.one(ROLE, role.name).inputs["assumeRolePolicy"], "the program's trust, unchanged"
        assert role.outputs["assumeRolePolicy"] == deployed, "the graph's outputs report the program's trust too"
        principals = [s["Principal"] for s in statements(deployed)]
        if role.name == "dlq-operator":  # on-call assumes it: it trusts the account, not a service
            assert principals == [{"AWS": f"arn:aws:iam::{emulator.account_id}:root"}]
        else:
            assert all(p.get("Service") for p in principals), "AWS: service principals only"
        local = root(emulator, "iam").get_role(RoleName=role.inputs["name"])["Role"]["AssumeRolePolicyDocument"]
        assert statements(local) == [*statements(deployed), iam.launcher_statement(launcher.user_arn)], role.name
    assert sorted(n for t, n, _ in stack.local_only if t == ROLE) == sorted(r.name for r in stack.graph.of_type(ROLE))
    trust = [what for t, _, what in stack.local_only if t == ROLE]
    assert all(iam.LAUNCHER_SID in what and launcher.user_arn in what for what in trust)
    batch = [what for t, _, what in stack.local_only if t != ROLE]
    assert batch and all("sqs:" in what and "Batch" in what for what in batch)


def test_the_launcher_may_assume_each_of_the_stacks_roles_and_nothing_else(
    stack: Provisioned, emulator: Emulator
) -> None:
    launcher = stack.launcher_credentials
    assert launcher is not None and launcher.user_name == f"orders-{STACK}-local-launcher"
    sts = as_launcher(stack, emulator, "sts")
    assert sts.get_caller_identity()["Arn"] == launcher.user_arn
    for name, role_arn in stack.role_arns.items():
        assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName=f"local-{name}")["AssumedRoleUser"]
        assert assumed["Arn"].endswith(f":assumed-role/{role_arn.rsplit('/', 1)[1]}/local-{name}")
    with pytest.raises(ClientError, match="AccessDenied"):
        as_launcher(stack, emulator, "sqs").list_queues()
    with pytest.raises(ClientError, match="AccessDenied"):
        sts.assume_role(RoleArn=stack.role_arns["workers-instance"].replace(STACK, "other"), RoleSessionName="other")
    policy = root(emulator, "iam").get_user_policy(UserName=launcher.user_name, PolicyName=iam.LAUNCHER_POLICY)
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert (grant["Effect"], grant["Action"]) == ("Allow", "sts:AssumeRole")
    assert sorted(grant["Resource"]) == sorted(stack.role_arns.values())
    keys = root(emulator, "iam").list_access_keys(UserName=launcher.user_name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [launcher.access_key_id]


def test_without_the_added_statement_the_launcher_is_refused_by_the_programs_trust(
    stack: Provisioned, emulator: Emulator
) -> None:
    """The program's trust alone (a service principal) does not let the launcher in: the added statement does."""
    iam_root, launcher = root(emulator, "iam"), stack.launcher_credentials
    assert launcher is not None
    workers = stack.graph.one(ROLE, "workers-instance")
    probe = iam_root.create_role(RoleName="trust-probe", AssumeRolePolicyDocument=workers.inputs["assumeRolePolicy"])
    grant = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": probe["Role"]["Arn"]}
    document = json.dumps({"Version": iam.POLICY_VERSION, "Statement": [grant]})
    iam_root.put_user_policy(UserName=launcher.user_name, PolicyName="probe", PolicyDocument=document)
    try:
        with pytest.raises(ClientError, match="AccessDenied"):
            as_launcher(stack, emulator, "sts").assume_role(RoleArn=probe["Role"]["Arn"], RoleSessionName="probe")
    finally:
        iam_root.delete_user_policy(UserName=launcher.user_name, PolicyName="probe")
        iam_root.delete_role(RoleName="trust-probe")


def test_an_assumed_role_has_the_programs_permissions_only(stack: Provisioned, emulator: Emulator) -> None:
    sts = as_launcher(stack, emulator, "sts")
    credentials = sts.assume_role(RoleArn=stack.role_arns["workers-instance"], RoleSessionName="worker")["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    sqs = session.client("sqs", endpoint_url=emulator.endpoint)
    attributes = sqs.get_queue_attributes(QueueUrl=stack.exports["orderQueueUrl"], AttributeNames=["QueueArn"])
    assert attributes["Attributes"]["QueueArn"] == stack.exports["orderQueueArn"]
    with pytest.raises(ClientError, match="AccessDenied"):
        sqs.get_queue_attributes(QueueUrl=stack.exports["fanoutQueueUrls"]["shipping"], AttributeNames=["QueueArn"])


def resource_args(typ: str, logical: str, **inputs: Any) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(typ=typ, name=logical, inputs=inputs, provider="", custom=True)


def test_an_aws_managed_policy_the_emulator_lacks_is_recorded_not_applied(emulator: Emulator) -> None:
    mocks = EmulatorMocks(False, endpoint=emulator.endpoint, stack="probe")
    role = "orders-probe-managed"
    root(emulator, "iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    missing = "arn:aws:iam::aws:policy/NoSuchPolicyInTheEmulator"
    mocks.new_resource(resource_args(iam.ATTACHMENT, "missing", role=role, policyArn=missing))
    ((typ, name, why),) = mocks.not_applied
    assert (typ, name) == (iam.ATTACHMENT, "missing") and missing in why and "NoSuchEntity" in why
    assert root(emulator, "iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    own = "arn:aws:iam::123456789012:policy/no-such-customer-policy"
    with pytest.raises(ProvisionError, match="NoSuchEntity"):  # a customer policy that does not exist: AWS refuses
        mocks.new_resource(resource_args(iam.ATTACHMENT, "own", role=role, policyArn=own))


def test_a_managed_policy_is_created_attached_and_deleted(emulator: Emulator) -> None:
    mocks = EmulatorMocks(False, endpoint=emulator.endpoint, stack="probe")
    role = "orders-probe-policy"
    root(emulator, "iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    grant = {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}
    document = json.dumps({"Version": iam.POLICY_VERSION, "Statement": [grant]})
    policy_id, outputs = mocks.new_resource(resource_args(iam.POLICY, "probe", name="orders-probe", policy=document))
    assert policy_id == outputs["arn"] == "arn:aws:iam::123456789012:policy/orders-probe"
    mocks.new_resource(resource_args(iam.ATTACHMENT, "probe", role=role, policyArn=policy_id))
    attached = root(emulator, "iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [policy_id]
    with pytest.raises(ProvisionError, match="no emulator translation"):
        mocks.new_resource(resource_args(iam.POLICY, "typo", name="x", policy=document, polcy=document))
    policy = Resource(
        urn=f"urn:pulumi:probe::orders::{iam.POLICY}::probe",
        type=iam.POLICY,
        name="probe",
        custom=True,
        parent="",
        provider="",
        inputs={"name": "orders-probe"},
        wire={},
        dependencies=[],
        property_dependencies={},
    )
    graph = Graph(resources=[policy], exports={}, preview=False)
    ctx = Deletion(EmulatorClients(emulator.endpoint), graph, policy, REGION, {})
    root(emulator, "iam").detach_role_policy(RoleName=role, PolicyArn=policy_id)
    assert iam.delete_policy(ctx) == (policy_id, "deleted")
    assert iam.remaining_policy(ctx) == []
