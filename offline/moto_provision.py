"""Provision the embedded emulator from the Pulumi program itself.

`EmulatorMocks` is an `AwsMocks` whose `new_resource` creates every resource type moto can run (queues,
topics, subscriptions, the bucket and its settings, the notification, the table, the KMS key, alarms,
the dashboard) through plain boto3 against `AWS_ENDPOINT_URL`, and hands the emulator's REAL ARNs/URLs
back as the resource's outputs, so every later resource and every stack export sees real values.
The mock runtime registers a resource only once its inputs (and `depends_on`) have resolved, so the
program's own dependency graph orders the API calls, exactly as the engine orders them on AWS.

Inputs arrive in the engine's camelCase shape; each handler translates the keys it knows into API
parameters and rejects any other key, so a misspelt attribute or a malformed redrive policy fails here,
locally, instead of on `pulumi up`. Types the emulator cannot meaningfully run (VPC, ASG, Lambda, RDS,
Route 53, API Gateway, IAM...) get the offline mock outputs and are listed in `aws_only`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pulumi
from botocore.config import Config

from offline.graph import PROGRAM_LOG, Graph, run_program, stack_config
from offline.mocks import ACCOUNT_ID, AwsMocks, Outputs

BOTO_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)


class EmulatorClients:
    """`clients("sqs", region)`: one boto3 client per service and region against `endpoint` (None: the
    `AWS_ENDPOINT_URL*` environment). Thread-safe: the mock runtime calls the provisioner from threads."""

    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None

    def __call__(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service, region_name=region, endpoint_url=self.endpoint, config=BOTO_CONFIG
                )
            return self._clients[key]

    def account(self, region: str) -> str:
        """The emulator's account id (STS `GetCallerIdentity`): the embedded one's is the mocks', a user's may differ."""
        if self._account is None:
            self._account = str(self("sts", region).get_caller_identity()["Account"])
        return self._account


class ProvisionError(RuntimeError):
    """The program asked the emulator for something AWS would refuse too (or the translator cannot map)."""


@dataclass
class Provisioned:
    """What one run of the program created in the emulator."""

    graph: Graph
    created: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, physical id) in creation order."""
    aws_only: list[tuple[str, str]] = field(default_factory=list)
    """(type, logical name) of resources recorded as "deployed to AWS only"."""
    not_applied: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, logical name, why): validated here but not handed to the emulator, which would misapply it."""

    @property
    def exports(self) -> dict[str, Any]:
        return self.graph.exports

    def aws_only_types(self) -> list[str]:
        return sorted({t for t, _ in self.aws_only})


def _int(value: Any) -> str:
    return str(int(value))


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _take(inputs: Mapping[str, Any], known: Collection[str], what: str, *, ignore: tuple[str, ...] = ()) -> None:
    """Fail on any input the translator does not know: a silently dropped setting is a lie about AWS."""
    unknown = sorted(k for k in inputs if k not in known and k not in ignore and k != "__defaults")
    if unknown:
        raise ProvisionError(
            f"{what}: no emulator translation for input(s) {unknown}; add them to offline/moto_provision.py"
        )


QUEUE_ATTRIBUTES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "fifoQueue": ("FifoQueue", _bool),
    "contentBasedDeduplication": ("ContentBasedDeduplication", _bool),
    "deduplicationScope": ("DeduplicationScope", str),
    "fifoThroughputLimit": ("FifoThroughputLimit", str),
    "delaySeconds": ("DelaySeconds", _int),
    "maxMessageSize": ("MaximumMessageSize", _int),
    "messageRetentionSeconds": ("MessageRetentionPeriod", _int),
    "receiveWaitTimeSeconds": ("ReceiveMessageWaitTimeSeconds", _int),
    "visibilityTimeoutSeconds": ("VisibilityTimeout", _int),
    "redrivePolicy": ("RedrivePolicy", str),
    "redriveAllowPolicy": ("RedriveAllowPolicy", str),
    "policy": ("Policy", str),
    "sqsManagedSseEnabled": ("SqsManagedSseEnabled", _bool),
    "kmsMasterKeyId": ("KmsMasterKeyId", str),
    "kmsDataKeyReusePeriodSeconds": ("KmsDataKeyReusePeriodSeconds", _int),
}
"""Pulumi `aws.sqs.Queue` input -> SQS attribute name and value encoding."""


def check_redrive_policy(text: str, what: str) -> dict[str, Any]:
    """The checks SQS makes on SetQueueAttributes(RedrivePolicy), done here because it is a JSON string."""
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise ProvisionError(f"{what}: redrivePolicy is not JSON: {exc}") from None
    if not isinstance(policy, dict) or set(policy) - {"deadLetterTargetArn", "maxReceiveCount"}:
        raise ProvisionError(f"{what}: redrivePolicy must hold exactly deadLetterTargetArn and maxReceiveCount: {text}")
    count = policy.get("maxReceiveCount")
    if not isinstance(count, int) or not 1 <= count <= 1000:
        raise ProvisionError(f"{what}: redrivePolicy maxReceiveCount must be an integer 1..1000, got {count!r}")
    if not str(policy.get("deadLetterTargetArn", "")).startswith("arn:"):
        raise ProvisionError(f"{what}: redrivePolicy deadLetterTargetArn is not an ARN: {text}")
    return policy


def check_redrive_allow_policy(text: str, what: str) -> None:
    """moto stores RedriveAllowPolicy without validating or returning it; apply the SQS rules here."""
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise ProvisionError(f"{what}: redriveAllowPolicy is not JSON: {exc}") from None
    permission = policy.get("redrivePermission") if isinstance(policy, dict) else None
    if permission not in {"allowAll", "denyAll", "byQueue"}:
        raise ProvisionError(f"{what}: redriveAllowPolicy redrivePermission must be allowAll|denyAll|byQueue: {text}")
    sources = policy.get("sourceQueueArns", [])
    if (permission == "byQueue") != bool(sources) or len(sources) > 10:
        raise ProvisionError(f"{what}: sourceQueueArns (1..10) is required with byQueue and only with it: {text}")


def _type_and_name(what: str) -> tuple[str, str]:
    type_, name = what.split(" ", 1)
    return type_, name.strip("'")


def _dimensions(value: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in (value or {}).items()]


TABLE_INPUTS = frozenset(
    {
        "name",
        "hashKey",
        "rangeKey",
        "attributes",
        "billingMode",
        "pointInTimeRecovery",
        "serverSideEncryption",
        "deletionProtectionEnabled",
        "globalSecondaryIndexes",
        "ttl",
        "streamEnabled",
        "streamViewType",
        "readCapacity",
        "writeCapacity",
        "tags",
    }
)
"""The `aws.dynamodb.Table` inputs the emulator translation knows."""


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def _sse_specification(sse: Mapping[str, Any]) -> dict[str, Any]:
    """SSE with KMS: the table's own key when one is named, else the AWS-managed key."""
    return {"Enabled": True, "SSEType": "KMS", **({"KMSMasterKeyId": sse["kmsKeyArn"]} if sse.get("kmsKeyArn") else {})}


