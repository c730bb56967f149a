"""The policy pack over its real gRPC protocol, fed every resource the real program registers.

The pack runs as the CLI runs it (`python -u -m pulumi.policy <engine> .` in policy/, port on stdout) and
is driven through Handshake, ConfigureStack, GetAnalyzerInfo, Configure (CLI-style: every policy with its
level and schema defaults), Analyze per resource and AnalyzeStack, with the `wire` inputs the offline
harness captured (exactly the engine's serialization, unknowns included). Every test runs for `up` and
for `preview` (a fresh stack: every AWS-computed output unknown).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from offline.graph import UNKNOWN, Graph, Resource, run_program, stack_config
from offline.policy_client import Diagnostic, PolicyPackError, PolicyPackProcess, mandatory
from policy.guardrails import RULES

QUEUE = "aws:sqs/queue:Queue"
ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
MANDATORY_RULES = {r.id for r in RULES if r.level == "mandatory"}


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(scope="module")
def pack(preview: bool) -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(stack="dev", preview=preview, config=stack_config("dev")) as running:
        assert running.handshake() is False  # the Python SDK does not implement Handshake; the CLI carries on
        running.configure_stack()
        running.configure()
        yield running


@pytest.fixture(scope="module")
def graph(preview: bool) -> Graph:
    captured = run_program(stack_config("dev"), preview=preview)
    assert len(captured.of_type(ASG)) == 1 and len(captured.of_type(LT)) == 1, "the Spot fleet is part of the program"
    return captured


def find(graph: Graph, type_: str, name: str) -> Resource:
    return graph.one(type_, name)


def set_input(resource: Resource, key: str, value: Any) -> None:
    """Change one input in both views (wire is what the pack is sent)."""
    for view in (resource.wire, resource.inputs):
        if value is None:
            view.pop(key, None)
        else:
            view[key] = copy.deepcopy(value)


def mandatory_findings(diagnostics: list[Diagnostic]) -> set[tuple[str, str]]:
    return {(d.policy, d.urn) for d in mandatory(diagnostics)}


def test_the_pack_describes_every_rule_with_its_level_and_config_schema(pack: PolicyPackProcess) -> None:
    info = pack.info()
    assert info.name == "orders-guardrails" and info.supportsConfig
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert set(levels) == {r.id for r in RULES}
    assert {name for name, level in levels.items() if level == 1} == MANDATORY_RULES  # 1 = MANDATORY
    for policy in info.policies:
        assert "exemptResources" in policy.configSchema.properties, policy.name
    config = pack.cli_config()
    assert config["sqs-redrive-max-receive-count"]["maxReceiveCount"] == 3
    assert config["s3-public-access-block"]["exemptResources"] == ["error-page"]


def test_the_dev_stack_has_zero_mandatory_violations_and_real_verdicts(
    pack: PolicyPackProcess, graph: Graph, no_mandatory_violation: Callable[..., list[Diagnostic]]
) -> None:
    diagnostics = no_mandatory_violation(graph, pack)
    cannot_run = [d for d in diagnostics if d.cannot_run and d.policy in MANDATORY_RULES]
    assert cannot_run == [], "a mandatory rule skipped part of the dev stack as unknown"
    assert graph.of_type(QUEUE) and graph.of_type(ASG)


def dlq_arn_of(graph: Graph, name: str) -> str:
    return str(json.loads(find(graph, QUEUE, name).inputs["redrivePolicy"])["deadLetterTargetArn"])


def drop_dlq(graph: Graph) -> str:
    dlq = find(graph, QUEUE, "shipping-dlq")
    graph.resources.remove(dlq)
    return find(graph, QUEUE, "shipping").urn


def no_redrive(graph: Graph) -> str:
    queue = find(graph, QUEUE, "analytics")
    set_input(queue, "redrivePolicy", None)
    return queue.urn


def max_receive_5(graph: Graph) -> str:
    queue = find(graph, QUEUE, "orders")
    set_input(
        queue, "redrivePolicy", json.dumps({"deadLetterTargetArn": dlq_arn_of(graph, "orders"), "maxReceiveCount": 5})
    )
    return queue.urn


def fifo_with_standard_dlq(graph: Graph) -> str:
    queue = find(graph, QUEUE, "orders")
    standard = dlq_arn_of(graph, "shipping")
    set_input(queue, "redrivePolicy", json.dumps({"deadLetterTargetArn": standard, "maxReceiveCount": 3}))
    return queue.urn


def on_demand_20(graph: Graph) -> str:
    asg = graph.of_type(ASG)[0]
    for view in (asg.wire, asg.inputs):
        view["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] = 20.0
    return asg.urn


def launch_configuration(graph: Graph) -> str:
    asg = graph.of_type(ASG)[0]
    lc_name = f"{asg.inputs['name']}-lc"
    lc_wire = {"name": lc_name, "imageId": "ami-0123456789abcdef0", "instanceType": "m5.large"}
    lc_urn = asg.urn.replace(ASG, "aws:ec2/launchConfiguration:LaunchConfiguration")
    graph.resources.append(
        Resource(
            lc_urn,
            "aws:ec2/launchConfiguration:LaunchConfiguration",
            asg.name,
            True,
            asg.parent,
            asg.provider,
            dict(lc_wire),
            lc_wire,
            [],
            {},
        )
    )
    set_input(asg, "mixedInstancesPolicy", None)
    set_input(asg, "launchConfiguration", lc_name)
    asg.property_dependencies.pop("mixedInstancesPolicy", None)
    return asg.urn


def on_demand_launch_template(graph: Graph) -> str:
    """The group launches straight from the fleet's template (no mixed policy), which sets no Spot market."""
    asg, lt = graph.of_type(ASG)[0], graph.of_type(LT)[0]
    spec = asg.inputs["mixedInstancesPolicy"]["launchTemplate"]["launchTemplateSpecification"]
    set_input(asg, "launchTemplate", {"id": spec["launchTemplateId"], "version": "$Latest"})
    set_input(asg, "mixedInstancesPolicy", None)
    asg.property_dependencies["launchTemplate"] = [lt.urn]
    asg.property_dependencies.pop("mixedInstancesPolicy", None)
    return asg.urn


