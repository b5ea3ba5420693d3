"""Drifts for the network suite (tests/network): each breaks the deployed VPC the way AWS allows."""

from __future__ import annotations

import ipaddress
from typing import Any

from selftests.drifts.registry import DriftContext, drift, noop

SECONDARY_CIDR, STRAY_SUBNET_CIDR = "100.64.0.0/16", "100.64.1.0/24"


def _ec2(ctx: DriftContext) -> Any:
    return ctx.client("ec2")


def _stack(ctx: DriftContext) -> str:
    return f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}"


def _group(ctx: DriftContext, component: str) -> str:
    """Group id of ``payments-<env>-<suffix>-<component>``, or of the VPC's ``default`` group."""
    name = component if component == "default" else f"{_stack(ctx)}-{component}"
    groups = _ec2(ctx).describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}])
    return next(g["GroupId"] for g in groups["SecurityGroups"] if g["GroupName"] == name)


def _table_of(ctx: DriftContext, subnet_id: str) -> dict[str, Any]:
    tables = _ec2(ctx).describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    return tables["RouteTables"][0]


def _nat_of_private(ctx: DriftContext, index: int) -> str:
    table = _table_of(ctx, ctx.outputs.PrivateSubnetIds[index])
    return next(r["NatGatewayId"] for r in table["Routes"] if r.get("NatGatewayId"))


def _igw(ctx: DriftContext) -> str:
    igws = _ec2(ctx).describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [ctx.outputs.VPCId]}])[
        "InternetGateways"
    ]
    return igws[0]["InternetGatewayId"]


