"""Network: VPC, subnets, routes, gateways, addresses, security groups, flow logs."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from conformance.inventory.base import Section, attempt, nothing, paginate, reads
from conformance.inventory.shapes import (
    Address,
    FlowLog,
    InternetGateway,
    IpPermission,
    NatGateway,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    Vpc,
    VpcEndpoint,
)
from core.aws import AwsSession
from core.outputs import StackOutputs

if TYPE_CHECKING:
    from types_boto3_ec2.client import EC2Client


class NetworkSection(Section):
    vpc: Annotated[Vpc, reads("ec2:DescribeVpcs")] = Field(default_factory=nothing)
    dns_support: Annotated[bool | None, reads("ec2:DescribeVpcAttribute(enableDnsSupport)")] = None
    dns_hostnames: Annotated[bool | None, reads("ec2:DescribeVpcAttribute(enableDnsHostnames)")] = None
    subnets: Annotated[list[Subnet], reads("ec2:DescribeSubnets")] = Field(default_factory=list)
    public_subnet_ids: list[str] = Field(default_factory=list)
    private_subnet_ids: list[str] = Field(default_factory=list)
    route_tables: Annotated[list[RouteTable], reads("ec2:DescribeRouteTables")] = Field(default_factory=list)
    internet_gateways: Annotated[list[InternetGateway], reads("ec2:DescribeInternetGateways")] = Field(
        default_factory=list
    )
    nat_gateways: Annotated[list[NatGateway], reads("ec2:DescribeNatGateways")] = Field(default_factory=list)
    addresses: Annotated[list[Address], reads("ec2:DescribeAddresses")] = Field(default_factory=list)
    security_groups: Annotated[list[SecurityGroup], reads("ec2:DescribeSecurityGroups")] = Field(default_factory=list)
    flow_logs: Annotated[list[FlowLog], reads("ec2:DescribeFlowLogs")] = Field(default_factory=list)
    network_interfaces: Annotated[list[NetworkInterface], reads("ec2:DescribeNetworkInterfaces")] = Field(
        default_factory=list
    )
    vpc_endpoints: Annotated[list[VpcEndpoint], reads("ec2:DescribeVpcEndpoints")] = Field(default_factory=list)
    # the AWS-managed prefix list of S3 in the stack's Region (com.amazonaws.<region>.s3)
    s3_prefix_list: Annotated[PrefixList, reads("ec2:DescribePrefixLists")] = Field(default_factory=nothing)
    region: str = ""

    # ---- derived views the checks share
    def subnet(self, subnet_id: str) -> Subnet:
        for s in self.subnets:
            if s["SubnetId"] == subnet_id:
                return s
        return {}

    def route_table_for(self, subnet_id: str) -> RouteTable:
        """The route table a subnet uses: its explicit association, else the VPC's main table."""
        main: RouteTable = {}
        for rt in self.route_tables:
            for assoc in rt.get("Associations", []):
                if assoc.get("SubnetId") == subnet_id:
                    return rt
                if assoc.get("Main"):
                    main = rt
        return main

    def default_route(self, subnet_id: str) -> Route:
        for route in self.route_table_for(subnet_id).get("Routes", []):
            if route.get("DestinationCidrBlock") == "0.0.0.0/0":
                return route
        return {}

    def nat_gateway(self, nat_id: str) -> NatGateway:
        for nat in self.nat_gateways:
            if nat["NatGatewayId"] == nat_id:
                return nat
        return {}

    def security_group(self, group_id: str) -> SecurityGroup:
        for sg in self.security_groups:
            if sg["GroupId"] == group_id:
                return sg
        return {}

    def default_routes(self, subnet_id: str) -> list[Route]:
        """Every route of the subnet's table towards the whole internet (0.0.0.0/0 and ::/0)."""
        return [
            r
            for r in self.route_table_for(subnet_id).get("Routes", [])
            if r.get("DestinationCidrBlock") == "0.0.0.0/0" or r.get("DestinationIpv6CidrBlock") == "::/0"
        ]

    def zone_of(self, subnet_id: str) -> str | None:
        zone = self.subnet(subnet_id).get("AvailabilityZone")
        return str(zone) if zone else None

    @property
    def live_nat_gateways(self) -> list[NatGateway]:
        """NAT gateways that exist or are coming up (AWS lists deleted ones for about an hour)."""
        return [n for n in self.nat_gateways if n.get("State") in ("pending", "available")]

    @property
    def default_security_group(self) -> SecurityGroup:
        """The VPC's default security group (every VPC has one, named ``default``)."""
        for sg in self.security_groups:
            if sg.get("GroupName") == "default":
                return sg
        return {}

    def endpoints_for(self, service: str) -> list[VpcEndpoint]:
        """The VPC's endpoints for ``com.amazonaws.<region>.<service>`` (every state)."""
        name = f"com.amazonaws.{self.region}.{service}"
        return [e for e in self.vpc_endpoints if e.get("ServiceName") == name]

    @property
    def cidr(self) -> str:
        return str(self.vpc.get("CidrBlock", ""))


