"""SNS and S3: encrypted topics, scoped topic policies, S3 public access block and TLS-only bucket policies.

The S3 rules are stack level because the block and the policy are separate resources that point at the
bucket. The failover error page must be public (S3 website endpoints are HTTP only), so both S3 rules
exempt buckets by logical name, `["error-page"]` by default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    BadJson,
    Res,
    Rule,
    Verdict,
    as_bool,
    check_resource_policy,
    condition_values,
    find_referenced,
    is_unknown,
    json_document,
    listify,
    statements,
)

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ERROR_PAGE = ("error-page",)


def check_topic_encrypted(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    key = res.get("kmsMasterKeyId")
    if not key:  # an unknown value is a key id computed from a key resource: set, only not yet known
        verdict.fail(
            f"{res.label} is not encrypted at rest: set kmsMasterKeyId to a customer-managed key whose policy "
            "grants the publishing services (the AWS-managed alias/aws/sns key cannot grant S3 or CloudWatch)"
        )
    return verdict


def check_topic_policy(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    check_resource_policy(res.get("policy"), res.label, verdict)
    return verdict


def _bucket_of(resources: Sequence[Res], res: Res) -> Res | None:
    return find_referenced(resources, res, "bucket", BUCKETS, res.get("bucket"), ("bucket",))


def _per_bucket(resources: Sequence[Res], attachment_type: str) -> Iterator[tuple[Res, list[Res], Res | None]]:
    """The shape both S3 rules share: each bucket, the `attachment_type` resources that point at it (its public
    access blocks, its bucket policies), and the first such resource whose bucket cannot be told yet (None when
    every one was placed): a bucket with nothing attached may then be that resource's, so it is unchecked."""
    attached: dict[str, list[Res]] = {}
    unplaced: list[Res] = []
    for res in (r for r in resources if r.type == attachment_type):
        bucket = _bucket_of(resources, res)
        if bucket is None:
            unplaced.append(res)
        else:
            attached.setdefault(bucket.urn, []).append(res)
    for bucket in (r for r in resources if r.type in BUCKETS):
        yield bucket, attached.get(bucket.urn, []), unplaced[0] if unplaced else None


def check_public_access_block(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    for account_block in (r for r in resources if r.type == ACCOUNT_PAB):
        if all(as_bool(account_block.get(flag)) is True for flag in PAB_FLAGS):
            return verdict  # the account-level block covers every bucket
    for bucket, blocks, unplaced in _per_bucket(resources, BUCKET_PAB):
        if not blocks and unplaced is not None:
            verdict.unknown(f"{bucket.label}: which bucket {unplaced.label} blocks")
        elif not blocks:
            verdict.fail(
                f"{bucket.label} has no public access block: add aws.s3.BucketPublicAccessBlock with all four "
                "settings true (or list the bucket in exemptResources if it must be public)",
                bucket.urn,
            )
        for block in blocks:
            values = {flag: block.get(flag) for flag in PAB_FLAGS}
            unknown = [f for f, v in values.items() if is_unknown(v)]
            off = [f for f, v in values.items() if not is_unknown(v) and as_bool(v) is not True]
            if unknown:
                verdict.unknown(f"{block.label}: {', '.join(unknown)}")
            if off:
                verdict.fail(
                    f"{bucket.label}: its public access block leaves {', '.join(off)} off; set them true", bucket.urn
                )
    return verdict


def _denies_insecure_transport(document: Any) -> bool:
    for stmt in statements(document):
        if stmt.get("Effect") != "Deny":
            continue
        actions = [str(a) for a in listify(stmt.get("Action"))]
        if not any(a in ("*", "s3:*") for a in actions):
            continue
        secure = condition_values(stmt).get("aws:securetransport", [])
        if any(as_bool(v) is False for v in secure):
            return True
    return False


def check_tls_only(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    for bucket, policies, unplaced in _per_bucket(resources, BUCKET_POLICY):
        documents = [p.get("policy") for p in policies]
        if bucket.get("policy") is not None:
            documents.append(bucket.get("policy"))
        if not documents and unplaced is not None:
            verdict.unknown(f"{bucket.label}: which bucket {unplaced.label} belongs to")
        else:
            _judge_tls(bucket, documents, verdict)
    return verdict


def _judge_tls(bucket: Res, documents: list[Any], verdict: Verdict) -> None:
    """Passes once a document denies plain HTTP; a broken or unknown document is reported as such, and the
    bucket fails for plain HTTP only when every document was read and none denies it."""
    decided = False
    for value in documents:
        try:
            document = json_document(value)
        except BadJson as exc:
            verdict.fail(f"{bucket.label}: its bucket policy is {exc}", bucket.urn)
            decided = True
            continue
        if document is None:
            continue
        if is_unknown(document):
            verdict.unknown(f"{bucket.label}: bucket policy document")
            decided = True
            continue
        try:
            if _denies_insecure_transport(document):
                return
        except BadJson as exc:
            verdict.fail(f"{bucket.label}: its bucket policy: {exc}", bucket.urn)
            decided = True
    if not decided:
        verdict.fail(
            f"{bucket.label} accepts plain HTTP: add a bucket policy statement Deny s3:* on the bucket "
            'and its objects when {"Bool": {"aws:SecureTransport": "false"}}',
            bucket.urn,
        )


EXEMPT_NOTE = "The failover error page is served by the S3 website endpoint (public, HTTP only)."

RULES = [
    Rule(
        id="sns-encrypted",
        description="SNS topics are encrypted at rest with a KMS key.",
        level="advisory",
        control="Security Hub FSBP SNS.1; Checkov CKV_AWS_26",
        scope="resource",
        check=check_topic_encrypted,
        types=(TOPIC,),
        remediation="Set kmsMasterKeyId to a customer-managed key that grants the publishing services.",
    ),
    Rule(
        id="sns-policy-scoped",
        description="SNS topic policies are not public and scope service principals with aws:SourceArn (+ aws:SourceAccount for S3).",
        level="advisory",
        control="Security Hub FSBP SNS.4; Checkov CKV_AWS_169",
        scope="resource",
        check=check_topic_policy,
        types=(TOPIC, TOPIC_POLICY),
        remediation="Name the principal and add aws:SourceArn (and aws:SourceAccount for S3) conditions.",
    ),
    Rule(
        id="s3-public-access-block",
        description="Every S3 bucket (except the exempt error page) has a public access block with all four settings on.",
        level="advisory",
        control="Security Hub FSBP S3.8; Checkov CKV2_AWS_6",
        scope="stack",
        check=check_public_access_block,
        exempt_default=ERROR_PAGE,
        remediation="Add aws.s3.BucketPublicAccessBlock(bucket=..., all four flags True). " + EXEMPT_NOTE,
    ),
    Rule(
        id="s3-tls-only",
        description="Every S3 bucket (except the exempt error page) denies requests that do not use TLS.",
        level="advisory",
        control="Security Hub FSBP S3.5",
        scope="stack",
        check=check_tls_only,
        exempt_default=ERROR_PAGE,
        remediation="Add a bucket policy Deny s3:* when aws:SecureTransport is false. " + EXEMPT_NOTE,
    ),
]
