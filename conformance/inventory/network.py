"""Network: VPC, subnets, routes, gateways, addresses, security groups, flow logs."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from pydantic import Field

from conformance.aws import AwsSession
from conformance.inventory.base import Raw, Section, attempt, paginate, tags_of
from conformance.outputs import StackOutputs


class NetworkSection(Section):
    vpc: Raw = Field(default_factory=dict)
    dns_support: bool | None = None
    dns_hostnames: bool | None = None
    subnets: list[Raw] = Field(default_factory=list)
    public_subnet_ids: list[str] = Field(default_factory=list)
    private_subnet_ids: list[str] = Field(default_factory=list)
    route_tables: list[Raw] = Field(default_factory=list)
    internet_gateways: list[Raw] = Field(default_factory=list)
    nat_gateways: list[Raw] = Field(default_factory=list)
    addresses: list[Raw] = Field(default_factory=list)
    security_groups: list[Raw] = Field(default_factory=list)
    flow_logs: list[Raw] = Field(default_factory=list)
    network_interfaces: list[Raw] = Field(default_factory=list)

    # ---- derived views the checks share
    def subnet(self, subnet_id: str) -> Raw:
        for s in self.subnets:
            if s["SubnetId"] == subnet_id:
                return s
        return {}

    def route_table_for(self, subnet_id: str) -> Raw:
        """The route table a subnet uses: its explicit association, else the VPC's main table."""
        main: Raw = {}
        for rt in self.route_tables:
            for assoc in rt.get("Associations", []):
                if assoc.get("SubnetId") == subnet_id:
                    return rt
                if assoc.get("Main"):
                    main = rt
        return main

    def default_route(self, subnet_id: str) -> Raw:
        for route in self.route_table_for(subnet_id).get("Routes", []):
            if route.get("DestinationCidrBlock") == "0.0.0.0/0":
                return route
        return {}

    def nat_gateway(self, nat_id: str) -> Raw:
        for nat in self.nat_gateways:
            if nat["NatGatewayId"] == nat_id:
                return nat
        return {}

    def security_group(self, group_id: str) -> Raw:
        for sg in self.security_groups:
            if sg["GroupId"] == group_id:
                return sg
        return {}

    def security_group_named(self, suffix: str) -> Raw:
        """The group whose Name tag or GroupName ends with ``suffix`` (e.g. ``-db-sg``)."""
        for sg in self.security_groups:
            names = (sg.get("GroupName", ""), tags_of(sg).get("Name", ""))
            if any(n.endswith(suffix) for n in names):
                return sg
        return {}

    @property
    def cidr(self) -> str:
        return str(self.vpc.get("CidrBlock", ""))

    def inside_vpc(self, address: str) -> bool:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(self.cidr)
        except ValueError:
            return False


def collect_network(aws: AwsSession, outputs: StackOutputs) -> NetworkSection:
    ec2 = aws.client("ec2")
    vpc_id = outputs.VPCId
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    s = NetworkSection(public_subnet_ids=outputs.PublicSubnetIds, private_subnet_ids=outputs.PrivateSubnetIds)

    def vpc_attr(name: str) -> bool | None:
        key = name[0].upper() + name[1:]
        value = attempt(
            s,
            f"ec2:DescribeVpcAttribute({name})",
            lambda: ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=name)[key]["Value"],
            None,
        )
        return None if value is None else bool(value)

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="inventory-network") as pool:
        f = {
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
        }  # fmt: skip
        results = {k: v.result() for k, v in f.items()}
    vpcs = results.pop("vpc")
    s.vpc = vpcs[0] if vpcs else {}
    for key, value in results.items():
        setattr(s, key, value)
    return s
