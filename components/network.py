"""The primary region's network: private subnets only, AWS services through VPC endpoints.

Workers get no public IP and accept nothing inbound. They reach S3 and DynamoDB through gateway
endpoints (free, no per-GB charge) and SQS, CloudWatch, SSM and Auto Scaling through interface
endpoints with private DNS, so the SDK's default endpoints resolve to private addresses and the
default stack needs no NAT gateway. `enableNat` adds one public subnet, an internet gateway and one
NAT gateway for users whose workers need the internet (one NAT, not one per AZ: it is an opt-in
convenience, not the data path).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.aws_context import AwsContext
from components.iam import policy_document, role_with_policy, statement

GATEWAY_SERVICES: tuple[str, ...] = ("s3", "dynamodb")
INTERFACE_SERVICES: tuple[str, ...] = (
    "sqs",  # the FIFO queue
    "logs",  # the worker's journal shipped to CloudWatch Logs
    "monitoring",  # cloudwatch:PutMetricData
    "autoscaling",  # CompleteLifecycleAction when a Spot instance drains
    "ssm",  # Session Manager: the only way in, since nothing is admitted inbound
    "ssmmessages",
    "ec2messages",
)
"""Interface endpoints the worker fleet needs; each costs an ENI per AZ, so the list is kept to what is used."""

HTTPS = 443


def subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """`count` equal subnets carved from the VPC range, 16 per VPC (a /16 gives /20s of 4,091 addresses).

    The last block is reserved for the optional public subnet, so private ranges never move when NAT
    is toggled.
    """
    network = ipaddress.ip_network(vpc_cidr)
    blocks = list(network.subnets(prefixlen_diff=4))
    if count > len(blocks) - 1:
        raise ValueError(f"{vpc_cidr} holds at most {len(blocks) - 1} private subnets, asked for {count}")
    return [str(b) for b in blocks[:count]]


def availability_zones(ctx: AwsContext, count: int) -> list[str]:
    """The first `count` zones of the region, by name.

    A plain invoke (not *_output): the names decide how many subnets to create, and the CLI answers it
    during preview too. Local and Wavelength zones are opt-in: excluded.
    """
    zones = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=pulumi.InvokeOptions(provider=ctx.provider),
    ).names
    if len(zones) < count:
        raise ValueError(f"orders:azCount = {count} but {ctx.region} offers only {len(zones)} zones")
    return sorted(zones)[:count]


def public_subnet_cidr(vpc_cidr: str) -> str:
    return str(list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4))[-1])


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    ctx: AwsContext
    vpc_cidr: str
    az_count: int
    enable_nat: bool
    flow_log_retention_days: int = 30


@dataclass(frozen=True, kw_only=True)
class NetworkRefs:
    """What a tier placed in the network needs from it: ids and ranges, not the component."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    endpoint_security_group_id: pulumi.Input[str]
    s3_prefix_list_id: pulumi.Input[str]
    dynamodb_prefix_list_id: pulumi.Input[str]
    nat_enabled: bool


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    availability_zones: list[str]
    private_route_table: aws.ec2.RouteTable
    private_subnets: list[aws.ec2.Subnet]
    private_subnet_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str]
    s3_prefix_list_id: pulumi.Output[str]
    dynamodb_prefix_list_id: pulumi.Output[str]
    nat_enabled: bool
    flow_log: aws.ec2.FlowLog
    refs: NetworkRefs

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:network:Network", name, None, opts)
        ctx = args.ctx
        self.vpc_cidr = args.vpc_cidr
        self.nat_enabled = args.enable_nat
        self.availability_zones = availability_zones(ctx, args.az_count)
        self.vpc = aws.ec2.Vpc(
            name,
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # required for interface endpoints' private DNS
            tags={"Name": ctx.name(name, kind="tag")},
            opts=ctx.opts(self),
        )
        self.vpc_id = self.vpc.id
        # The default security group allows all traffic between its members; strip its rules so
        # nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, opts=ctx.opts(self))
        self.flow_log = flow_logs(self, name, ctx, self.vpc, args.flow_log_retention_days)
        self._private_subnets(name, args)
        self._endpoints(name, args)
        if args.enable_nat:
            self._nat(name, args, ctx)
        self.refs = NetworkRefs(
            vpc_id=self.vpc_id,
            vpc_cidr=self.vpc_cidr,
            private_subnet_ids=self.private_subnet_ids,
            endpoint_security_group_id=self.endpoint_security_group_id,
            s3_prefix_list_id=self.s3_prefix_list_id,
            dynamodb_prefix_list_id=self.dynamodb_prefix_list_id,
            nat_enabled=self.nat_enabled,
        )
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vpcCidr": self.vpc_cidr,
                "privateSubnetIds": self.private_subnet_ids,
                "endpointSecurityGroupId": self.endpoint_security_group_id,
            }
        )

    def _private_subnets(self, name: str, args: NetworkArgs) -> None:
        """One private subnet per zone, all on one route table (the gateway endpoints' routes land there)."""
        ctx = args.ctx
        self.private_route_table = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=self.vpc.id,
            tags={"Name": ctx.name(f"{name}-private", kind="tag")},
            opts=ctx.opts(self),
        )
        self.private_subnets = []
        for zone, cidr in zip(self.availability_zones, subnet_cidrs(args.vpc_cidr, args.az_count), strict=True):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": ctx.name(f"private-{zone}", kind="tag"), "tier": "private"},
                opts=ctx.opts(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                subnet_id=subnet.id,
                route_table_id=self.private_route_table.id,
                opts=ctx.opts(self),
            )
            self.private_subnets.append(subnet)
        self.private_subnet_ids = [s.id for s in self.private_subnets]

    def _endpoints(self, name: str, args: NetworkArgs) -> None:
        """Gateway endpoints (S3, DynamoDB) on the private route table; interface endpoints behind one group."""
        ctx = args.ctx
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            name=ctx.name(f"{name}-endpoints", kind="security-group"),
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            vpc_id=self.vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    cidr_blocks=[args.vpc_cidr],
                )
            ],
            egress=[],  # endpoints answer; they never open connections
            opts=ctx.opts(self),
        )
        self.endpoint_security_group_id = endpoint_sg.id
        prefix_lists: dict[str, pulumi.Output[str]] = {}
        for service in GATEWAY_SERVICES:
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{ctx.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[self.private_route_table.id],
                tags={"Name": ctx.name(f"{name}-{service}", kind="tag")},
                opts=ctx.opts(self),
            )
            prefix_lists[service] = endpoint.prefix_list_id
        self.s3_prefix_list_id = prefix_lists["s3"]
        self.dynamodb_prefix_list_id = prefix_lists["dynamodb"]
        for service in INTERFACE_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{ctx.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[endpoint_sg.id],
                tags={"Name": ctx.name(f"{name}-{service}", kind="tag")},
                opts=ctx.opts(self),
            )

    def _nat(self, name: str, args: NetworkArgs, ctx: AwsContext) -> None:
        """One public subnet (still no auto-assigned public IPs), an internet gateway and a NAT gateway."""
        zone = self.availability_zones[0]
        igw = aws.ec2.InternetGateway(
            name, vpc_id=self.vpc.id, tags={"Name": ctx.name(name, kind="tag")}, opts=ctx.opts(self)
        )
        public = aws.ec2.Subnet(
            f"{name}-public-{zone}",
            vpc_id=self.vpc.id,
            cidr_block=public_subnet_cidr(args.vpc_cidr),
            availability_zone=zone,
            map_public_ip_on_launch=False,  # only the NAT gateway's Elastic IP is public
            tags={"Name": ctx.name(f"public-{zone}", kind="tag"), "tier": "public"},
            opts=ctx.opts(self),
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": ctx.name(f"{name}-public", kind="tag")},
            opts=ctx.opts(self),
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-public-{zone}", subnet_id=public.id, route_table_id=public_rt.id, opts=ctx.opts(self)
        )
        eip = aws.ec2.Eip(
            f"{name}-nat", domain="vpc", tags={"Name": ctx.name(f"{name}-nat", kind="tag")}, opts=ctx.opts(self)
        )
        nat = aws.ec2.NatGateway(
            name,
            allocation_id=eip.id,
            subnet_id=public.id,
            connectivity_type="public",
            tags={"Name": ctx.name(name, kind="tag")},
            opts=ctx.opts(self, depends_on=[igw]),
        )
        aws.ec2.Route(
            f"{name}-private-default",
            route_table_id=self.private_route_table.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
            opts=ctx.opts(self),
        )


