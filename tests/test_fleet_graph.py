"""The network and Spot worker fleet, proven on the resource graph the real program registers under mocks."""

from __future__ import annotations

import ipaddress

import pytest

from components.config import ConfigError
from offline.graph import Graph, run_program

SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
CONFIG = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return run_program(CONFIG, stack="test", preview=request.param)


@pytest.fixture(scope="module", params=[False, True], ids=["up", "preview"])
def nat_graph(request: pytest.FixtureRequest) -> Graph:
    return run_program({**CONFIG, "orders:enableNat": "true"}, stack="test", preview=request.param)


def test_private_subnets_in_distinct_zones_of_the_primary_region(graph: Graph) -> None:
    subnets = graph.of_type(SUBNET)
    assert len(subnets) == 3
    assert {graph.region_of(s) for s in subnets} == {"eu-west-1"}
    zones = [s.inputs["availabilityZone"] for s in subnets]
    assert len(set(zones)) == 3 and all(z.startswith("eu-west-1") for z in zones)
    vpc = ipaddress.IPv4Network(graph.one("aws:ec2/vpc:Vpc", "network").inputs["cidrBlock"])
    nets = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def assert_no_public_ips(graph: Graph) -> None:
    subnets = graph.of_type(SUBNET)
    assert subnets
    for subnet in subnets:
        assert subnet.inputs.get("mapPublicIpOnLaunch") is False, subnet.name


def test_no_subnet_maps_public_ips(graph: Graph) -> None:
    assert_no_public_ips(graph)


def test_no_subnet_maps_public_ips_with_nat(nat_graph: Graph) -> None:
    assert_no_public_ips(nat_graph)


def test_endpoints_reach_aws_services_without_nat(graph: Graph) -> None:
    counts = graph.counts()
    for t in ("aws:ec2/natGateway:NatGateway", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/eip:Eip"):
        assert counts[t] == 0, t
    endpoints = {e.inputs["serviceName"].rsplit(".", 1)[-1]: e.inputs for e in graph.of_type(ENDPOINT)}
    assert {k for k, v in endpoints.items() if v["vpcEndpointType"] == "Gateway"} == {"s3", "dynamodb"}
    interface = {k for k, v in endpoints.items() if v["vpcEndpointType"] == "Interface"}
    assert {"sqs", "logs", "monitoring", "autoscaling", "ssm", "ssmmessages", "ec2messages"} <= interface
    for name in interface:
        assert endpoints[name]["privateDnsEnabled"] is True
        assert endpoints[name]["serviceName"] == f"com.amazonaws.eu-west-1.{name}"
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "network-endpoints").inputs
    [rule] = sg["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["cidrBlocks"]) == (443, 443, ["10.20.0.0/16"])


def test_nat_flag_adds_one_public_subnet_and_a_nat_route(nat_graph: Graph) -> None:
    counts = nat_graph.counts()
    assert counts["aws:ec2/natGateway:NatGateway"] == 1
    assert counts["aws:ec2/internetGateway:InternetGateway"] == 1
    public = [s for s in nat_graph.of_type(SUBNET) if s.inputs["tags"]["tier"] == "public"]
    assert len(public) == 1 and counts[SUBNET] == 4
    [route] = nat_graph.of_type("aws:ec2/route:Route")
    assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
    assert "natGatewayId" in route.inputs


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [("azCount", "1", "orders:azCount"), ("vpcCidr", "10.0.0.0/8", "orders:vpcCidr"), ("vpcCidr", "nope", "vpcCidr")],
)
def test_bad_network_config_is_refused_with_the_key_name(key: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        run_program({**CONFIG, f"orders:{key}": value}, stack="test", preview=True)