MUTATIONS = {
    "drop a DLQ": (drop_dlq, "sqs-queue-has-dlq", "is not a queue in this stack"),
    "no redrive policy": (no_redrive, "sqs-queue-has-dlq", '"maxReceiveCount": 3}'),
    "maxReceiveCount 5": (max_receive_5, "sqs-redrive-max-receive-count", "maxReceiveCount is 5; set it to 3"),
    "FIFO queue, standard DLQ": (fifo_with_standard_dlq, "sqs-dlq-same-kind", "a FIFO queue's DLQ must be FIFO"),
    "on-demand 20%": (on_demand_20, "asg-spot-only", "onDemandPercentageAboveBaseCapacity is 20; set it to 0"),
    "launch configuration": (launch_configuration, "asg-spot-only", "sets no spotPrice"),
    "on-demand launch template": (on_demand_launch_template, "asg-spot-only", "set marketType spot on the template"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_each_mutation_gives_exactly_its_mandatory_violation_on_the_right_urn(
    pack: PolicyPackProcess, graph: Graph, mutation: str
) -> None:
    mutate, policy, fix = MUTATIONS[mutation]
    mutated = copy.deepcopy(graph)
    urn = mutate(mutated)
    diagnostics = pack.analyze_graph(mutated)
    assert mandatory_findings(diagnostics) == {(policy, urn)}
    [finding] = [d for d in mandatory(diagnostics)]
    assert fix in finding.message
    assert not any(d.cannot_run for d in diagnostics if d.policy == policy)


def test_a_launch_template_with_spot_market_type_passes_through_the_stack_view(
    pack: PolicyPackProcess, graph: Graph
) -> None:
    mutated = copy.deepcopy(graph)
    on_demand_launch_template(mutated)
    lt = mutated.of_type(LT)[0]
    set_input(lt, "instanceMarketOptions", {"marketType": "spot"})
    assert [d for d in pack.analyze_graph(mutated) if d.policy == "asg-spot-only"] == []


def test_a_launch_configuration_is_also_flagged_by_the_advisory_template_rule(
    pack: PolicyPackProcess, graph: Graph
) -> None:
    mutated = copy.deepcopy(graph)
    urn = launch_configuration(mutated)
    advisory = {(d.policy, d.urn) for d in pack.analyze_graph(mutated) if d.level == "advisory"}
    assert ("asg-uses-launch-template", urn) in advisory


def test_an_unknown_redrive_policy_is_reported_as_not_checked_never_passed_silently(
    pack: PolicyPackProcess, graph: Graph
) -> None:
    mutated = copy.deepcopy(graph)
    queue = find(mutated, QUEUE, "orders")
    set_input(queue, "redrivePolicy", UNKNOWN)  # as if built from the DLQ's `arn` output in a fresh preview
    diagnostics = pack.analyze_graph(mutated)
    assert mandatory(diagnostics) == []
    notes = {d.policy: d.message for d in diagnostics if d.cannot_run}
    assert "Queue 'orders': redrivePolicy" in notes["sqs-redrive-max-receive-count"]
    assert "Queue 'orders': redrive target (unknown until apply)" in notes["sqs-queue-has-dlq"]
    # With the dependency the engine records when the policy is built from the DLQ resource, the
    # stack rule still decides that the target exists; only the count stays unchecked.
    queue.property_dependencies["redrivePolicy"] = [find(mutated, QUEUE, "orders-dlq").urn]
    linked = pack.analyze_graph(mutated)
    assert {d.policy for d in linked if d.cannot_run and d.policy.startswith("sqs-")} == {
        "sqs-redrive-max-receive-count"
    }


def test_cli_style_config_changes_levels_and_parameters(pack: PolicyPackProcess, graph: Graph) -> None:
    try:
        pack.configure({"sqs-redrive-max-receive-count": {"maxReceiveCount": 5}, "asg-spot-only": "disabled"})
        mutated = copy.deepcopy(graph)
        changed = max_receive_5(mutated)
        on_demand_20(mutated)
        findings = mandatory_findings(pack.analyze_graph(mutated))
        work_queues = {q.urn for q in mutated.of_type(QUEUE) if "redrivePolicy" in q.inputs} - {changed}
        assert findings == {("sqs-redrive-max-receive-count", urn) for urn in work_queues}

        pack.configure({"dynamodb-pitr": "mandatory", "s3-tls-only": {"exemptResources": ["invoices"]}})
        table = graph.one("aws:dynamodb/table:Table", "orders")
        mutated = copy.deepcopy(graph)
        set_input(find(mutated, "aws:dynamodb/table:Table", "orders"), "pointInTimeRecovery", {"enabled": False})
        invoices = find(mutated, "aws:s3/bucketPolicy:BucketPolicy", "invoices")
        set_input(invoices, "policy", json.dumps({"Statement": []}))
        diagnostics = pack.analyze_graph(mutated)
        assert mandatory_findings(diagnostics) == {("dynamodb-pitr", table.urn)}
        assert not [d for d in diagnostics if d.policy == "s3-tls-only" and "'invoices'" in d.message]
    finally:
        pack.configure()


def test_config_the_schema_rejects_is_refused_before_it_reaches_the_pack(pack: PolicyPackProcess) -> None:
    with pytest.raises(PolicyPackError, match="maxReceiveCount"):
        pack.cli_config({"sqs-redrive-max-receive-count": {"maxReceiveCount": "three"}})
    with pytest.raises(PolicyPackError, match="unknown policy 'no-such-rule'"):
        pack.cli_config({"no-such-rule": "mandatory"})


def test_the_pack_process_is_stopped_even_when_the_test_body_fails() -> None:
    client = PolicyPackProcess()
    with pytest.raises(RuntimeError, match="boom"), client:
        assert client.process is not None and client.process.poll() is None
        raise RuntimeError("boom")
    assert client.process is not None and client.process.poll() is not None


def test_the_public_error_page_is_allowed_only_by_the_configurable_exemption(
    pack: PolicyPackProcess, preview: bool
) -> None:
    """With a domain, the program adds the failover error page: a public, HTTP-only S3 website bucket.
    The default pack config exempts it by logical name; an empty exemption list brings both S3 rules back."""
    config = {**stack_config("dev"), "orders:domainName": "orders.example.com", "orders:hostedZoneId": "Z0EXAMPLE12345"}
    with_domain = run_program(config, preview=preview)
    bucket = with_domain.one("aws:s3/bucket:Bucket", "error-page")
    assert with_domain.region_of(bucket) != with_domain.region_of(with_domain.one(QUEUE, "orders"))
    s3_rules = {"s3-public-access-block", "s3-tls-only"}

    diagnostics = pack.analyze_graph(with_domain)
    assert mandatory(diagnostics) == []
    assert [d for d in diagnostics if d.policy in s3_rules] == []
    try:
        pack.configure({rule: {"exemptResources": []} for rule in s3_rules})
        flagged = {(d.policy, d.urn, d.level) for d in pack.analyze_graph(with_domain) if d.policy in s3_rules}
        assert flagged == {(rule, bucket.urn, "advisory") for rule in s3_rules}
    finally:
        pack.configure()


def test_a_pack_that_fails_to_start_is_reported_with_its_stderr_and_left_stopped(tmp_path: Any) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("name: broken\nruntime:\n  name: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('policy config missing: nothing to serve')\n")
    client = PolicyPackProcess(tmp_path)
    with pytest.raises(PolicyPackError, match="policy config missing: nothing to serve"):
        client.start()
    assert client.process is not None and client.process.poll() is not None
