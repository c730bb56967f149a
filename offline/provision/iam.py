"""IAM: roles (with the program's trust policy, plus one local statement), inline policies, managed policies and
their attachments, instance profiles; and the local launcher.

The local trust arrangement. In AWS the stack's roles trust service principals (ec2, lambda, ecs-tasks,
apigateway.amazonaws.com); on this machine the processes that play those services are started by a launcher
that is none of them. So, in the emulator only, the provisioner first creates an IAM user (the launcher, one
per stack: `launcher_user_name`) with an access key and an identity policy allowing nothing but
`sts:AssumeRole` on the stack's roles, and every role gets ONE extra trust statement (`LAUNCHER_SID`) naming
that user. The program is unchanged: the graph holds the trust policies as deployed, and each added
statement is recorded as local-only (`Run.local_only`).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from components import naming
from offline.provision.base import (
    PARTITION,
    Creation,
    Deletion,
    LauncherCredentials,
    Outputs,
    OutputsFn,
    ProvisionError,
    ResourceType,
    Run,
    error_code,
    json_document,
    take,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
AWS_MANAGED_PREFIX = f"arn:{PARTITION}:iam::aws:policy/"
LAUNCHER_SID = "LocalLauncher"
LAUNCHER_POLICY = "assume-stack-roles"
POLICY_VERSION = "2012-10-17"


def _outputs(kind: str) -> OutputsFn:
    def outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
        return name, {"arn": f"arn:{PARTITION}:iam::{account}:{kind}/{name}", "name": name, "uniqueId": "AROAOFFLINE"}

    return outputs


# --- the local launcher ---------------------------------------------------------------------------------


def launcher_user_name(project: str, stack: str) -> str:
    """The launcher's IAM user name: `<project>-<stack>-local-launcher`, fitted like every physical name."""
    return naming.physical_name("iam-role", project, stack, "local-launcher")


def launcher_statement(user_arn: str) -> dict[str, Any]:
    """The one trust statement added to every role in the emulator: the launcher may assume it."""
    return {"Sid": LAUNCHER_SID, "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}


def ensure_launcher(run: Run, region: str) -> LauncherCredentials:
    """The run's launcher, created (user and access key) on first use; provisioning creates it first of all."""
    with run.lock:
        if run.launcher is None:
            iam = run.clients("iam", region)
            try:
                user = iam.create_user(UserName=run.launcher_name)["User"]
                key = iam.create_access_key(UserName=run.launcher_name)["AccessKey"]
            except ClientError as exc:
                raise ProvisionError(
                    f"the local launcher {run.launcher_name!r}: the emulator refused it: {exc}"
                ) from exc
            run.launcher = LauncherCredentials(
                user_name=run.launcher_name,
                user_arn=user["Arn"],
                access_key_id=key["AccessKeyId"],
                secret_access_key=key["SecretAccessKey"],
            )
        return run.launcher


def allow_launcher(run: Run, region: str, role_arn: str) -> None:
    """Add a role to the launcher's identity policy: `sts:AssumeRole` on the stack's roles, and nothing else."""
    with run.lock:
        launcher = ensure_launcher(run, region)
        run.launcher_roles.append(role_arn)
        statement = {"Sid": "AssumeStackRoles", "Effect": "Allow", "Action": "sts:AssumeRole"}
        document = {"Version": POLICY_VERSION, "Statement": [{**statement, "Resource": list(run.launcher_roles)}]}
        run.clients("iam", region).put_user_policy(
            UserName=launcher.user_name, PolicyName=LAUNCHER_POLICY, PolicyDocument=json.dumps(document)
        )


def delete_launcher(clients: Any, region: str, user_name: str) -> str:
    """Delete the launcher's access keys, its policy and the user; what was done."""
    iam = clients("iam", region)
    try:
        keys = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return "already gone"
        raise
    for key in keys:
        iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
    for policy in iam.list_user_policies(UserName=user_name)["PolicyNames"]:
        iam.delete_user_policy(UserName=user_name, PolicyName=policy)
    iam.delete_user(UserName=user_name)
    return f"deleted with {len(keys)} access key(s)"


def launcher_exists(clients: Any, region: str, user_name: str) -> bool:
    try:
        clients("iam", region).get_user(UserName=user_name)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


# --- roles, policies, instance profiles -----------------------------------------------------------------


def _statements(document: dict[str, Any]) -> list[Any]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _tags(inputs: Outputs) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()]


