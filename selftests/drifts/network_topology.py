"""Drifts for tests/network/test_topology.py."""

from __future__ import annotations

from selftests.drifts.registry import DriftContext, drift


def _ec2(ctx: DriftContext):
    return ctx.client("ec2")


def _group(ctx: DriftContext, suffix: str) -> str:
    groups = _ec2(ctx).describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}])
    return next(g["GroupId"] for g in groups["SecurityGroups"] if g["GroupName"].endswith(suffix))


def _private_route_table(ctx: DriftContext, index: int = 0) -> str:
    subnet = ctx.outputs.PrivateSubnetIds[index]
    tables = _ec2(ctx).describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    return tables["RouteTables"][0]["RouteTableId"]


@drift(
    "test_vpc_dns_support_and_hostnames_enabled",
    "DNS hostnames are switched off on the VPC",
    id="net-dns-hostnames-off",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_dns_hostnames_off(ctx: DriftContext) -> None:
    _ec2(ctx).modify_vpc_attribute(VpcId=ctx.outputs.VPCId, EnableDnsHostnames={"Value": False})


@drift(
    "test_subnets_one_public_and_one_private_per_az",
    "a private subnet is placed in the same AZ as another (two private subnets in one AZ)",
    id="net-private-subnets-same-az",
    template=lambda doc: (
        doc["Resources"]["PrivateSubnetB"]["Properties"].__setitem__(
            "AvailabilityZone", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
        ),
        doc,
    )[1],
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_private_subnets_same_az(ctx: DriftContext) -> None:
    """Wholly a variant template."""


@drift(
    "test_subnets_inside_vpc_cidr_without_overlap",
    "a fourth subnet overlapping a private subnet is added to the VPC",
    id="net-overlapping-subnet",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_overlapping_subnet(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    cidr = ec2.describe_subnets(SubnetIds=[ctx.outputs.PrivateSubnetIds[0]])["Subnets"][0]["CidrBlock"]
    ec2.create_subnet(VpcId=ctx.outputs.VPCId, CidrBlock=cidr.replace("/24", "/25"))


@drift(
    "test_public_subnets_route_to_attached_internet_gateway",
    "the public route table's default route is removed",
    id="net-public-default-route-removed",
    names=lambda ctx: ctx.outputs.PublicSubnetIds[0],
)
def drift_public_route_removed(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    subnet = ctx.outputs.PublicSubnetIds[0]
    table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"][0]
    ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")


@drift(
    "test_private_subnets_route_through_nat_in_same_az",
    "the NAT gateway of the first AZ is deleted (its routes become blackholes)",
    id="net-nat-deleted",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[0],
)
def drift_nat_deleted(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    route = next(
        r
        for r in ec2.describe_route_tables(RouteTableIds=[_private_route_table(ctx)])["RouteTables"][0]["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    )
    ec2.delete_nat_gateway(NatGatewayId=route["NatGatewayId"])


@drift(
    "test_private_subnets_route_through_nat_in_same_az",
    "the first private subnet is routed through the NAT gateway of another AZ",
    id="net-nat-cross-az",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[0],
)
def drift_nat_cross_az(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    other = _private_route_table(ctx, 1)
    nat = next(
        r["NatGatewayId"]
        for r in ec2.describe_route_tables(RouteTableIds=[other])["RouteTables"][0]["Routes"]
        if r.get("NatGatewayId")
    )
    ec2.replace_route(RouteTableId=_private_route_table(ctx, 0), DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)


@drift(
    "test_private_subnets_assign_no_public_ip",
    "a private subnet is set to map public IPs on launch",
    id="net-private-public-ip",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[1],
)
def drift_private_public_ip(ctx: DriftContext) -> None:
    _ec2(ctx).modify_subnet_attribute(SubnetId=ctx.outputs.PrivateSubnetIds[1], MapPublicIpOnLaunch={"Value": True})


@drift(
    "test_vpc_flow_logs_capture_all_traffic_to_encrypted_group",
    "the VPC's flow log is deleted",
    id="net-flow-log-deleted",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_flow_log_deleted(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [ctx.outputs.VPCId]}])["FlowLogs"]
    ec2.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in flows])


@drift(
    "test_database_group_admits_only_mysql_from_application",
    "the database group admits MySQL from the VPC's whole CIDR",
    id="net-db-open-to-vpc",
    names=lambda ctx: _group(ctx, "-db-sg"),
)
def drift_db_open_to_vpc(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_ingress(
        GroupId=_group(ctx, "-db-sg"), IpProtocol="tcp", FromPort=3306, ToPort=3306, CidrIp=ctx.spec.parameters.VpcCidr
    )


@drift(
    "test_no_admin_or_database_port_open_to_the_world",
    "SSH is opened to 0.0.0.0/0 on the application group",
    id="net-ssh-open-to-world",
    names=lambda ctx: _group(ctx, "-app-sg"),
)
def drift_ssh_open(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_ingress(
        GroupId=_group(ctx, "-app-sg"), IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
