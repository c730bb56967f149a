"""Mocks that answer like AWS: computed outputs per resource type and the invokes the program makes.

A mock that forgets an output the program reads turns it into None and silently drops the input that
used it, so every output a component reads is produced here. In preview mode resources return only
their inputs: outputs computed by AWS (arn, id, url...) are unknown, as for a stack not yet created.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
PARTITION = "aws"
HOSTED_ZONE_ID = "Z0OFFLINE0ZONE00000001"
"""The public hosted zone `getZone` finds, whatever name is asked for."""

Outputs = dict[str, Any]


def _arn(service: str, region: str, resource: str, *, account: str = ACCOUNT_ID) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _queue(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    url = f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}"
    return url, {"arn": _arn("sqs", region, name), "url": url}


def _topic(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    arn = _arn("sns", region, name)
    return arn, {"arn": arn}


def _bucket(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    bucket = inputs.get("bucket") or name
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:{PARTITION}:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "hostedZoneId": S3_WEBSITE_ZONES.get(region, "Z3AQBSTGFYJSTF"),
        "region": region,
    }


def _table(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    return name, {"arn": _arn("dynamodb", region, f"table/{name}")}


def _key(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    key_id = "0b6c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
    return key_id, {"arn": _arn("kms", region, f"key/{key_id}"), "keyId": key_id}


def _alarm(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    return name, {"arn": _arn("cloudwatch", region, f"alarm:{name}")}


def _vpc_endpoint(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    endpoint_id = f"vpce-{zlib.crc32(f'{region}/{name}'.encode()):08x}"
    gateway = inputs.get("vpcEndpointType") == "Gateway"
    return endpoint_id, {
        "arn": _arn("ec2", region, f"vpc-endpoint/{endpoint_id}"),
        "prefixListId": f"pl-{zlib.crc32(str(inputs.get('serviceName')).encode()):08x}" if gateway else None,
    }


def _short_id(*parts: object) -> str:
    """A deterministic 10-character id, shaped like API Gateway's, from the parts that identify a resource."""
    return format(zlib.crc32("/".join(str(p) for p in parts).encode()), "010x")


