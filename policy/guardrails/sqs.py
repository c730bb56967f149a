"""SQS: every queue has a DLQ after N receives (mandatory), DLQ kinds match, encryption, scoped access policies.

The DLQ rule is split: `sqs-redrive-max-receive-count` checks each redrive policy where it is written
(resource level, so a bad count is reported on the queue or RedrivePolicy that holds it);
`sqs-queue-has-dlq` and `sqs-dlq-same-kind` need the whole stack (which queues are dead-letter targets,
whether the target exists, what kind it is).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .core import (
    UNKNOWN,
    BadJson,
    Res,
    Rule,
    Verdict,
    as_bool,
    as_number,
    check_resource_policy,
    find_referenced,
    fmt_number,
    is_unknown,
    json_document,
)

QUEUE = "aws:sqs/queue:Queue"
REDRIVE = "aws:sqs/redrivePolicy:RedrivePolicy"
REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"


def _redrive(res: Res) -> Any:
    """The redrive document a Queue or RedrivePolicy carries: dict, UNKNOWN, None; BadJson if malformed."""
    value = res.get("redrivePolicy")
    document = json_document(value)
    if document is not None and not is_unknown(document) and not isinstance(document, Mapping):
        raise BadJson("not a JSON object")
    return document


def check_max_receive_count(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    wanted = float(cfg["maxReceiveCount"])
    try:
        policy = _redrive(res)
    except BadJson as exc:
        verdict.fail(f"{res.label}: redrivePolicy is {exc}")
        return verdict
    if policy is None:
        return verdict  # no inline redrive policy: sqs-queue-has-dlq decides whether one is needed
    if is_unknown(policy):
        verdict.unknown(f"{res.label}: redrivePolicy (build it from the DLQ's derived ARN to check it in preview)")
        return verdict
    count = policy.get("maxReceiveCount")
    if is_unknown(count):
        verdict.unknown(f"{res.label}: redrivePolicy.maxReceiveCount")
    elif as_number(count) != wanted:
        shown = "missing" if count is None else repr(count)
        verdict.fail(
            f"{res.label}: redrivePolicy.maxReceiveCount is {shown}; set it to {fmt_number(wanted)} "
            f"(a message moves to the DLQ after {fmt_number(wanted)} receives)"
        )
    target = policy.get("deadLetterTargetArn")
    if is_unknown(target):
        verdict.unknown(f"{res.label}: redrivePolicy.deadLetterTargetArn")
    elif not (isinstance(target, str) and target.startswith("arn:") and ":sqs:" in target):
        verdict.fail(f"{res.label}: redrivePolicy.deadLetterTargetArn {target!r} is not an SQS queue ARN")
    return verdict


@dataclass(frozen=True)
class _Redrive:
    holder: Res  # the Queue (inline) or RedrivePolicy resource that carries the policy
    source: Res | None  # the queue whose messages are redriven
    target: Res | None  # the dead-letter queue, if it is in the stack
    target_text: str  # what the policy names, for messages
    known: bool  # the target could be decided (known ARN, or a property dependency on a queue)


def _fifo(queue: Res) -> bool | None:
    flag = queue.get("fifoQueue")
    if is_unknown(flag):
        name = queue.get("name")
        return name.endswith(".fifo") if isinstance(name, str) and not is_unknown(name) else None
    name = queue.get("name")
    return bool(as_bool(flag)) or (isinstance(name, str) and name.endswith(".fifo"))


def _redrives(resources: Sequence[Res], verdict: Verdict) -> list[_Redrive]:
    found = []
    for res in resources:
        if res.type not in (QUEUE, REDRIVE):
            continue
        try:
            policy = _redrive(res)
        except BadJson:
            policy = UNKNOWN  # reported by sqs-redrive-max-receive-count; here it names no target
        if policy is None:
            continue
        if res.type == QUEUE:
            source: Res | None = res
        else:
            source = find_referenced(resources, res, "queueUrl", (QUEUE,), res.get("queueUrl"), ("name", "url"))
            if source is None:
                verdict.unknown(f"{res.label}: which queue its queueUrl names")
        target_arn = UNKNOWN if is_unknown(policy) else policy.get("deadLetterTargetArn")
        target = find_referenced(resources, res, "redrivePolicy", (QUEUE,), target_arn, ("name",))
        known = target is not None or (isinstance(target_arn, str) and not is_unknown(target_arn))
        text = target_arn if isinstance(target_arn, str) and not is_unknown(target_arn) else "(unknown)"
        found.append(_Redrive(res, source, target, text, known))
    return found


def _is_redrive_allowed_target(queue: Res, resources: Sequence[Res]) -> bool:
    """A queue that declares who may use it as a DLQ (redrive-allow policy) is a dead-letter queue."""
    allow = queue.get("redriveAllowPolicy")
    if allow is not None and allow != "":
        if is_unknown(allow):
            return True
        try:
            document = json_document(allow)
        except BadJson:
            return False
        return isinstance(document, Mapping) and document.get("redrivePermission") != "denyAll"
    for res in resources:
        if res.type == REDRIVE_ALLOW:
            named = find_referenced(resources, res, "queueUrl", (QUEUE,), res.get("queueUrl"), ("name", "url"))
            if named is not None and named.urn == queue.urn:
                return True
    return False


def check_queue_has_dlq(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    redrives = _redrives(resources, verdict)
    targets = {r.target.urn for r in redrives if r.target is not None}
    unresolved_targets = [r for r in redrives if not r.known]
    for queue in (r for r in resources if r.type == QUEUE):
        own = [r for r in redrives if r.source is not None and r.source.urn == queue.urn]
        if queue.urn in targets or _is_redrive_allowed_target(queue, resources):
            continue  # a dead-letter queue needs no DLQ of its own
        if not own:
            if unresolved_targets:
                verdict.unknown(f"{queue.label}: no redrive policy, and it may be the target of an unknown one")
                continue
            verdict.fail(
                f"{queue.label} has no dead-letter queue: set redrivePolicy "
                f'{{"deadLetterTargetArn": <DLQ ARN>, "maxReceiveCount": {fmt_number(float(cfg["maxReceiveCount"]))}}} '
                "(or add an aws.sqs.RedrivePolicy) naming a queue defined in this stack",
                queue.urn,
            )
            continue
        for redrive in own:
            if redrive.target is not None:
                continue
            if not redrive.known:
                verdict.unknown(f"{queue.label}: redrive target (unknown until apply)")
            else:
                verdict.fail(
                    f"{queue.label}: its dead-letter target {redrive.target_text} is not a queue in this stack; "
                    "create the DLQ here (same kind as the queue) so its settings and alarm are reviewed with it",
                    queue.urn,
                )
    return verdict


def check_dlq_same_kind(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    for redrive in _redrives(resources, Verdict()):
        if redrive.source is None or redrive.target is None:
            continue
        source_fifo, target_fifo = _fifo(redrive.source), _fifo(redrive.target)
        if source_fifo is None or target_fifo is None:
            verdict.unknown(f"{redrive.source.label}: whether it and its DLQ are FIFO")
        elif source_fifo and not target_fifo:
            verdict.fail(
                f"FIFO {redrive.source.label} uses standard queue '{redrive.target.name}' as its DLQ; "
                "a FIFO queue's DLQ must be FIFO (fifoQueue: true, name ending in .fifo)",
                redrive.source.urn,
            )
        elif target_fifo and not source_fifo:
            verdict.fail(
                f"standard {redrive.source.label} uses FIFO queue '{redrive.target.name}' as its DLQ; "
                "a standard queue's DLQ must be a standard queue",
                redrive.source.urn,
            )
    return verdict


def check_encrypted(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    sse, kms = res.get("sqsManagedSseEnabled"), res.get("kmsMasterKeyId")
    if kms:  # a key id, possibly unknown until the key exists: set either way
        return verdict
    if is_unknown(sse):
        verdict.unknown(f"{res.label}: sqsManagedSseEnabled")
    elif as_bool(sse) is not True:
        verdict.fail(f"{res.label} is not encrypted at rest: set sqsManagedSseEnabled: true or kmsMasterKeyId")
    return verdict


def check_policy_scoped(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    check_resource_policy(res.get("policy"), res.label, verdict)
    return verdict


MAX_RECEIVE_CONFIG = {
    "maxReceiveCount": {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 3,
        "description": "Receives before SQS moves a message to its dead-letter queue.",
    }
}

RULES = [
    Rule(
        id="sqs-redrive-max-receive-count",
        description="Every SQS redrive policy moves a message to its DLQ after exactly the configured number of receives.",
        level="mandatory",
        control="Org rule (poison-message budget); no public control fixes the count",
        scope="resource",
        check=check_max_receive_count,
        types=(QUEUE, REDRIVE),
        config=MAX_RECEIVE_CONFIG,
        remediation="Set redrivePolicy.maxReceiveCount to the configured value (default 3).",
    ),
    Rule(
        id="sqs-queue-has-dlq",
        description="Every SQS queue that is not itself a dead-letter queue has a DLQ defined in this stack.",
        level="mandatory",
        control="Control Tower CT.SQS.PR.1 (same exemption: queues carrying a redrive-allow policy)",
        scope="stack",
        check=check_queue_has_dlq,
        config=MAX_RECEIVE_CONFIG,
        remediation="Add a dead-letter queue of the same kind and a redrive policy naming it.",
    ),
    Rule(
        id="sqs-dlq-same-kind",
        description="A FIFO queue's DLQ is FIFO and a standard queue's DLQ is standard (SQS requires it).",
        level="mandatory",
        control="AWS SQS requirement (dead-letter queue type must match the source queue)",
        scope="stack",
        check=check_dlq_same_kind,
        remediation="Point the redrive policy at a DLQ of the same kind.",
    ),
    Rule(
        id="sqs-encrypted",
        description="SQS queues are encrypted at rest (SSE-SQS or a KMS key).",
        level="advisory",
        control="Security Hub FSBP SQS.1; Control Tower CT.SQS.PR.2; Checkov CKV_AWS_27",
        scope="resource",
        check=check_encrypted,
        types=(QUEUE,),
        remediation="Set sqsManagedSseEnabled: true (or kmsMasterKeyId).",
    ),
    Rule(
        id="sqs-policy-scoped",
        description="SQS queue policies are not public and scope service principals with aws:SourceArn.",
        level="advisory",
        control="Security Hub FSBP SQS.3; Checkov CKV_AWS_168",
        scope="resource",
        check=check_policy_scoped,
        types=(QUEUE, QUEUE_POLICY),
        remediation="Name the principal and add aws:SourceArn (and aws:SourceAccount for S3) conditions.",
    ),
]