def create_role(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """The role with the program's trust policy plus the launcher's statement (recorded as local-only)."""
    take(inputs, {"name", "assumeRolePolicy", "description", "path", "maxSessionDuration", "tags"}, ctx.what)
    trust = json_document(inputs["assumeRolePolicy"], ctx.what, "assumeRolePolicy")
    launcher = ensure_launcher(ctx.run, ctx.region)
    local_trust = {**trust, "Statement": [*_statements(trust), launcher_statement(launcher.user_arn)]}
    kwargs: dict[str, Any] = {"RoleName": inputs["name"], "AssumeRolePolicyDocument": json.dumps(local_trust)}
    for key, api in (("description", "Description"), ("path", "Path"), ("maxSessionDuration", "MaxSessionDuration")):
        if inputs.get(key):
            kwargs[api] = int(inputs[key]) if api == "MaxSessionDuration" else inputs[key]
    if inputs.get("tags"):
        kwargs["Tags"] = _tags(inputs)
    role = ctx.client("iam").create_role(**kwargs)["Role"]
    allow_launcher(ctx.run, ctx.region, role["Arn"])
    ctx.local_only(f"trust policy + statement {LAUNCHER_SID}: {launcher.user_arn} may sts:AssumeRole")
    return inputs["name"], {"arn": role["Arn"], "name": inputs["name"], "uniqueId": role["RoleId"]}


SQS_BATCH_ACTIONS = {
    "sqs:SendMessage": "sqs:SendMessageBatch",
    "sqs:DeleteMessage": "sqs:DeleteMessageBatch",
    "sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}
"""AWS authorizes SQS batch calls by their single action ("setting permissions for SendMessage, DeleteMessage,
or ChangeMessageVisibility sets permissions for the corresponding batch versions": SQS Developer Guide, Amazon
SQS batch actions); MiniStack evaluates the batch call's own name, which no AWS policy can grant."""


def with_batch_actions(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The emulator's copy of a policy: each SQS single action followed by its batch name, so the emulator
    allows exactly what AWS allows. Returns the copy and the names added (none: the copy is the document)."""
    added: list[str] = []
    statements = []
    for statement in _statements(document):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        batch = [
            SQS_BATCH_ACTIONS[a] for a in actions if a in SQS_BATCH_ACTIONS and SQS_BATCH_ACTIONS[a] not in actions
        ]
        added += batch
        statements.append({**statement, "Action": actions + batch} if batch else statement)
    return ({**document, "Statement": statements} if added else document), sorted(set(added))


def emulator_policy(ctx: Creation, text: str) -> str:
    """`text` as the emulator needs it (`with_batch_actions`), the addition recorded as local-only."""
    document, added = with_batch_actions(json_document(text, ctx.what))
    if not added:
        return text
    ctx.local_only(f"policy + {', '.join(added)}: the emulator authorizes SQS batch calls by their own name")
    return json.dumps(document)


def inline_policy_name(inputs: Outputs, logical_name: str) -> str:
    """An inline policy's name: the program's, else the resource's logical name (the provider adds a random
    suffix to it; a local stack does without)."""
    return str(inputs.get("name") or logical_name)


def create_role_policy(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"role", "policy", "name"}, ctx.what)
    name = inline_policy_name(inputs, ctx.name)
    document = emulator_policy(ctx, inputs["policy"])
    ctx.client("iam").put_role_policy(RoleName=inputs["role"], PolicyName=name, PolicyDocument=document)
    return f"{inputs['role']}:{name}", {"name": name}


def create_policy(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"name", "policy", "description", "path", "tags"}, ctx.what)
    kwargs: dict[str, Any] = {"PolicyName": inputs["name"], "PolicyDocument": emulator_policy(ctx, inputs["policy"])}
    for key, api in (("description", "Description"), ("path", "Path")):
        if inputs.get(key):
            kwargs[api] = inputs[key]
    if inputs.get("tags"):
        kwargs["Tags"] = _tags(inputs)
    policy = ctx.client("iam").create_policy(**kwargs)["Policy"]
    return policy["Arn"], {"arn": policy["Arn"], "name": inputs["name"], "policyId": policy["PolicyId"]}


def create_attachment(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    """Attach a managed policy. An AWS-managed one the emulator does not know is recorded as not applied (AWS
    has it); a missing customer-managed one is an error, as in AWS."""
    take(inputs, {"role", "policyArn"}, ctx.what)
    iam, role, policy_arn = ctx.client("iam"), inputs["role"], inputs["policyArn"]
    attachment_id = f"{role}/{policy_arn}"
    try:
        iam.get_policy(PolicyArn=policy_arn)
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity" or not policy_arn.startswith(AWS_MANAGED_PREFIX):
            raise
        ctx.not_applied(f"{policy_arn} is not attached: the emulator has no such AWS-managed policy ({exc})")
        return attachment_id, {}
    iam.attach_role_policy(RoleName=role, PolicyArn=policy_arn)
    return attachment_id, {}


def create_instance_profile(ctx: Creation, inputs: Outputs) -> tuple[str, Outputs]:
    take(inputs, {"name", "role", "path", "tags"}, ctx.what)
    iam = ctx.client("iam")
    kwargs: dict[str, Any] = {
        "InstanceProfileName": inputs["name"],
        **({"Path": inputs["path"]} if inputs.get("path") else {}),
    }
    if inputs.get("tags"):
        kwargs["Tags"] = _tags(inputs)
    profile = iam.create_instance_profile(**kwargs)["InstanceProfile"]
    if inputs.get("role"):
        iam.add_role_to_instance_profile(InstanceProfileName=inputs["name"], RoleName=inputs["role"])
    return inputs["name"], {"arn": profile["Arn"], "name": inputs["name"], "uniqueId": profile["InstanceProfileId"]}


def delete_role(ctx: Deletion) -> tuple[str, str]:
    """Detach its managed policies, delete its inline ones, take it out of its instance profiles, then delete it
    (what the provider does with force_detach_policies; the program's own policies went before it)."""
    iam, name = ctx.client("iam"), ctx.inputs["name"]
    if not ctx.exists(lambda: iam.get_role(RoleName=name)):
        return name, "already gone"
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for profile in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
    iam.delete_role(RoleName=name)
    return name, "deleted"


def delete_role_policy(ctx: Deletion) -> tuple[str, str]:
    role, name = ctx.inputs["role"], inline_policy_name(ctx.resource.outputs, ctx.resource.name)
    delete = lambda: ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=name)  # noqa: E731
    return ctx.unless_gone(delete, f"{role}:{name}", "deleted")


def delete_attachment(ctx: Deletion) -> tuple[str, str]:
    role, policy_arn = ctx.inputs["role"], ctx.inputs["policyArn"]
    detach = lambda: ctx.client("iam").detach_role_policy(RoleName=role, PolicyArn=policy_arn)  # noqa: E731
    return ctx.unless_gone(detach, f"{role}/{policy_arn}", "detached")


def policy_arn(ctx: Deletion) -> str:
    """A customer-managed policy's ARN in the emulator's account, from its name and path."""
    path = str(ctx.inputs.get("path") or "/")
    return f"arn:{PARTITION}:iam::{ctx.clients.account(ctx.region)}:policy{path}{ctx.inputs['name']}"


def delete_policy(ctx: Deletion) -> tuple[str, str]:
    iam, arn = ctx.client("iam"), policy_arn(ctx)
    if not ctx.exists(lambda: iam.get_policy(PolicyArn=arn)):
        return arn, "already gone"
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)
    return arn, "deleted"


def delete_instance_profile(ctx: Deletion) -> tuple[str, str]:
    iam, name = ctx.client("iam"), ctx.inputs["name"]
    try:
        roles = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return name, "already gone"
        raise
    for role in roles:
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=name)
    return name, "deleted"