def _global_secondary_indexes(indexes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "IndexName": g["name"],
            "KeySchema": _key_schema(g["hashKey"], g.get("rangeKey")),
            "Projection": {"ProjectionType": g.get("projectionType", "ALL")},
        }
        for g in indexes
    ]


def create_table_request(inputs: Outputs) -> dict[str, Any]:
    """`aws.dynamodb.Table` inputs (camelCase) -> the parameters of DynamoDB CreateTable."""
    request: dict[str, Any] = {
        "TableName": inputs["name"],
        "KeySchema": _key_schema(inputs["hashKey"], inputs.get("rangeKey")),
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        "BillingMode": inputs.get("billingMode", "PROVISIONED"),
        "DeletionProtectionEnabled": bool(inputs.get("deletionProtectionEnabled", False)),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(inputs["readCapacity"]),
            "WriteCapacityUnits": int(inputs["writeCapacity"]),
        }
    sse = inputs.get("serverSideEncryption") or {}
    if sse.get("enabled"):
        request["SSESpecification"] = _sse_specification(sse)
    if inputs.get("streamEnabled"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": inputs["streamViewType"]}
    if inputs.get("globalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = _global_secondary_indexes(inputs["globalSecondaryIndexes"])
    return request


class EmulatorMocks(AwsMocks):
    """AwsMocks that create the emulatable resources in moto (via boto3 and AWS_ENDPOINT_URL)."""

    def __init__(self, preview: bool, *, endpoint: str | None = None) -> None:
        if preview:
            raise ValueError("provisioning creates resources: run the program as `up`, not preview")
        super().__init__(preview)
        self.endpoint = endpoint
        self.created: list[tuple[str, str, str]] = []
        self.aws_only: list[tuple[str, str]] = []
        self.not_applied: list[tuple[str, str, str]] = []
        self.client = EmulatorClients(endpoint)
        self._lock = threading.Lock()

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[Any, Any]:  # type: ignore[override]
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            # The program builds every ARN and policy from this account: the emulator's own, whatever it is.
            identity = self.client("sts", self.region_for(args.provider)).get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "userId": identity["UserId"],
                "id": identity["Account"],
            }
        return super().call(args)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ.startswith("pulumi:providers:") or not args.custom:
            return super().new_resource(args)
        handler = _HANDLERS.get(args.typ)
        if handler is None:
            with self._lock:
                self.aws_only.append((args.typ, args.name))
            return self._in_emulator_account(*super().new_resource(args), region=self.region_for(args.provider))
        inputs = {k: v for k, v in dict(args.inputs).items() if k != "__defaults"}
        region = self.region_for(args.provider)
        what = f"{args.typ} {args.name!r}"
        try:
            id_, outputs = handler(self, inputs, region, what)
        except ProvisionError:
            raise
        except Exception as exc:  # botocore ClientError and friends: name the resource that failed
            raise ProvisionError(f"{what}: the emulator refused it: {exc}") from exc
        with self._lock:
            self.created.append((args.typ, args.name, id_))
        return id_, {**inputs, "id": id_, **outputs}

    def _in_emulator_account(
        self, id_: str | None, outputs: dict[Any, Any], *, region: str
    ) -> tuple[str | None, dict[Any, Any]]:
        """An AWS-only resource's offline mock outputs, with the mocks' account replaced by the emulator's."""
        account = self.client.account(region)
        if account == ACCOUNT_ID:
            return id_, outputs
        swapped = json.loads(json.dumps(outputs, default=str).replace(ACCOUNT_ID, account))
        return (id_.replace(ACCOUNT_ID, account) if id_ else id_), swapped

    # --- SQS ---------------------------------------------------------------------------------------

    def queue(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {**QUEUE_ATTRIBUTES, "name": 1, "tags": 1}, what)
        attributes = {
            QUEUE_ATTRIBUTES[k][0]: QUEUE_ATTRIBUTES[k][1](v) for k, v in inputs.items() if k in QUEUE_ATTRIBUTES
        }
        if "RedrivePolicy" in attributes:
            check_redrive_policy(attributes["RedrivePolicy"], what)
        if "RedriveAllowPolicy" in attributes:
            check_redrive_allow_policy(attributes["RedriveAllowPolicy"], what)
        sqs = self.client("sqs", region)
        kwargs: dict[str, Any] = {"QueueName": inputs["name"], "Attributes": attributes}
        if inputs.get("tags"):
            kwargs["tags"] = dict(inputs["tags"])
        url = sqs.create_queue(**kwargs)["QueueUrl"]
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        # Read back what the emulator reports: a setting it silently ignored must not pass as applied.
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "FifoQueue"):
            if key in attributes and got.get(key) != attributes[key]:
                raise ProvisionError(f"{what}: asked {key}={attributes[key]}, emulator reports {got.get(key)}")
        return url, {"arn": got["QueueArn"], "url": url, "name": inputs["name"]}

    def queue_policy(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"queueUrl": 1, "policy": 1}, what)
        json.loads(inputs["policy"])
        self.client("sqs", region).set_queue_attributes(
            QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]}
        )
        return inputs["queueUrl"], {}

    # --- SNS ---------------------------------------------------------------------------------------

    TOPIC_ATTRIBUTES = {
        "kmsMasterKeyId": "KmsMasterKeyId",
        "fifoTopic": "FifoTopic",
        "contentBasedDeduplication": "ContentBasedDeduplication",
        "displayName": "DisplayName",
        "policy": "Policy",
        "deliveryPolicy": "DeliveryPolicy",
    }

    def topic(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {**self.TOPIC_ATTRIBUTES, "name": 1, "tags": 1}, what)
        attributes = {
            self.TOPIC_ATTRIBUTES[k]: (_bool(v) if isinstance(v, bool) else str(v))
            for k, v in inputs.items()
            if k in self.TOPIC_ATTRIBUTES
        }
        tags = [{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()]
        arn = self.client("sns", region).create_topic(Name=inputs["name"], Attributes=attributes, Tags=tags)["TopicArn"]
        return arn, {"arn": arn, "name": inputs["name"]}

    def topic_policy(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"arn": 1, "policy": 1}, what)
        json.loads(inputs["policy"])
        self.client("sns", region).set_topic_attributes(
            TopicArn=inputs["arn"], AttributeName="Policy", AttributeValue=inputs["policy"]
        )
        return inputs["arn"], {"owner": self.client.account(region)}

    SUBSCRIPTION_ATTRIBUTES = {
        "rawMessageDelivery": "RawMessageDelivery",
        "filterPolicy": "FilterPolicy",
        "filterPolicyScope": "FilterPolicyScope",
        "redrivePolicy": "RedrivePolicy",
        "deliveryPolicy": "DeliveryPolicy",
    }

    def subscription(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {**self.SUBSCRIPTION_ATTRIBUTES, "topic": 1, "protocol": 1, "endpoint": 1}, what)
        attributes = {
            self.SUBSCRIPTION_ATTRIBUTES[k]: (_bool(v) if isinstance(v, bool) else str(v))
            for k, v in inputs.items()
            if k in self.SUBSCRIPTION_ATTRIBUTES
        }
        arn = self.client("sns", region).subscribe(
            TopicArn=inputs["topic"],
            Protocol=inputs["protocol"],
            Endpoint=inputs["endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {"arn": arn}

    # --- S3 ----------------------------------------------------------------------------------------

    def bucket(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"bucket": 1, "forceDestroy": 1, "tags": 1}, what)
        name = inputs["bucket"]
        s3 = self.client("s3", region)
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        if inputs.get("tags"):
            s3.put_bucket_tagging(
                Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]}
            )
        _, outputs = super_outputs("aws:s3/bucket:Bucket", name, region, inputs)
        return name, outputs

    def public_access_block(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        keys = {
            "blockPublicAcls": "BlockPublicAcls",
            "blockPublicPolicy": "BlockPublicPolicy",
            "ignorePublicAcls": "IgnorePublicAcls",
            "restrictPublicBuckets": "RestrictPublicBuckets",
        }
        _take(inputs, {**keys, "bucket": 1}, what, ignore=("skipDestroy",))
        config = {api: bool(inputs.get(k, False)) for k, api in keys.items()}
        self.client("s3", region).put_public_access_block(
            Bucket=inputs["bucket"], PublicAccessBlockConfiguration=config
        )
        return inputs["bucket"], {}

    def ownership_controls(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"bucket": 1, "rule": 1}, what)
        rule = {"ObjectOwnership": inputs["rule"]["objectOwnership"]}
        self.client("s3", region).put_bucket_ownership_controls(
            Bucket=inputs["bucket"], OwnershipControls={"Rules": [rule]}
        )
        return inputs["bucket"], {}

    def encryption(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"bucket": 1, "rules": 1}, what, ignore=("expectedBucketOwner",))
        rules = []
        for rule in inputs["rules"]:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            by_default = {"SSEAlgorithm": default["sseAlgorithm"]}
            if default.get("kmsMasterKeyId"):
                by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
            rules.append(
                {
                    "ApplyServerSideEncryptionByDefault": by_default,
                    "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
                }
            )
        self.client("s3", region).put_bucket_encryption(
            Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )
        return inputs["bucket"], {}

    def versioning(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"bucket": 1, "versioningConfiguration": 1}, what, ignore=("expectedBucketOwner",))
        status = inputs["versioningConfiguration"]["status"]
        if status not in {"Enabled", "Suspended", "Disabled"}:
            raise ProvisionError(f"{what}: versioning status must be Enabled|Suspended|Disabled, got {status!r}")
        if status != "Disabled":
            self.client("s3", region).put_bucket_versioning(
                Bucket=inputs["bucket"], VersioningConfiguration={"Status": status}
            )
        return inputs["bucket"], {}

    def bucket_policy(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        """moto evaluates a statement's Condition without any request context, so every conditional
        statement matches: the TLS-only Deny would refuse every request. Such policies are checked and
        recorded, not applied; unconditional ones are applied."""
        _take(inputs, {"bucket": 1, "policy": 1}, what)
        statements = json.loads(inputs["policy"])["Statement"]
        if any("Condition" in s for s in statements):
            with self._lock:
                self.not_applied.append(
                    (*_type_and_name(what), "conditional statements (moto ignores request context)")
                )
            return inputs["bucket"], {}
        self.client("s3", region).put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
        return inputs["bucket"], {}

    def website(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"bucket": 1, "indexDocument": 1, "errorDocument": 1}, what, ignore=("expectedBucketOwner",))
        config: dict[str, Any] = {}
        if inputs.get("indexDocument"):
            config["IndexDocument"] = {"Suffix": inputs["indexDocument"]["suffix"]}
        if inputs.get("errorDocument"):
            config["ErrorDocument"] = {"Key": inputs["errorDocument"]["key"]}
        self.client("s3", region).put_bucket_website(Bucket=inputs["bucket"], WebsiteConfiguration=config)
        endpoint = f"{inputs['bucket']}.s3-website-{region}.amazonaws.com"
        return inputs["bucket"], {"websiteEndpoint": endpoint, "websiteDomain": f"s3-website-{region}.amazonaws.com"}

    def notification(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"bucket": 1, "topics": 1, "queues": 1, "lambdaFunctions": 1, "eventbridge": 1}, what)

        def target(entry: Mapping[str, Any], arn_key: str, api_key: str) -> dict[str, Any]:
            _take(entry, {arn_key: 1, "events": 1, "filterPrefix": 1, "filterSuffix": 1, "id": 1}, what)
            out: dict[str, Any] = {api_key: entry[arn_key], "Events": list(entry["events"])}
            rules = [
                {"Name": name, "Value": entry[key]}
                for name, key in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
                if entry.get(key)
            ]
            if rules:
                out["Filter"] = {"Key": {"FilterRules": rules}}
            if entry.get("id"):
                out["Id"] = entry["id"]
            return out

        config: dict[str, Any] = {
            "TopicConfigurations": [target(t, "topicArn", "TopicArn") for t in inputs.get("topics") or []],
            "QueueConfigurations": [target(q, "queueArn", "QueueArn") for q in inputs.get("queues") or []],
            "LambdaFunctionConfigurations": [
                target(f, "lambdaFunctionArn", "LambdaFunctionArn") for f in inputs.get("lambdaFunctions") or []
            ],
        }
        if inputs.get("eventbridge"):
            config["EventBridgeConfiguration"] = {}
        self.client("s3", region).put_bucket_notification_configuration(
            Bucket=inputs["bucket"], NotificationConfiguration=config
        )
        return inputs["bucket"], {}

    # --- DynamoDB, KMS, CloudWatch -----------------------------------------------------------------

    def table(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        """CreateTable, then the settings DynamoDB takes only on an existing table (PITR, TTL)."""
        _take(inputs, TABLE_INPUTS, what)
        name = inputs["name"]
        dynamodb = self.client("dynamodb", region)
        table = dynamodb.create_table(**create_table_request(inputs))["TableDescription"]
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        ttl = inputs.get("ttl") or {}
        if ttl.get("enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
            )
        return name, {"arn": table["TableArn"], "name": name, "streamArn": table.get("LatestStreamArn", "")}

    def key(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        known = {
            "description": 1,
            "enableKeyRotation": 1,
            "deletionWindowInDays": 1,
            "policy": 1,
            "keyUsage": 1,
            "customerMasterKeySpec": 1,
            "tags": 1,
        }
        _take(inputs, known, what, ignore=("isEnabled", "multiRegion", "bypassPolicyLockoutSafetyCheck"))
        kms = self.client("kms", region)
        kwargs: dict[str, Any] = {"Description": inputs.get("description", "")}
        if inputs.get("policy"):
            json.loads(inputs["policy"])
            kwargs["Policy"] = inputs["policy"]
        for key, api in (("keyUsage", "KeyUsage"), ("customerMasterKeySpec", "KeySpec")):
            if inputs.get(key):
                kwargs[api] = inputs[key]
        meta = kms.create_key(**kwargs)["KeyMetadata"]
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        return meta["KeyId"], {"arn": meta["Arn"], "keyId": meta["KeyId"]}

    def alias(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"name": 1, "targetKeyId": 1}, what)
        kms = self.client("kms", region)
        kms.create_alias(AliasName=inputs["name"], TargetKeyId=inputs["targetKeyId"])
        arn = next(a["AliasArn"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == inputs["name"])
        return inputs["name"], {"arn": arn, "targetKeyArn": ""}

    ALARM_PARAMS = {
        "alarmDescription": "AlarmDescription",
        "namespace": "Namespace",
        "metricName": "MetricName",
        "statistic": "Statistic",
        "extendedStatistic": "ExtendedStatistic",
        "period": "Period",
        "evaluationPeriods": "EvaluationPeriods",
        "datapointsToAlarm": "DatapointsToAlarm",
        "threshold": "Threshold",
        "comparisonOperator": "ComparisonOperator",
        "treatMissingData": "TreatMissingData",
        "alarmActions": "AlarmActions",
        "okActions": "OKActions",
        "insufficientDataActions": "InsufficientDataActions",
        "actionsEnabled": "ActionsEnabled",
        "unit": "Unit",
    }

    def alarm(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {**self.ALARM_PARAMS, "name": 1, "dimensions": 1, "metricQueries": 1, "tags": 1}, what)
        kwargs: dict[str, Any] = {"AlarmName": inputs["name"], "Dimensions": _dimensions(inputs.get("dimensions"))}
        for key, api in self.ALARM_PARAMS.items():
            if key in inputs:
                value = inputs[key]
                kwargs[api] = int(value) if api in {"Period", "EvaluationPeriods", "DatapointsToAlarm"} else value
        if inputs.get("metricQueries"):
            raise ProvisionError(f"{what}: metric-math alarms are not translated yet")
        cloudwatch = self.client("cloudwatch", region)
        cloudwatch.put_metric_alarm(**kwargs)
        arn = cloudwatch.describe_alarms(AlarmNames=[inputs["name"]])["MetricAlarms"][0]["AlarmArn"]
        return inputs["name"], {"arn": arn}

    def dashboard(self, inputs: Outputs, region: str, what: str) -> tuple[str, Outputs]:
        _take(inputs, {"dashboardName": 1, "dashboardBody": 1}, what)
        json.loads(inputs["dashboardBody"])
        cloudwatch = self.client("cloudwatch", region)
        cloudwatch.put_dashboard(DashboardName=inputs["dashboardName"], DashboardBody=inputs["dashboardBody"])
        arn = cloudwatch.get_dashboard(DashboardName=inputs["dashboardName"])["DashboardArn"]
        return inputs["dashboardName"], {"dashboardArn": arn}


def super_outputs(type_: str, name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    """The offline mock's computed outputs for a type (domain names, hosted zone ids...)."""
    from offline.mocks import RESOURCE_OUTPUTS

    return RESOURCE_OUTPUTS[type_](name, region, inputs)


_HANDLERS: dict[str, Callable[[EmulatorMocks, Outputs, str, str], tuple[str, Outputs]]] = {
    "aws:sqs/queue:Queue": EmulatorMocks.queue,
    "aws:sqs/queuePolicy:QueuePolicy": EmulatorMocks.queue_policy,
    "aws:sns/topic:Topic": EmulatorMocks.topic,
    "aws:sns/topicPolicy:TopicPolicy": EmulatorMocks.topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": EmulatorMocks.subscription,
    "aws:s3/bucket:Bucket": EmulatorMocks.bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": EmulatorMocks.public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": EmulatorMocks.ownership_controls,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": EmulatorMocks.encryption,
    "aws:s3/bucketVersioning:BucketVersioning": EmulatorMocks.versioning,
    "aws:s3/bucketPolicy:BucketPolicy": EmulatorMocks.bucket_policy,
    "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration": EmulatorMocks.website,
    "aws:s3/bucketNotification:BucketNotification": EmulatorMocks.notification,
    "aws:dynamodb/table:Table": EmulatorMocks.table,
    "aws:kms/key:Key": EmulatorMocks.key,
    "aws:kms/alias:Alias": EmulatorMocks.alias,
    "aws:cloudwatch/metricAlarm:MetricAlarm": EmulatorMocks.alarm,
    "aws:cloudwatch/dashboard:Dashboard": EmulatorMocks.dashboard,
}
EMULATED_TYPES: tuple[str, ...] = tuple(sorted(_HANDLERS))
"""Resource types the provisioner creates in the emulator; every other custom type is AWS-only."""


def local_config(region: str, config: Mapping[str, str] | None = None) -> dict[str, str]:
    """The local stack's settings: the dev stack's file with the emulator's region as primary, plus `config`."""
    settings = {**stack_config("dev"), "orders:primaryRegion": region, **(config or {})}
    if settings.get("orders:failoverRegion") == region:
        settings["orders:failoverRegion"] = "us-west-2" if region != "us-west-2" else "us-east-2"
    return settings


def provision(
    region: str,
    *,
    endpoint: str | None = None,
    stack: str = "local",
    config: Mapping[str, str] | None = None,
) -> Provisioned:
    """Run the program with `region` as its primary region and create the emulatable resources in moto.

    `endpoint` defaults to AWS_ENDPOINT_URL (what `running_emulator` exports). Config is the dev stack's
    file plus `config`, so the local stack is the dev stack with the emulator's region.
    """
    holder: list[EmulatorMocks] = []

    def factory(preview: bool) -> pulumi.runtime.Mocks:
        mocks = EmulatorMocks(preview, endpoint=endpoint)
        holder.append(mocks)
        return mocks

    settings = local_config(region, config)
    # The program warns about deploy-time artifacts (Lambda layer, worker wheelhouse) that a local
    # stack never uploads; keep those out of the demo's output, errors still show.
    level = PROGRAM_LOG.level
    PROGRAM_LOG.setLevel(logging.ERROR)
    try:
        graph = run_program(settings, stack=stack, preview=False, mocks=factory)
    finally:
        PROGRAM_LOG.setLevel(level)
    mocks = holder[0]
    return Provisioned(
        graph=graph, created=list(mocks.created), aws_only=list(mocks.aws_only), not_applied=list(mocks.not_applied)
    )
