"""The Spot worker fleet: the ASG runs only Spot (mandatory), and the advisory fleet hygiene rules.

`asg-spot-only` is stack level: a group that takes its purchase option from a launch template or a
launch configuration is only provable with that resource in view (found by property dependency, so it
works in preview when the template id is still unknown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .core import Res, Rule, Verdict, as_bool, as_number, find_referenced, fmt_number, get, is_unknown

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIG = "aws:ec2/launchConfiguration:LaunchConfiguration"
INSTANCE = "aws:ec2/instance:Instance"

SPOT_FIX = (
    "use a mixedInstancesPolicy with instancesDistribution {onDemandBaseCapacity: 0, "
    "onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: price-capacity-optimized}"
)


def _template_of(resources: Sequence[Res], source: Res, prop: str, spec: Any) -> Res | None:
    found = find_referenced(resources, source, prop, (LAUNCH_TEMPLATE,), None, ())
    if found is not None or not isinstance(spec, Mapping):
        return found
    for key in ("id", "launchTemplateId", "name", "launchTemplateName"):
        value = spec.get(key)
        found = find_referenced(resources, source, prop, (LAUNCH_TEMPLATE,), value, ("name", "id"))
        if found is not None:
            return found
    return None


def _check_distribution(asg: Res, verdict: Verdict) -> None:
    dist = asg.get("mixedInstancesPolicy.instancesDistribution")
    if is_unknown(dist):
        verdict.unknown(f"{asg.label}: mixedInstancesPolicy.instancesDistribution")
        return
    if dist is None:
        verdict.fail(
            f"{asg.label}: mixedInstancesPolicy has no instancesDistribution, so AWS launches 100% On-Demand; "
            "set instancesDistribution {onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0}",
            asg.urn,
        )
        return
    base = get(dist, "onDemandBaseCapacity", 0)
    pct = get(dist, "onDemandPercentageAboveBaseCapacity")
    if is_unknown(base):
        verdict.unknown(f"{asg.label}: onDemandBaseCapacity")
    elif as_number(base) != 0:
        verdict.fail(f"{asg.label}: onDemandBaseCapacity is {base!r}; set it to 0 (Spot only)", asg.urn)
    if is_unknown(pct):
        verdict.unknown(f"{asg.label}: onDemandPercentageAboveBaseCapacity")
    elif pct is None:
        verdict.fail(
            f"{asg.label}: onDemandPercentageAboveBaseCapacity is not set and AWS defaults it to 100 (all On-Demand); "
            "set it to 0",
            asg.urn,
        )
    elif as_number(pct) != 0:
        verdict.fail(
            f"{asg.label}: onDemandPercentageAboveBaseCapacity is {fmt_number(as_number(pct) or 0)}; set it to 0 "
            "so every instance above the base is Spot",
            asg.urn,
        )


def check_spot_only(resources: Sequence[Res], cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    for asg in (r for r in resources if r.type == ASG):
        mixed, template, config = (
            asg.get("mixedInstancesPolicy"),
            asg.get("launchTemplate"),
            asg.get("launchConfiguration"),
        )
        if is_unknown(mixed):
            verdict.unknown(f"{asg.label}: mixedInstancesPolicy")
        elif mixed is not None:
            _check_distribution(asg, verdict)
        elif template is not None:
            lt = _template_of(resources, asg, "launchTemplate", template)
            if lt is None:
                if is_unknown(template):
                    verdict.unknown(f"{asg.label}: launchTemplate")
                else:
                    verdict.fail(
                        f"{asg.label} uses a launch template that is not defined in this stack, so Spot cannot be "
                        f"proven; define the template here with instanceMarketOptions.marketType spot, or {SPOT_FIX}",
                        asg.urn,
                    )
                continue
            market = lt.get("instanceMarketOptions.marketType")
            if is_unknown(market):
                verdict.unknown(f"{lt.label}: instanceMarketOptions.marketType")
            elif market != "spot":
                verdict.fail(
                    f"{asg.label} launches On-Demand instances from {lt.label} (no instanceMarketOptions.marketType "
                    f"spot); set marketType spot on the template, or {SPOT_FIX}",
                    asg.urn,
                )
        elif config is not None:
            lc = find_referenced(resources, asg, "launchConfiguration", (LAUNCH_CONFIG,), config, ("name", "id"))
            price = lc.get("spotPrice") if lc is not None else None
            if lc is not None and is_unknown(price):
                verdict.unknown(f"{lc.label}: spotPrice")
            elif lc is None and is_unknown(config):
                verdict.unknown(f"{asg.label}: launchConfiguration")
            elif lc is None or not price:
                which = f"launch configuration '{lc.name}'" if lc is not None else f"launch configuration {config!r}"
                verdict.fail(
                    f"{asg.label} launches On-Demand instances: its {which} sets no spotPrice. Launch "
                    f"configurations are deprecated; switch to a launch template and {SPOT_FIX}",
                    asg.urn,
                )
        else:
            verdict.fail(f"{asg.label} has no launch template, launch configuration or mixed instances policy", asg.urn)
    return verdict


def check_uses_launch_template(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    config = res.get("launchConfiguration")
    if is_unknown(config):
        verdict.unknown(f"{res.label}: launchConfiguration")
    elif config:
        verdict.fail(f"{res.label} uses a launch configuration (deprecated, no IMDSv2 defaults); use a launch template")
    return verdict


def check_multi_az(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    wanted = int(cfg["minSubnets"])
    subnets, zones = res.get("vpcZoneIdentifiers"), res.get("availabilityZones")
    if is_unknown(subnets) or (subnets is None and is_unknown(zones)):
        verdict.unknown(f"{res.label}: vpcZoneIdentifiers (the subnet list itself, not just its ids)")
        return verdict
    count = len(subnets) if isinstance(subnets, list) else len(zones) if isinstance(zones, list) else 0
    if count < wanted:
        verdict.fail(
            f"{res.label} spans {count} subnet(s); give vpcZoneIdentifiers at least {wanted} private subnets in "
            "different availability zones (more Spot pools, survives an AZ outage)"
        )
    return verdict


def check_capacity_rebalance(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    value = res.get("capacityRebalance")
    if is_unknown(value):
        verdict.unknown(f"{res.label}: capacityRebalance")
    elif as_bool(value) is not True:
        verdict.fail(
            f"{res.label}: capacityRebalance is off; set it true so the group replaces Spot instances at elevated "
            "interruption risk before they are reclaimed"
        )
    return verdict


def check_allocation_strategy(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    allowed = list(cfg["allowedStrategies"])
    mixed = res.get("mixedInstancesPolicy")
    if is_unknown(mixed):
        verdict.unknown(f"{res.label}: mixedInstancesPolicy")
        return verdict
    if mixed is None:
        verdict.fail(
            f"{res.label} has no mixedInstancesPolicy, so it cannot choose a Spot allocation strategy; use one"
        )
        return verdict
    strategy = get(mixed, "instancesDistribution.spotAllocationStrategy", "lowest-price")
    if is_unknown(strategy):
        verdict.unknown(f"{res.label}: spotAllocationStrategy")
    elif strategy not in allowed:
        verdict.fail(
            f"{res.label}: spotAllocationStrategy is {strategy!r}"
            + (" (the AWS default)" if strategy == "lowest-price" else "")
            + f"; use one of {allowed} so Spot capacity comes from the pools least likely to be interrupted"
        )
    return verdict


def check_instance_types(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    wanted = int(cfg["minInstanceTypes"])
    overrides = res.get("mixedInstancesPolicy.launchTemplate.overrides")
    if is_unknown(overrides):
        verdict.unknown(f"{res.label}: mixedInstancesPolicy.launchTemplate.overrides")
        return verdict
    overrides = overrides if isinstance(overrides, list) else []
    if any(get(o, "instanceRequirements") is not None for o in overrides):
        return verdict  # attribute-based selection: AWS picks from every matching type
    types = {get(o, "instanceType") for o in overrides} - {None}
    if any(is_unknown(t) for t in types):
        verdict.unknown(f"{res.label}: instance types")
    elif len(types) < wanted:
        verdict.fail(
            f"{res.label} allows {len(types)} instance type(s); list at least {wanted} in "
            "mixedInstancesPolicy.launchTemplate.overrides (or use instanceRequirements) so Spot has many pools"
        )
    return verdict


def check_imdsv2(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    tokens, endpoint = res.get("metadataOptions.httpTokens"), res.get("metadataOptions.httpEndpoint")
    if is_unknown(tokens) or is_unknown(endpoint):
        verdict.unknown(f"{res.label}: metadataOptions")
        return verdict
    if tokens != "required":
        verdict.fail(
            f"{res.label}: metadataOptions.httpTokens is {tokens or 'unset (optional)'!s}; set it to required (IMDSv2)"
        )
    if endpoint == "disabled":
        verdict.fail(
            f"{res.label}: metadataOptions.httpEndpoint is disabled; enable it - the worker reads Spot interruption "
            "notices and lifecycle state from the instance metadata service"
        )
    return verdict


def check_no_public_ip(res: Res, cfg: Mapping[str, Any]) -> Verdict:
    verdict = Verdict()
    if res.type == LAUNCH_TEMPLATE:
        interfaces = res.get("networkInterfaces")
        if is_unknown(interfaces):
            verdict.unknown(f"{res.label}: networkInterfaces")
            return verdict
        for index, nic in enumerate(interfaces or []):
            value = get(nic, "associatePublicIpAddress")
            if is_unknown(value):
                verdict.unknown(f"{res.label}: networkInterfaces[{index}].associatePublicIpAddress")
            elif as_bool(value) is True:
                verdict.fail(f"{res.label}: networkInterfaces[{index}] associates a public IP; set it false")
    else:
        value = res.get("associatePublicIpAddress")
        if is_unknown(value):
            verdict.unknown(f"{res.label}: associatePublicIpAddress")
        elif as_bool(value) is True:
            verdict.fail(f"{res.label} gets a public IP; set associatePublicIpAddress false and use private subnets")
    return verdict


RULES = [
    Rule(
        id="asg-spot-only",
        description="Auto Scaling groups launch only Spot instances (0 On-Demand base, 0% On-Demand above base).",
        level="mandatory",
        control="Org rule (cost); AWS EC2 Spot best practices",
        scope="stack",
        check=check_spot_only,
        remediation=SPOT_FIX[0].upper() + SPOT_FIX[1:] + ".",
    ),
    Rule(
        id="asg-uses-launch-template",
        description="Auto Scaling groups use launch templates, not launch configurations.",
        level="advisory",
        control="Security Hub FSBP AutoScaling.9",
        scope="resource",
        check=check_uses_launch_template,
        types=(ASG,),
    ),
    Rule(
        id="asg-multi-az",
        description="Auto Scaling groups span at least the configured number of subnets (availability zones).",
        level="advisory",
        control="Security Hub FSBP AutoScaling.2",
        scope="resource",
        check=check_multi_az,
        types=(ASG,),
        config={
            "minSubnets": {"type": "integer", "minimum": 1, "default": 2, "description": "Fewest subnets per group."}
        },
    ),
    Rule(
        id="asg-capacity-rebalance",
        description="Spot Auto Scaling groups have capacity rebalance on.",
        level="advisory",
        control="AWS EC2 Spot best practices (Capacity Rebalancing); no FSBP control",
        scope="resource",
        check=check_capacity_rebalance,
        types=(ASG,),
    ),
    Rule(
        id="asg-spot-allocation-strategy",
        description="Spot Auto Scaling groups use price-capacity-optimized (or capacity-optimized) allocation.",
        level="advisory",
        control="AWS EC2 Spot best practices (allocation strategies); no FSBP control",
        scope="resource",
        check=check_allocation_strategy,
        types=(ASG,),
        config={
            "allowedStrategies": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["price-capacity-optimized", "capacity-optimized"],
                "description": "Accepted spotAllocationStrategy values.",
            }
        },
    ),
    Rule(
        id="asg-instance-type-diversity",
        description="Spot Auto Scaling groups allow at least the configured number of instance types.",
        level="advisory",
        control="Security Hub FSBP AutoScaling.6",
        scope="resource",
        check=check_instance_types,
        types=(ASG,),
        config={
            "minInstanceTypes": {
                "type": "integer",
                "minimum": 1,
                "default": 3,
                "description": "Fewest instance types in the mixed instances policy overrides.",
            }
        },
    ),
    Rule(
        id="ec2-imdsv2",
        description="Launch templates and configurations require IMDSv2 tokens and keep the metadata endpoint on.",
        level="advisory",
        control="Security Hub FSBP EC2.170 and AutoScaling.3; Checkov CKV_AWS_79",
        scope="resource",
        check=check_imdsv2,
        types=(LAUNCH_TEMPLATE, LAUNCH_CONFIG),
    ),
    Rule(
        id="ec2-no-public-ip",
        description="Worker instances get no public IP address (launch templates, launch configurations, instances).",
        level="advisory",
        control="Security Hub FSBP EC2.9 and AutoScaling.5; Checkov CKV_AWS_88",
        scope="resource",
        check=check_no_public_ip,
        types=(LAUNCH_TEMPLATE, LAUNCH_CONFIG, INSTANCE),
    ),
]