VPC_FLOW_LOGS = "vpc-flow-logs.amazonaws.com"
FLOW_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def flow_log_trust_policy(account_id: str) -> str:
    """Only the flow-logs service, and only on behalf of this account (confused-deputy guard)."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": VPC_FLOW_LOGS},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ]
    )


def flow_log_delivery_policy(log_group_arn: str) -> str:
    return policy_document([statement("DeliverFlowLogs", FLOW_LOG_ACTIONS, [log_group_arn, f"{log_group_arn}:*"])])


def flow_logs(
    parent: pulumi.Resource, name: str, ctx: AwsContext, vpc: aws.ec2.Vpc, retention_days: int
) -> aws.ec2.FlowLog:
    """Every accepted and rejected flow of the VPC into a retention-bounded CloudWatch log group.

    The log group keeps CloudWatch Logs' default encryption at rest (service-managed keys): the stack's
    only customer key (components/messaging_key.py) grants S3 and CloudWatch alarms, not
    `logs.<region>.amazonaws.com`, and widening it for logs is a separate decision.
    """
    group_name = naming.fit("log-group", f"/aws/vpc/{ctx.project}-{ctx.stack}-{name}/flow-logs")
    group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs", name=group_name, retention_in_days=retention_days, opts=ctx.opts(parent)
    )
    group_arn = ctx.arn("logs", f"log-group:{group_name}")  # derived: known at preview
    role_name = ctx.name(f"{name}-flow-logs", ctx.region, kind="iam-role")  # IAM is global
    delivery = role_with_policy(
        f"{name}-flow-logs",
        ctx,
        parent,
        role_name=role_name,
        trust=ctx.account_id.apply(flow_log_trust_policy),
        policy=group_arn.apply(flow_log_delivery_policy),
    )
    return aws.ec2.FlowLog(
        f"{name}-flow-logs",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=group_arn,
        iam_role_arn=ctx.arn("iam", f"role/{role_name}", regional=False),
        max_aggregation_interval=600,
        tags={"Name": ctx.name(f"{name}-flow-logs", kind="tag")},
        opts=ctx.opts(parent, depends_on=[group, *delivery.grants]),
    )
