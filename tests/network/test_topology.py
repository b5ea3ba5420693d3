"""Network suite: addressing, routing, gateways, flow logs and security groups."""

from __future__ import annotations

import ipaddress
from itertools import combinations

from conformance.checks import check

ADMIN_AND_DB_PORTS = (22, 3389, 3306)


def _world(permission: dict) -> bool:
    return any(r.get("CidrIp") == "0.0.0.0/0" for r in permission.get("IpRanges", [])) or any(
        r.get("CidrIpv6") == "::/0" for r in permission.get("Ipv6Ranges", [])
    )


def _covers(permission: dict, port: int) -> bool:
    if permission.get("IpProtocol") == "-1":
        return True
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return low is not None and high is not None and low <= port <= high


def _describe_rule(p: dict) -> str:
    sources = [r["CidrIp"] for r in p.get("IpRanges", [])] + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
    sources += [g.get("GroupId", "?") for g in p.get("UserIdGroupPairs", [])]
    return f"{p.get('IpProtocol')} {p.get('FromPort', 'all')}-{p.get('ToPort', 'all')} from {', '.join(sources)}"


@check(
    severity="medium",
    controls=["PCI-DSS-4.0:1.2.1"],
    rationale="Private name resolution inside the VPC is on, so services reach AWS endpoints and each other by name.",
)
def test_vpc_dns_support_and_hostnames_enabled(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeVpcAttribute(enableDnsSupport)", "ec2:DescribeVpcAttribute(enableDnsHostnames)")
    evidence.attach(
        "DescribeVpcAttribute", {"enableDnsSupport": net.dns_support, "enableDnsHostnames": net.dns_hostnames}
    )
    assert net.dns_support is True and net.dns_hostnames is True, (
        f"VPC {inv.outputs.VPCId} has DNS support {net.dns_support} and DNS hostnames {net.dns_hostnames}, "
        "expected both enabled"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.2.1", "PCI-DSS-4.0:12.10.1"],
    rationale="One public and one private subnet in each of the environment's AZs keeps every tier available per AZ.",
)
def test_subnets_one_public_and_one_private_per_az(env_name, inv, spec, evidence):
    net = inv.network
    net.require("ec2:DescribeSubnets")
    want = spec.expectations.az_count
    zones = {
        kind: [net.subnet(s).get("AvailabilityZone") for s in ids]
        for kind, ids in (("public", net.public_subnet_ids), ("private", net.private_subnet_ids))
    }
    evidence.attach("subnet AZs", zones)
    for kind, azs in zones.items():
        assert len(azs) == want and len(set(azs)) == want and None not in azs, (
            f"VPC {inv.outputs.VPCId} has {kind} subnets in AZs {azs}, expected {want} subnets in {want} distinct AZs"
        )
    assert set(zones["public"]) == set(zones["private"]), (
        f"VPC {inv.outputs.VPCId}: public subnets span {sorted(set(zones['public']))} but private subnets span "
        f"{sorted(set(zones['private']))}"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.2.1", "CIS-AWS-3.0:5.1"],
    rationale="Every subnet lies inside the VPC's address space and no two subnets overlap.",
)
def test_subnets_inside_vpc_cidr_without_overlap(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeSubnets", "ec2:DescribeVpcs")
    vpc = ipaddress.ip_network(net.cidr)
    cidrs = {s["SubnetId"]: ipaddress.ip_network(s["CidrBlock"]) for s in net.subnets}
    evidence.attach("subnet CIDRs", {k: str(v) for k, v in cidrs.items()})
    outside = [f"{sid} ({c})" for sid, c in cidrs.items() if not c.subnet_of(vpc)]
    assert not outside, f"subnets outside VPC {inv.outputs.VPCId} ({vpc}): {', '.join(outside)}"
    overlaps = [f"{a} and {b}" for a, b in combinations(sorted(cidrs), 2) if cidrs[a].overlaps(cidrs[b])]
    assert not overlaps, f"subnets of VPC {inv.outputs.VPCId} overlap: {'; '.join(overlaps)}"


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.4.1"],
    rationale="Public subnets reach the internet only through the internet gateway attached to this VPC.",
)
def test_public_subnets_route_to_attached_internet_gateway(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeRouteTables", "ec2:DescribeInternetGateways")
    igws = {g["InternetGatewayId"] for g in net.internet_gateways}
    routes = {s: net.default_route(s) for s in net.public_subnet_ids}
    evidence.attach("default routes of public subnets", routes)
    for subnet_id, route in routes.items():
        target = route.get("GatewayId") or route.get("NatGatewayId") or "nothing"
        assert route.get("GatewayId") in igws and route.get("State", "active") == "active", (
            f"public subnet {subnet_id} routes 0.0.0.0/0 to {target} ({route.get('State', 'no route')}), "
            f"expected an active route to the VPC's internet gateway {sorted(igws)}"
        )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.3.2", "PCI-DSS-4.0:12.10.1"],
    rationale="Private subnets reach the internet only via an available NAT gateway with an EIP in their own AZ.",
)
def test_private_subnets_route_through_nat_in_same_az(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeRouteTables", "ec2:DescribeNatGateways", "ec2:DescribeSubnets")
    observed = {}
    for subnet_id in net.private_subnet_ids:
        route = net.default_route(subnet_id)
        nat = net.nat_gateway(route.get("NatGatewayId", ""))
        observed[subnet_id] = {"route": route, "nat": nat}
        zone = net.subnet(subnet_id).get("AvailabilityZone")
        target = route.get("NatGatewayId") or route.get("GatewayId") or "nothing"
        assert nat and route.get("State", "active") == "active", (
            f"private subnet {subnet_id} routes 0.0.0.0/0 to {target} ({route.get('State', 'no route')}), "
            "expected an active route to a NAT gateway"
        )
        nat_zone = net.subnet(nat.get("SubnetId", "")).get("AvailabilityZone")
        addresses = [a for a in nat.get("NatGatewayAddresses", []) if a.get("AllocationId") and a.get("PublicIp")]
        assert nat.get("State") == "available" and addresses, (
            f"NAT gateway {nat['NatGatewayId']} used by private subnet {subnet_id} is {nat.get('State')} with "
            f"{len(addresses)} Elastic IP(s), expected available with an Elastic IP"
        )
        assert nat_zone == zone and nat.get("SubnetId") in net.public_subnet_ids, (
            f"private subnet {subnet_id} in {zone} uses NAT gateway {nat['NatGatewayId']} in {nat_zone} "
            f"(subnet {nat.get('SubnetId')}), expected the NAT gateway in a public subnet of its own AZ"
        )
    evidence.attach("private default routes and their NAT gateways", observed)


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.3.2"],
    rationale="Nothing launched in a private subnet gets a public address by default.",
)
def test_private_subnets_assign_no_public_ip(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeSubnets")
    flags = {s: net.subnet(s).get("MapPublicIpOnLaunch") for s in net.private_subnet_ids}
    evidence.attach("MapPublicIpOnLaunch", flags)
    public = [s for s, on in flags.items() if on]
    assert not public, f"private subnets {', '.join(public)} map public IPs on launch, expected none to"


@check(
    severity="high",
    controls=["PCI-DSS-4.0:10.2.1", "CIS-AWS-3.0:3.7"],
    rationale="VPC flow logs record all traffic into a KMS-encrypted log group for investigation.",
)
def test_vpc_flow_logs_capture_all_traffic_to_encrypted_group(env_name, inv, evidence):
    net, storage = inv.network, inv.storage
    net.require("ec2:DescribeFlowLogs")
    storage.require("logs:DescribeLogGroups")
    evidence.attach("DescribeFlowLogs", net.flow_logs)
    active = [f for f in net.flow_logs if f.get("FlowLogStatus") == "ACTIVE" and f.get("TrafficType") == "ALL"]
    assert active, (
        f"VPC {inv.outputs.VPCId} has no active flow log for ALL traffic "
        f"(found {[(f.get('FlowLogId'), f.get('FlowLogStatus'), f.get('TrafficType')) for f in net.flow_logs]})"
    )
    groups = {g["logGroupName"]: g for g in storage.log_groups}
    for flow in active:
        name = flow.get("LogGroupName") or flow.get("LogDestination", "").split(":log-group:")[-1].removesuffix(":*")
        group = groups.get(name, {})
        assert group.get("kmsKeyId"), (
            f"flow log {flow['FlowLogId']} of VPC {inv.outputs.VPCId} delivers to log group {name}, which "
            f"{'is not KMS-encrypted' if group else 'does not exist'}"
        )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.2.1"],
    rationale="The database admits MySQL only from the application tier's security group.",
)
def test_database_group_admits_only_mysql_from_application(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeSecurityGroups")
    db, app = net.security_group_named("-db-sg"), net.security_group_named("-app-sg")
    evidence.attach("database security group", db)
    assert db and app, f"security groups -db-sg and -app-sg of {inv.stack_name} not both found"
    bad = [
        _describe_rule(p)
        for p in db.get("IpPermissions", [])
        if (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort")) != ("tcp", 3306, 3306)
        or p.get("IpRanges") or p.get("Ipv6Ranges") or p.get("PrefixListIds")
        or {g.get("GroupId") for g in p.get("UserIdGroupPairs", [])} - {app["GroupId"]}
    ]  # fmt: skip
    assert not bad, (
        f"database security group {db['GroupId']} admits {'; '.join(bad)}; expected only tcp 3306 from {app['GroupId']}"
    )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:1.3.1", "CIS-AWS-3.0:5.2", "CIS-AWS-3.0:5.3"],
    rationale="No security group opens SSH, RDP or the database port to the whole internet.",
)
def test_no_admin_or_database_port_open_to_the_world(env_name, inv, evidence):
    net = inv.network
    net.require("ec2:DescribeSecurityGroups")
    open_rules = [
        f"{g['GroupId']} ({g.get('GroupName')}): {_describe_rule(p)}"
        for g in net.security_groups
        for p in g.get("IpPermissions", [])
        if _world(p) and any(_covers(p, port) for port in ADMIN_AND_DB_PORTS)
    ]
    evidence.attach("world-open rules on 22/3389/3306", open_rules)
    assert not open_rules, f"security groups open admin or database ports to the world: {'; '.join(open_rules)}"