def _in_first_az(resource: str) -> Any:
    """Variant template: the subnet ``resource`` moves into the first AZ (two of its kind share one AZ)."""

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        doc["Resources"][resource]["Properties"]["AvailabilityZone"] = {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
        return doc

    return change


def _subnet_with(ctx: DriftContext, cidr: str) -> str:
    """How the check names the VPC's subnet with ``cidr``: ``subnet-... (cidr)``."""
    by = [{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}, {"Name": "cidr-block", "Values": [cidr]}]
    subnets = _ec2(ctx).describe_subnets(Filters=by)["Subnets"]
    return f"{subnets[0]['SubnetId'] if subnets else '<no subnet>'} ({cidr})"


def _free_block(ctx: DriftContext) -> str:
    """The last /24 of the VPC's CIDR: inside the environment's address space, used by none of the stack's subnets."""
    return str(list(ipaddress.ip_network(ctx.outputs.VpcCidr).subnets(new_prefix=24))[-1])


def _allow(ctx: DriftContext, component: str, port: int, **source: Any) -> None:
    """Add one tcp ingress rule to a group; ``source`` is CidrIp=..., CidrIpv6=... or GroupId=..."""
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if "CidrIp" in source:
        permission["IpRanges"] = [{"CidrIp": source["CidrIp"]}]
    if "CidrIpv6" in source:
        permission["Ipv6Ranges"] = [{"CidrIpv6": source["CidrIpv6"]}]
    if "GroupId" in source:
        permission["UserIdGroupPairs"] = [{"GroupId": source["GroupId"]}]
    _ec2(ctx).authorize_security_group_ingress(GroupId=_group(ctx, component), IpPermissions=[permission])


# ------------------------------------------------------------------ default group (test_security_groups.py)
@drift(
    "test_default_security_group_has_no_rules",
    "an ingress rule (tcp 443 from the VPC's CIDR) is authorized on the VPC's default security group",
    id="net-default-sg-ingress",
    names=lambda ctx: _group(ctx, "default"),
)
def drift_default_security_group_ingress(ctx: DriftContext) -> None:
    vpc = _ec2(ctx).describe_vpcs(VpcIds=[ctx.outputs.VPCId])["Vpcs"][0]
    _allow(ctx, "default", 443, CidrIp=vpc["CidrBlock"])


# ------------------------------------------------------------------ VPC (test_vpc.py)
@drift(
    "test_vpc_cidr_matches_environment",
    "the VPC is deployed with a /20 instead of the environment's /16",
    id="net-vpc-cidr-narrowed",
    parameters={"VpcCidr": "10.2.0.0/20"},
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_vpc_cidr_narrowed(ctx: DriftContext) -> None:
    noop(ctx)


@drift(
    "test_vpc_dns_support_enabled",
    "DNS support (the VPC resolver) is switched off, hostnames first as AWS requires",
    id="net-dns-support-off",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_dns_support_off(ctx: DriftContext) -> None:
    _ec2(ctx).modify_vpc_attribute(VpcId=ctx.outputs.VPCId, EnableDnsHostnames={"Value": False})
    _ec2(ctx).modify_vpc_attribute(VpcId=ctx.outputs.VPCId, EnableDnsSupport={"Value": False})


@drift(
    "test_vpc_dns_hostnames_enabled",
    "DNS hostnames are switched off on the VPC",
    id="net-dns-hostnames-off",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_dns_hostnames_off(ctx: DriftContext) -> None:
    _ec2(ctx).modify_vpc_attribute(VpcId=ctx.outputs.VPCId, EnableDnsHostnames={"Value": False})


# ------------------------------------------------------------------ subnets (test_subnets.py)
@drift(
    "test_public_subnets_one_per_az",
    "the third public subnet is placed in the first AZ (two public subnets share an AZ)",
    id="net-public-subnets-same-az",
    template=_in_first_az("PublicSubnetC"),
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_public_subnets_same_az(ctx: DriftContext) -> None:
    noop(ctx)


@drift(
    "test_private_subnets_one_per_az",
    "the second private subnet is placed in the first AZ (two private subnets share an AZ)",
    id="net-private-subnets-same-az",
    template=_in_first_az("PrivateSubnetB"),
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_private_subnets_same_az(ctx: DriftContext) -> None:
    noop(ctx)


@drift(
    "test_subnets_are_the_stacks_inside_vpc_cidr",
    f"a secondary CIDR {SECONDARY_CIDR} is associated with the VPC and a subnet {STRAY_SUBNET_CIDR} created in it",
    id="net-subnet-outside-environment-cidr",
    names=lambda ctx: f"outside the environment's CIDR {ctx.outputs.VpcCidr}: {_subnet_with(ctx, STRAY_SUBNET_CIDR)}",
)
def drift_subnet_outside_environment_cidr(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    ec2.associate_vpc_cidr_block(VpcId=ctx.outputs.VPCId, CidrBlock=SECONDARY_CIDR)
    ec2.create_subnet(VpcId=ctx.outputs.VPCId, CidrBlock=STRAY_SUBNET_CIDR)


@drift(
    "test_subnets_are_the_stacks_inside_vpc_cidr",
    "a subnet is created by hand in a free block of the VPC's own CIDR (inside the address space, not the stack's)",
    id="net-subnet-not-the-stacks",
    names=lambda ctx: f": {_subnet_with(ctx, _free_block(ctx))}",
)
def drift_subnet_not_the_stacks(ctx: DriftContext) -> None:
    _ec2(ctx).create_subnet(VpcId=ctx.outputs.VPCId, CidrBlock=_free_block(ctx))


@drift(
    "test_private_subnets_assign_no_public_ip",
    "a private subnet is set to map public IPs on launch",
    id="net-private-public-ip",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[1],
)
def drift_private_public_ip(ctx: DriftContext) -> None:
    _ec2(ctx).modify_subnet_attribute(SubnetId=ctx.outputs.PrivateSubnetIds[1], MapPublicIpOnLaunch={"Value": True})


# ------------------------------------------------------------------ routing (test_routing.py)
@drift(
    "test_public_subnets_route_to_attached_internet_gateway",
    "the public route table's default route is removed",
    id="net-public-default-route-removed",
    names=lambda ctx: ctx.outputs.PublicSubnetIds[0],
)
def drift_public_default_route_removed(ctx: DriftContext) -> None:
    table = _table_of(ctx, ctx.outputs.PublicSubnetIds[0])
    _ec2(ctx).delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")


@drift(
    "test_public_subnets_route_to_attached_internet_gateway",
    "the public route table's default route is pointed at a NAT gateway instead of the internet gateway",
    id="net-public-route-to-nat",
    names=lambda ctx: ctx.outputs.PublicSubnetIds[0],
)
def drift_public_route_to_nat(ctx: DriftContext) -> None:
    table = _table_of(ctx, ctx.outputs.PublicSubnetIds[0])
    _ec2(ctx).replace_route(
        RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=_nat_of_private(ctx, 0)
    )


@drift(
    "test_private_subnets_route_only_through_available_nat",
    "the NAT gateway of the first AZ is deleted (its route becomes a blackhole)",
    id="net-nat-deleted-route-blackholed",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[0],
)
def drift_nat_deleted_route_blackholed(ctx: DriftContext) -> None:
    _ec2(ctx).delete_nat_gateway(NatGatewayId=_nat_of_private(ctx, 0))


@drift(
    "test_private_subnets_route_only_through_available_nat",
    "the first private subnet's default route is pointed straight at the internet gateway",
    id="net-private-route-to-igw",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[0],
)
def drift_private_route_to_igw(ctx: DriftContext) -> None:
    table = _table_of(ctx, ctx.outputs.PrivateSubnetIds[0])
    _ec2(ctx).replace_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=_igw(ctx))


@drift(
    "test_private_subnets_use_nat_in_own_az",
    "the first private subnet is routed through the NAT gateway of the second AZ",
    id="net-nat-cross-az",
    names=lambda ctx: ctx.outputs.PrivateSubnetIds[0],
)
def drift_nat_cross_az(ctx: DriftContext) -> None:
    table = _table_of(ctx, ctx.outputs.PrivateSubnetIds[0])
    _ec2(ctx).replace_route(
        RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=_nat_of_private(ctx, 1)
    )


@drift(
    "test_one_nat_gateway_per_az",
    "the NAT gateway of the second AZ is deleted (that AZ has none left)",
    id="net-az-without-nat",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_az_without_nat(ctx: DriftContext) -> None:
    _ec2(ctx).delete_nat_gateway(NatGatewayId=_nat_of_private(ctx, 1))


# ------------------------------------------------------------------ flow logs (test_flow_logs.py)
@drift(
    "test_vpc_flow_logs_capture_all_traffic",
    "the VPC's flow log is deleted",
    id="net-flow-log-deleted",
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_flow_log_deleted(ctx: DriftContext) -> None:
    ec2 = _ec2(ctx)
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [ctx.outputs.VPCId]}])["FlowLogs"]
    ec2.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in flows])


@drift(
    "test_vpc_flow_logs_capture_all_traffic",
    "the flow log records only rejected traffic",
    id="net-flow-log-reject-only",
    template=lambda doc: (doc["Resources"]["VpcFlowLog"]["Properties"].__setitem__("TrafficType", "REJECT"), doc)[1],
    names=lambda ctx: ctx.outputs.VPCId,
)
def drift_flow_log_reject_only(ctx: DriftContext) -> None:
    noop(ctx)


@drift(
    "test_vpc_flow_log_group_is_kms_encrypted",
    "the flow-logs log group's KMS key is disassociated",
    id="net-flow-log-group-unencrypted",
    names=lambda ctx: f"{_stack(ctx)}-flow-logs",
)
def drift_flow_log_group_unencrypted(ctx: DriftContext) -> None:
    ctx.client("logs").disassociate_kms_key(logGroupName=f"{_stack(ctx)}-flow-logs")


# ------------------------------------------------------------------ security groups (test_security_groups.py)
@drift(
    "test_load_balancer_group_admits_only_http_and_https",
    "the load balancer's group opens 8080 to the world",
    id="net-alb-sg-opens-8080",
    names=lambda ctx: _group(ctx, "alb-sg"),
)
def drift_alb_sg_opens_8080(ctx: DriftContext) -> None:
    _allow(ctx, "alb-sg", 8080, CidrIp="0.0.0.0/0")


@drift(
    "test_application_group_admits_only_container_port_from_load_balancer",
    "the application group admits the container port from the whole VPC CIDR",
    id="net-app-sg-port-from-vpc",
    names=lambda ctx: _group(ctx, "app-sg"),
)
def drift_app_sg_port_from_vpc(ctx: DriftContext) -> None:
    _allow(ctx, "app-sg", ctx.spec.parameters.ContainerPort, CidrIp=ctx.spec.parameters.VpcCidr)


@drift(
    "test_application_group_admits_only_container_port_from_load_balancer",
    "the application group admits a second port (8443) from the load balancer's group",
    id="net-app-sg-extra-port-from-alb",
    names=lambda ctx: _group(ctx, "app-sg"),
)
def drift_app_sg_extra_port_from_alb(ctx: DriftContext) -> None:
    _allow(ctx, "app-sg", 8443, GroupId=_group(ctx, "alb-sg"))


@drift(
    "test_database_group_admits_only_mysql_from_application",
    "the database group admits MySQL from the VPC's whole CIDR",
    id="net-db-sg-open-to-vpc",
    names=lambda ctx: _group(ctx, "db-sg"),
)
def drift_db_sg_open_to_vpc(ctx: DriftContext) -> None:
    _allow(ctx, "db-sg", 3306, CidrIp=ctx.spec.parameters.VpcCidr)


@drift(
    "test_no_admin_or_database_port_open_to_the_world",
    "SSH is opened to 0.0.0.0/0 on the application group",
    id="net-ssh-open-to-world",
    names=lambda ctx: _group(ctx, "app-sg"),
)
def drift_ssh_open_to_world(ctx: DriftContext) -> None:
    _allow(ctx, "app-sg", 22, CidrIp="0.0.0.0/0")


@drift(
    "test_no_admin_or_database_port_open_to_the_world",
    "RDP is opened to ::/0 on the load balancer's group",
    id="net-rdp-open-to-world-ipv6",
    names=lambda ctx: _group(ctx, "alb-sg"),
)
def drift_rdp_open_to_world_ipv6(ctx: DriftContext) -> None:
    _allow(ctx, "alb-sg", 3389, CidrIpv6="::/0")