def collect_network(aws: AwsSession, outputs: StackOutputs) -> NetworkSection:
    ec2: EC2Client = aws.client("ec2")
    vpc_id = outputs.VPCId
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    s = NetworkSection(
        public_subnet_ids=outputs.PublicSubnetIds, private_subnet_ids=outputs.PrivateSubnetIds, region=aws.region
    )
    s3_list = [{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{aws.region}.s3"]}]

    def vpc_attr(name: Literal["enableDnsSupport", "enableDnsHostnames"]) -> bool | None:
        def read() -> bool | None:
            answer = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=name)
            value = answer["EnableDnsSupport" if name == "enableDnsSupport" else "EnableDnsHostnames"]["Value"]
            return None if value is None else bool(value)

        return attempt(s, f"ec2:DescribeVpcAttribute({name})", read, None)

    with ThreadPoolExecutor(max_workers=13, thread_name_prefix="inventory-network") as pool:
        f: dict[str, Future[Any]] = {
            "vpc": pool.submit(
                attempt, s, "ec2:DescribeVpcs", lambda: ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"], []
            ),
            "dns_support": pool.submit(vpc_attr, "enableDnsSupport"),
            "dns_hostnames": pool.submit(vpc_attr, "enableDnsHostnames"),
            "subnets": pool.submit(
                attempt, s, "ec2:DescribeSubnets",
                lambda: paginate(ec2, "describe_subnets", "Subnets", Filters=by_vpc), [],
            ),
            "route_tables": pool.submit(
                attempt, s, "ec2:DescribeRouteTables",
                lambda: paginate(ec2, "describe_route_tables", "RouteTables", Filters=by_vpc), [],
            ),
            "internet_gateways": pool.submit(
                attempt, s, "ec2:DescribeInternetGateways",
                lambda: paginate(
                    ec2, "describe_internet_gateways", "InternetGateways",
                    Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
                ),
                [],
            ),
            "nat_gateways": pool.submit(
                attempt, s, "ec2:DescribeNatGateways",
                lambda: paginate(ec2, "describe_nat_gateways", "NatGateways", Filter=by_vpc), [],
            ),
            "addresses": pool.submit(
                attempt, s, "ec2:DescribeAddresses", lambda: ec2.describe_addresses()["Addresses"], []
            ),
            "security_groups": pool.submit(
                attempt, s, "ec2:DescribeSecurityGroups",
                lambda: paginate(ec2, "describe_security_groups", "SecurityGroups", Filters=by_vpc), [],
            ),
            "flow_logs": pool.submit(
                attempt, s, "ec2:DescribeFlowLogs",
                lambda: paginate(
                    ec2, "describe_flow_logs", "FlowLogs",
                    Filters=[{"Name": "resource-id", "Values": [vpc_id]}],
                ),
                [],
            ),
            "network_interfaces": pool.submit(
                attempt, s, "ec2:DescribeNetworkInterfaces",
                lambda: paginate(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=by_vpc), [],
            ),
            "vpc_endpoints": pool.submit(
                attempt, s, "ec2:DescribeVpcEndpoints",
                lambda: paginate(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=by_vpc), [],
            ),
            "s3_prefix_list": pool.submit(
                attempt, s, "ec2:DescribePrefixLists",
                lambda: paginate(ec2, "describe_prefix_lists", "PrefixLists", Filters=s3_list), [],
            ),
        }  # fmt: skip
        results = {k: v.result() for k, v in f.items()}
    vpcs = results.pop("vpc")
    s.vpc = vpcs[0] if vpcs else {}
    lists = results.pop("s3_prefix_list")
    s.s3_prefix_list = lists[0] if lists else {}
    for key, value in results.items():
        setattr(s, key, value)
    return s


# ---- security group rule helpers (pure functions over one IpPermissions entry)
WORLD_V4, WORLD_V6 = "0.0.0.0/0", "::/0"


def rule_sources(permission: IpPermission) -> list[str]:
    """Every source (or destination) of a rule: CIDRs, IPv6 CIDRs, groups and prefix lists."""
    return (
        [str(r.get("CidrIp")) for r in permission.get("IpRanges", [])]
        + [str(r.get("CidrIpv6")) for r in permission.get("Ipv6Ranges", [])]
        + [str(g.get("GroupId")) for g in permission.get("UserIdGroupPairs", [])]
        + [str(p.get("PrefixListId")) for p in permission.get("PrefixListIds", [])]
    )


def rule_open_to_world(permission: IpPermission) -> bool:
    return any(src in (WORLD_V4, WORLD_V6) for src in rule_sources(permission))


def rule_ports(permission: IpPermission) -> tuple[int, int] | None:
    """The rule's port range, or None when it covers every port (protocol -1, or no ports given)."""
    if str(permission.get("IpProtocol")) == "-1":
        return None
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None or int(low) == -1:
        return None
    return int(low), int(high)


def rule_covers_port(permission: IpPermission, port: int) -> bool:
    if str(permission.get("IpProtocol")) not in ("-1", "tcp", "6"):
        return False
    ports = rule_ports(permission)
    return ports is None or ports[0] <= port <= ports[1]


def describe_rule(permission: IpPermission) -> str:
    """One rule in words, e.g. ``tcp 22-22 from 0.0.0.0/0``."""
    ports = rule_ports(permission)
    span = "all ports" if ports is None else f"{ports[0]}-{ports[1]}"
    protocol = "all protocols" if str(permission.get("IpProtocol")) == "-1" else permission.get("IpProtocol")
    return f"{protocol} {span} from {', '.join(rule_sources(permission)) or 'nowhere'}"
