"""The fan-out consumers and their databases, proven on the resource graph the real program registers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.consumers import packaged_files
from offline.graph import UNKNOWN, Graph, Resource, run_program
from offline.mocks import ACCOUNT_ID
from offline.policy_client import Diagnostic

FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
REGION = "eu-west-1"
CONFIG = {"orders:primaryRegion": REGION, "orders:failoverRegion": "eu-central-1"}
ECS_CONFIG = {
    **CONFIG,
    "orders:shippingConsumerRuntime": "ecs",
    "orders:consumerImage": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/orders-worker:1",
}


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return run_program(CONFIG, stack="test", preview=request.param)


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def ecs_graph(request: pytest.FixtureRequest) -> Graph:
    return run_program(ECS_CONFIG, stack="test", preview=request.param)


def known(value: Any) -> bool:
    return value is not None and value != UNKNOWN


def policy_of(graph: Graph, name: str) -> list[dict[str, Any]]:
    doc = graph.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"]
    return json.loads(doc)["Statement"] if known(doc) else []


def test_two_functions_from_the_worker_package_with_a_dependency_layer(graph: Graph) -> None:
    functions = {f.name: f.inputs for f in graph.of_type(FUNCTION)}
    assert set(functions) == {"shipping-consumer", "analytics-consumer"}
    for consumer in ("shipping", "analytics"):
        fn = functions[f"{consumer}-consumer"]
        assert fn["name"] == f"orders-test-{consumer}-consumer"
        assert fn["handler"] == f"worker.consumers.lambda_handlers.{consumer}_handler"
        assert fn["runtime"] == "python3.11" and fn["timeout"] == 30 and fn["memorySize"] == 512
        assets = set(fn["code"]["assets"])
        assert {"worker/consumers/lambda_handlers.py", "worker/model.py", "worker/topology.py"} <= assets
        assert "worker/consumers/migrations/shipping/0001_shipments_inventory.sql" in assets
        assert not any(a.startswith(("simulation/", "worker/fifo/")) or "__pycache__" in a for a in assets)
        assert len(fn["layers"]) == 1
        assert fn["loggingConfig"]["logGroup"] == f"/aws/lambda/orders-test-{consumer}-consumer"
    layer = graph.one("aws:lambda/layerVersion:LayerVersion", "consumer-deps").inputs
    assert layer["code"]["path"].endswith("build/lambda-layer")
    assert layer["compatibleRuntimes"] == ["python3.11"]
    # Shipping reaches RDS from the private subnets; analytics uses the Data API and needs no VPC.
    shipping, analytics = functions["shipping-consumer"], functions["analytics-consumer"]
    assert len(shipping["vpcConfig"]["subnetIds"]) == 3
    if not graph.preview:
        assert shipping["vpcConfig"]["securityGroupIds"] == [graph.one(SG, "consumer-db-client").id]
    assert "vpcConfig" not in analytics
    env = shipping["environment"]["variables"]
    assert env["ORDERS_DB_NAME"] == "orders"
    if not graph.preview:
        assert env["ORDERS_DB_SECRET_ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:rds!db-")
        assert env["ORDERS_DB_HOST"].endswith(".rds.amazonaws.com") and env["ORDERS_DB_PORT"] == "5432"
    assert analytics["environment"]["variables"]["ORDERS_WAREHOUSE_WORKGROUP"] == "orders-test-sales"


def test_the_function_archive_holds_every_worker_module_the_handlers_import(tmp_path: Path) -> None:
    """Lambda imports the handler from the archive alone (the layer holds only third-party packages)."""
    for name, path in packaged_files():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / name)
    code = (
        "import sys, worker.consumers.lambda_handlers as h\n"
        "assert callable(h.shipping_handler) and callable(h.analytics_handler)\n"
        "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'worker'))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr.strip().splitlines()[-1]
    assert all(Path(f).is_relative_to(tmp_path) for f in loaded.stdout.split()), "imported from outside the archive"


def test_event_source_mappings_report_batch_item_failures_with_capped_concurrency(graph: Graph) -> None:
    queues = {f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{q.inputs['name']}": q.inputs for q in graph.of_type(QUEUE)}
    functions = {f.inputs["name"]: f.inputs for f in graph.of_type(FUNCTION)}
    mappings = graph.of_type(MAPPING)
    assert sorted(m.name for m in mappings) == ["analytics-consumer", "shipping-consumer"]
    for mapping in mappings:
        m = mapping.inputs
        consumer = mapping.name.removesuffix("-consumer")
        assert m["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert m["batchSize"] == 10 and m["maximumBatchingWindowInSeconds"] == 1
        assert m["scalingConfig"] == {"maximumConcurrency": 20}
        # Known even in the preview of a fresh stack (derived ARN), so the policy pack gives a real verdict.
        queue = queues[m["eventSourceArn"]]
        assert queue["name"] == f"orders-test-{consumer}"
        function = functions[m["functionName"]]
        assert queue["visibilityTimeoutSeconds"] >= 6 * function["timeout"]


def test_shipping_database_is_private_encrypted_with_an_aws_managed_password(graph: Graph) -> None:
    (db,) = graph.of_type("aws:rds/instance:Instance")
    i = db.inputs
    assert i["engine"] == "postgres" and i["storageEncrypted"] is True and i["publiclyAccessible"] is False
    assert i["manageMasterUserPassword"] is True and "password" not in i
    assert i["multiAz"] is False and i["backupRetentionPeriod"] == 7
    subnets = graph.one("aws:rds/subnetGroup:SubnetGroup", "shipping-db").inputs
    assert len(subnets["subnetIds"]) == 3 and all("private" in s for s in subnets["subnetIds"] if known(s))
    multi = run_program({**CONFIG, "orders:dbMultiAz": "true"}, stack="test", preview=graph.preview)
    assert multi.of_type("aws:rds/instance:Instance")[0].inputs["multiAz"] is True


def test_database_admits_postgres_only_from_the_consumer_group(graph: Graph) -> None:
    db_sg = graph.one(SG, "shipping-db")
    client = graph.one(SG, "consumer-db-client")
    assert not db_sg.inputs.get("ingress") and not client.inputs.get("ingress")
    rules = [r for r in graph.of_type(INGRESS) if r.parent.endswith("consumer-databases")]
    assert len(rules) == 1
    rule = rules[0].inputs
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (5432, 5432, "tcp")
    assert "cidrIpv4" not in rule
    if not graph.preview:
        assert rule["securityGroupId"] == db_sg.id and rule["referencedSecurityGroupId"] == client.id
    # The client group is attached to the shipping consumer only.
    attached = [f.name for f in graph.of_type(FUNCTION) if "vpcConfig" in f.inputs]
    assert attached == ["shipping-consumer"]


def test_warehouse_is_redshift_serverless_private_with_configured_capacity(graph: Graph) -> None:
    (namespace,) = graph.of_type("aws:redshiftserverless/namespace:Namespace")
    assert namespace.inputs["dbName"] == "sales" and namespace.inputs["manageAdminPassword"] is True
    assert "adminUserPassword" not in namespace.inputs
    (workgroup,) = graph.of_type("aws:redshiftserverless/workgroup:Workgroup")
    w = workgroup.inputs
    assert w["publiclyAccessible"] is False and w["baseCapacity"] == 8 and w["enhancedVpcRouting"] is True
    assert len(w["subnetIds"]) == 3
    bigger = run_program({**CONFIG, "orders:warehouseBaseCapacity": "32"}, stack="test", preview=True)
    assert bigger.of_type("aws:redshiftserverless/workgroup:Workgroup")[0].inputs["baseCapacity"] == 32


def test_roles_are_least_privilege(graph: Graph) -> None:
    for consumer in ("shipping", "analytics"):
        role = graph.one("aws:iam/role:Role", f"{consumer}-consumer").inputs
        trust = json.loads(role["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
        if graph.preview:
            continue  # the policy embeds the log group's and workgroup's ARNs: known after creation
        statements = {s["Sid"]: s for s in policy_of(graph, f"{consumer}-consumer")}
        for s in statements.values():
            assert not any(a == "*" or a.endswith(":*") for a in s["Action"]), s
        assert statements["ConsumeOwnQueue"]["Resource"] == [
            f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:orders-test-{consumer}"
        ]
        assert statements["ReadInvoices"]["Resource"] == [
            f"arn:aws:s3:::orders-test-invoices-{ACCOUNT_ID}-{REGION}/invoices/*"
        ]
        assert statements["WriteOwnLogs"]["Resource"] == [
            f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/orders-test-{consumer}-consumer:*"
        ] or statements["WriteOwnLogs"]["Resource"][0].endswith(f"orders-test-{consumer}-consumer:*")
        wildcard = {sid for sid, s in statements.items() if "*" in s["Resource"]}
        if consumer == "shipping":
            assert set(statements) == {
                "ConsumeOwnQueue",
                "ReadInvoices",
                "WriteOwnLogs",
                "ReadDatabaseSecret",
                "ManageFunctionEnis",
            }
            assert statements["ReadDatabaseSecret"]["Resource"][0].startswith(f"arn:aws:secretsmanager:{REGION}:")
            assert wildcard == {"ManageFunctionEnis"}
        else:
            assert "ReadDatabaseSecret" not in statements and "ManageFunctionEnis" not in statements
            workgroup = graph.of_type("aws:redshiftserverless/workgroup:Workgroup")[0].outputs["arn"]
            assert statements["RunStatementsOnWarehouse"]["Resource"] == [workgroup]
            assert wildcard == {"FollowOwnStatements"}
            assert "redshift-data:statement-owner-iam-userid" in json.dumps(statements["FollowOwnStatements"])


def test_secrets_manager_is_reachable_from_the_private_subnets(graph: Graph) -> None:
    endpoints = [e.inputs for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")]
    services = {e["serviceName"].rsplit(".", 1)[-1] for e in endpoints if e["serviceName"].endswith("secretsmanager")}
    assert services == {"secretsmanager"}
    assert not any(e["serviceName"].endswith("ecr.dkr") for e in endpoints), "ECR endpoints only for the ECS option"


def test_alarms_for_function_errors_throttles_and_database_cpu_connections(graph: Graph) -> None:
    alarms = {a.name: a.inputs for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for consumer in ("shipping", "analytics"):
        for metric, suffix in (("Errors", "errors"), ("Throttles", "throttles")):
            alarm = alarms[f"{consumer}-consumer-{suffix}"]
            assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Lambda", metric)
            assert alarm["dimensions"] == {"FunctionName": f"orders-test-{consumer}-consumer"}
    cpu, conns = alarms["shipping-db-cpu"], alarms["shipping-db-connections"]
    assert (cpu["namespace"], cpu["metricName"], cpu["threshold"]) == ("AWS/RDS", "CPUUtilization", 80)
    assert (conns["metricName"], conns["threshold"]) == ("DatabaseConnections", 80)
    assert cpu["dimensions"] == {"DBInstanceIdentifier": "orders-test-shipping"}
    if not graph.preview:
        body = json.loads(graph.of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs["dashboardBody"])
        titles = {w["properties"]["title"] for w in body["widgets"]}
        assert {"Consumer shipping (Lambda)", "Consumer analytics (Lambda)", "Shipping database"} <= titles


def test_ecs_option_runs_the_poller_on_fargate_spot_in_private_subnets(ecs_graph: Graph) -> None:
    g = ecs_graph
    assert [f.name for f in g.of_type(FUNCTION)] == ["analytics-consumer"]
    assert [m.name for m in g.of_type(MAPPING)] == ["analytics-consumer"]
    (service,) = g.of_type("aws:ecs/service:Service")
    s = service.inputs
    assert s["capacityProviderStrategies"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert s["networkConfiguration"]["assignPublicIp"] is False
    assert len(s["networkConfiguration"]["subnets"]) == 3
    assert s["desiredCount"] == 2
    providers = g.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")[0].inputs
    assert "FARGATE_SPOT" in providers["capacityProviders"]
    task = g.one("aws:ecs/taskDefinition:TaskDefinition", "shipping-poller").inputs
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    if not g.preview:
        (container,) = json.loads(task["containerDefinitions"])
        assert container["command"] == ["python", "-m", "worker", "consume", "shipping"]
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["ORDERS_CONSUMER_QUEUE_URL"].endswith("/orders-test-shipping")
        assert container["image"] == ECS_CONFIG["orders:consumerImage"]
        trust = json.loads(g.one("aws:iam/role:Role", "shipping-consumer").inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    services = {
        e.inputs["serviceName"].rsplit(f"{REGION}.", 1)[-1] for e in g.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    assert {"ecr.api", "ecr.dkr", "secretsmanager", "sqs", "logs"} <= services


def _consumer_resources(graph: Graph) -> list[Resource]:
    parents = {
        r.urn
        for r in graph.resources
        if r.type in {"orders:consumers:FanoutConsumers", "orders:data:ConsumerDatabases"}
    }
    return [r for r in graph.resources if r.parent in parents]


def test_policy_pack_reports_no_mandatory_violation(
    graph: Graph, no_mandatory_violation: Callable[..., list[Diagnostic]]
) -> None:
    assert _consumer_resources(graph)
    diagnostics = no_mandatory_violation(graph)
    consumer_rules = {
        "lambda-sqs-batch-item-failures",
        "lambda-sqs-visibility-timeout",
        "rds-encrypted",
        "rds-not-public",
        "redshift-not-public",
    }
    assert not [d for d in diagnostics if d.policy in consumer_rules and not d.cannot_run], diagnostics
    if not graph.preview:
        assert not [d for d in diagnostics if d.policy in consumer_rules]