def remaining_role(ctx: Deletion) -> list[str]:
    name = str(ctx.inputs["name"])
    return [name] if ctx.exists(lambda: ctx.client("iam").get_role(RoleName=name)) else []


def remaining_policy(ctx: Deletion) -> list[str]:
    arn = policy_arn(ctx)
    return [arn] if ctx.exists(lambda: ctx.client("iam").get_policy(PolicyArn=arn)) else []


def remaining_instance_profile(ctx: Deletion) -> list[str]:
    name = str(ctx.inputs["name"])
    return [name] if ctx.exists(lambda: ctx.client("iam").get_instance_profile(InstanceProfileName=name)) else []


TYPES = (
    ResourceType(
        INSTANCE_PROFILE,
        outputs=_outputs("instance-profile"),
        create=create_instance_profile,
        delete=delete_instance_profile,
        kind="instanceProfiles",
        remaining=remaining_instance_profile,
    ),
    ResourceType(ROLE_POLICY, create=create_role_policy, delete=delete_role_policy),
    ResourceType(ATTACHMENT, create=create_attachment, delete=delete_attachment),
    ResourceType(POLICY, create=create_policy, delete=delete_policy, kind="policies", remaining=remaining_policy),
    ResourceType(
        ROLE,
        outputs=_outputs("role"),
        create=create_role,
        delete=delete_role,
        kind="roles",
        remaining=remaining_role,
    ),
)
