"""Lambda consumers of SQS: partial batch responses, and a queue visibility timeout >= 6x the function timeout.

Without ReportBatchItemFailures one bad message makes the whole batch visible again, so good messages are
reprocessed and the bad one burns its receive budget with them. AWS recommends a visibility timeout of at
least six times the function timeout so a batch retried by the poller is not delivered twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .core import Res, Rule, Verdict, as_number, find_referenced, fmt_number, is_unknown, listify

MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
LAMBDA_DEFAULT_TIMEOUT = 3.0
SQS_DEFAULT_VISIBILITY = 30.0


def _is_sqs(res: Res) -> bool | None:
    arn = res.get("eventSourceArn")
    if isinstance(arn, str) and not is_unknown(arn):
        return ":sqs:" in arn
    if res.get("startingPosition") is not None:
        return False  # streams (Kinesis, DynamoDB, Kafka) need a starting position; SQS has none
    return None


def check_batch_item_failures(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    sqs = _is_sqs(res)
    if sqs is None:
        verdict.unknown(f"{res.label}: eventSourceArn (whether the source is SQS)")
        return verdict
    if not sqs:
        return verdict
    types = res.get("functionResponseTypes")
    if is_unknown(types):
        verdict.unknown(f"{res.label}: functionResponseTypes")
    elif "ReportBatchItemFailures" not in listify(types):
        verdict.fail(
            f"{res.label}: functionResponseTypes lacks ReportBatchItemFailures; add it and return batchItemFailures "
            "so only failed messages are retried"
        )
    return verdict


def check_visibility_timeout(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    factor = float(cfg["multiplier"])
    for mapping in (r for r in resources if r.type == MAPPING):
        arn = mapping.get("eventSourceArn")
        queue = find_referenced(resources, mapping, "eventSourceArn", (QUEUE,), arn, ("name",))
        if queue is None:
            if is_unknown(arn):
                verdict.unknown(f"{mapping.label}: eventSourceArn")
            elif isinstance(arn, str) and ":sqs:" in arn:
                verdict.unknown(f"{mapping.label}: queue {arn} is not in this stack")
            continue
        name = mapping.get("functionName")
        function = find_referenced(resources, mapping, "functionName", (FUNCTION,), name, ("name", "arn"))
        if function is None:
            verdict.unknown(
                f"{mapping.label}: function {name if not is_unknown(name) else '(unknown)'} not in this stack"
            )
            continue
        timeout = function.get("timeout", LAMBDA_DEFAULT_TIMEOUT)
        visibility = queue.get("visibilityTimeoutSeconds", SQS_DEFAULT_VISIBILITY)
        if is_unknown(timeout) or is_unknown(visibility):
            verdict.unknown(f"{mapping.label}: function timeout or queue visibility timeout")
            continue
        t, v = as_number(timeout) or LAMBDA_DEFAULT_TIMEOUT, as_number(visibility) or 0.0
        if v < factor * t:
            verdict.fail(
                f"{queue.label} has a visibility timeout of {fmt_number(v)} s but its consumer {function.label} may "
                f"run {fmt_number(t)} s; set visibilityTimeoutSeconds >= {fmt_number(factor * t)} "
                f"({fmt_number(factor)}x the function timeout)",
                queue.urn,
            )
    return verdict


RULES = [
    Rule(
        id="lambda-sqs-batch-item-failures",
        description="Lambda SQS event source mappings report batch item failures.",
        level="advisory",
        control="AWS Lambda SQS best practice (partial batch responses); no FSBP control",
        scope="resource",
        check=check_batch_item_failures,
        types=(MAPPING,),
    ),
    Rule(
        id="lambda-sqs-visibility-timeout",
        description="A queue consumed by Lambda has a visibility timeout of at least 6x the function timeout.",
        level="advisory",
        control="AWS Lambda developer guide (SQS event sources: visibility timeout >= 6x function timeout)",
        scope="stack",
        check=check_visibility_timeout,
        config={
            "multiplier": {
                "type": "number",
                "minimum": 1,
                "default": 6,
                "description": "Queue visibility timeout / function timeout, at least.",
            }
        },
    ),
]