def _rest_api(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    api_id = _short_id(region, name)
    return api_id, {
        "rootResourceId": _short_id(api_id, "/")[:10],
        "executionArn": _arn("execute-api", region, api_id),
        "arn": f"arn:{PARTITION}:apigateway:{region}::/restapis/{api_id}",
    }


def _api_resource(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    return _short_id(region, inputs.get("restApi"), inputs.get("pathPart"))[:6], {"path": f"/{inputs.get('pathPart')}"}


def _api_stage(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    api, stage = inputs.get("restApi"), inputs.get("stageName")
    return f"ags-{api}-{stage}", {
        "invokeUrl": f"https://{api}.execute-api.{region}.amazonaws.com/{stage}",
        "executionArn": _arn("execute-api", region, f"{api}/{stage}"),
        "arn": f"arn:{PARTITION}:apigateway:{region}::/restapis/{api}/stages/{stage}",
    }


APIGW_REGIONAL_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
}
"""Hosted zone ids of API Gateway's regional endpoints (AWS documentation), a custom domain's `regionalZoneId`."""


def _api_domain(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    domain = str(inputs.get("domainName"))
    return domain, {
        "regionalDomainName": f"d-{_short_id(region, domain)}.execute-api.{region}.amazonaws.com",
        "regionalZoneId": APIGW_REGIONAL_ZONES.get(region, "Z1UJRXOUMOOFQ8"),
        "arn": f"arn:{PARTITION}:apigateway:{region}::/domainnames/{domain}",
    }


def _certificate(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    domain = str(inputs.get("domainName"))
    arn = _arn("acm", region, f"certificate/{_short_id(region, domain)}")
    return arn, {
        "arn": arn,
        "status": "PENDING_VALIDATION",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_short_id('name', domain)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_short_id('value', domain)}.acm-validations.aws.",
            }
        ],
    }


def _health_check(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    check_id = f"{_short_id(name)}-0000-4000-8000-{_short_id(name, 'hc')}00"
    return check_id, {"arn": f"arn:{PARTITION}:route53:::healthcheck/{check_id}"}


def _record(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    fqdn = str(inputs.get("name")).rstrip(".")
    record_id = "_".join(str(inputs.get(k, "")) for k in ("zoneId", "name", "type", "setIdentifier")).rstrip("_")
    return record_id, {"fqdn": fqdn}


S3_WEBSITE_DASH_REGIONS = {
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
}
"""Regions whose S3 website endpoint is `s3-website-<region>`; newer regions use `s3-website.<region>`."""


def _bucket_website(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    bucket = str(inputs.get("bucket"))
    sep = "-" if region in S3_WEBSITE_DASH_REGIONS else "."
    domain = f"s3-website{sep}{region}.amazonaws.com"
    return bucket, {"websiteDomain": domain, "websiteEndpoint": f"{bucket}.{domain}"}


def _log_group(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    return name, {"arn": _arn("logs", region, f"log-group:{name}")}


def _launch_template(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    template_id = f"lt-{zlib.crc32(f'{region}/{name}'.encode()):08x}0000000"
    return template_id, {
        "arn": _arn("ec2", region, f"launch-template/{template_id}"),
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _iam(kind: str) -> Callable[[str, str, Outputs], tuple[str, Outputs]]:
    def outputs(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
        return name, {
            "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:{kind}/{name}",
            "name": name,
            "uniqueId": "AROAOFFLINE",
        }

    return outputs


def _asg(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    group_id = "6d5a1b2c-3e4f-4a5b-8c9d-0e1f2a3b4c5d"
    return name, {"arn": _arn("autoscaling", region, f"autoScalingGroup:{group_id}:autoScalingGroupName/{name}")}


S3_WEBSITE_ZONES = {
    "us-east-1": "Z3AQBSTGFYJSTF",
    "us-east-2": "Z2O1EMRO9K5GLX",
    "us-west-1": "Z2F56UZL2M1ACD",
    "us-west-2": "Z3BJ6K6RIION7M",
    "eu-west-1": "Z1BKCTXD74EZPE",
    "eu-central-1": "Z21DNDUVLTQW6Q",
}
"""S3 website endpoint hosted zone ids (AWS documentation), returned as a bucket's `hostedZoneId`."""


def _db_instance(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    address = f"{name}.c0offline0.{region}.rds.amazonaws.com"
    port = inputs.get("port") or 5432
    secret = _arn("secretsmanager", region, f"secret:rds!db-{_short_id(region, name)}-AbCdEf")
    managed = inputs.get("manageMasterUserPassword")
    return name, {
        "address": address,
        "port": port,
        "endpoint": f"{address}:{int(port)}",
        "arn": _arn("rds", region, f"db:{name}"),
        "resourceId": f"db-{_short_id('rds', name).upper()}",
        "masterUserSecrets": [{"secretArn": secret, "secretStatus": "active", "kmsKeyId": ""}] if managed else [],
    }


def _redshift_namespace(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    namespace_id = f"{_short_id('ns', region, name)}-0000-4000-8000-000000000000"
    return name, {"namespaceId": namespace_id, "arn": _arn("redshift-serverless", region, f"namespace/{namespace_id}")}


def _redshift_workgroup(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    workgroup_id = f"{_short_id('wg', region, name)}-0000-4000-8000-000000000000"
    host = f"{name}.{ACCOUNT_ID}.{region}.redshift-serverless.amazonaws.com"
    return name, {
        "workgroupId": workgroup_id,
        "arn": _arn("redshift-serverless", region, f"workgroup/{workgroup_id}"),
        "endpoints": [{"address": host, "port": 5439}],
    }


def _lambda_function(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    arn = _arn("lambda", region, f"function:{name}")
    return name, {
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "invokeArn": f"arn:{PARTITION}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
        "version": "$LATEST",
    }


def _lambda_layer(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    layer = str(inputs.get("layerName") or name)
    arn = _arn("lambda", region, f"layer:{layer}")
    return f"{arn}:1", {"arn": f"{arn}:1", "layerArn": arn, "version": "1"}


def _ecs_cluster(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    arn = _arn("ecs", region, f"cluster/{name}")
    return arn, {"arn": arn}


def _ecs_task_definition(name: str, region: str, inputs: Outputs) -> tuple[str, Outputs]:
    family = str(inputs.get("family") or name)
    return family, {"arn": _arn("ecs", region, f"task-definition/{family}:1"), "revision": 1}


RESOURCE_OUTPUTS: dict[str, Callable[[str, str, Outputs], tuple[str, Outputs]]] = {
    "aws:sqs/queue:Queue": _queue,
    "aws:sns/topic:Topic": _topic,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:dynamodb/table:Table": _table,
    "aws:kms/key:Key": _key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:iam/role:Role": _iam("role"),
    "aws:iam/instanceProfile:InstanceProfile": _iam("instance-profile"),
    "aws:autoscaling/group:Group": _asg,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/resource:Resource": _api_resource,
    "aws:apigateway/stage:Stage": _api_stage,
    "aws:apigateway/domainName:DomainName": _api_domain,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:route53/record:Record": _record,
    "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration": _bucket_website,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:rds/instance:Instance": _db_instance,
    "aws:redshiftserverless/namespace:Namespace": _redshift_namespace,
    "aws:redshiftserverless/workgroup:Workgroup": _redshift_workgroup,
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/layerVersion:LayerVersion": _lambda_layer,
    "aws:ecs/cluster:Cluster": _ecs_cluster,
    "aws:ecs/taskDefinition:TaskDefinition": _ecs_task_definition,
}
"""Computed outputs by resource type: `(name, region, inputs) -> (id, outputs)`. Tiers add theirs."""


def _physical_name(args: pulumi.runtime.MockResourceArgs) -> str:
    inputs = args.inputs
    for key in ("name", "bucket", "functionName", "dashboardName", "identifier", "namespaceName", "workgroupName"):
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return args.name


CALLS: dict[str, Callable[[Outputs, str], Outputs]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/offline",
        "userId": "AIDAOFFLINE",
        "id": ACCOUNT_ID,
    },
    "aws:index/getPartition:getPartition": lambda a, r: {
        "partition": PARTITION,
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
        "id": PARTITION,
    },
    "aws:index/getRegion:getRegion": lambda a, r: {
        "name": r,
        "region": r,
        "id": r,
        "endpoint": f"ec2.{r}.amazonaws.com",
    },
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a, r: {
        "names": [f"{r}a", f"{r}b", f"{r}c"],
        "zoneIds": [f"{r[:2]}{r.split('-')[1][0]}1-az{i}" for i in (1, 2, 3)],
        "id": r,
    },
    "aws:ec2/getAmi:getAmi": lambda a, r: {
        "id": "ami-0a1b2c3d4e5f60718",
        "arn": f"arn:{PARTITION}:ec2:{r}::image/ami-0a1b2c3d4e5f60718",
        "name": "al2023-ami-2023.9.20251117.1-kernel-6.1-x86_64",
        "architecture": "x86_64",
        "ownerId": "137112412989",
        "imageOwnerAlias": "amazon",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "mostRecent": True,
        "owners": a.get("owners", []),
        "filters": a.get("filters", []),
    },
    "aws:route53/getZone:getZone": lambda a, r: {
        "zoneId": HOSTED_ZONE_ID,
        "name": str(a.get("name", "")).rstrip("."),
        "privateZone": False,
        "id": HOSTED_ZONE_ID,
    },
}
"""Invoke results by token: `(args, provider region) -> result`. Tiers add the invokes they use."""


class AwsMocks(pulumi.runtime.Mocks):
    """Answers like AWS for the types in RESOURCE_OUTPUTS; other types echo their inputs."""

    def __init__(self, preview: bool) -> None:
        self.preview = preview
        self.provider_regions: dict[str, str] = {}

    def region_for(self, provider_ref: str | None) -> str:
        """Region of the provider a reference (`<urn>::<id>`) points at; the default provider's is us-east-1."""
        return self.provider_regions.get((provider_ref or "").rsplit("::", 1)[-1], "us-east-1")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            provider_id = f"{args.name}-provider-id"
            self.provider_regions[provider_id] = str(inputs.get("region", "us-east-1"))
            return provider_id, inputs
        if self.preview:
            return "", inputs  # a resource about to be created: only its inputs are known
        region = self.region_for(args.provider)
        name = _physical_name(args)
        compute = RESOURCE_OUTPUTS.get(args.typ)
        if compute is None:
            return f"{args.name}-id", {**inputs, "arn": _arn(args.typ.split(":")[1].split("/")[0], region, name)}
        id_, outputs = compute(name, region, inputs)
        return id_, {**inputs, "id": id_, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[Any, Any]:  # type: ignore[override]
        handler = CALLS.get(args.token)
        if handler is None:
            raise NotImplementedError(f"offline/mocks.py has no answer for invoke {args.token}; add one to CALLS")
        return handler(dict(args.args), self.region_for(args.provider))
