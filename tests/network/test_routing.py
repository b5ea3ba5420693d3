"""Network suite: routes to the internet, the internet gateway and the per-AZ NAT gateways."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import Route


def _target(route: Route) -> str:
    target = (
        route.get("NatGatewayId") or route.get("GatewayId") or route.get("EgressOnlyInternetGatewayId")
        or route.get("NetworkInterfaceId") or route.get("TransitGatewayId") or route.get("VpcPeeringConnectionId")
        or route.get("InstanceId")
    )  # fmt: skip
    return str(target) if target else "nothing"


def _describe(route: Route) -> str:
    destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
    return f"{destination} -> {_target(route)} ({route.get('State', 'unknown state')})"


@check(
    severity="high",
    operational="availability: the public subnets, and so the load balancer, reach the internet",
    rationale="Public subnets reach the internet only through the internet gateway attached to this VPC.",
)
def test_public_subnets_route_to_attached_internet_gateway(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeRouteTables", "ec2:DescribeInternetGateways")
    igws = sorted(
        g["InternetGatewayId"]
        for g in net.internet_gateways
        if any(a.get("VpcId") == inv.outputs.VPCId and a.get("State") in ("available", "attached")
               for a in g.get("Attachments", []))
    )  # fmt: skip
    routes = {s: net.default_route(s) for s in net.public_subnet_ids}
    evidence.attach("internet gateways and default routes of public subnets", {"igws": igws, "routes": routes})
    assert igws, f"VPC {inv.outputs.VPCId} has no attached internet gateway, expected one"
    for subnet_id, route in routes.items():
        assert route.get("GatewayId") in igws and route.get("State") == "active", (
            f"public subnet {subnet_id} routes 0.0.0.0/0 to {_target(route)} ({route.get('State', 'no route')}), "
            f"expected an active route to the VPC's internet gateway {', '.join(igws)}"
        )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.4",
            "The private tier has no route to the internet gateway, only outbound through NAT, so the data tier is "
            "never directly addressable from the internet.",
        ),
    ],
    rationale="Private subnets reach the internet only via an available NAT gateway that holds an Elastic IP.",
)
def test_private_subnets_route_only_through_available_nat(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeRouteTables", "ec2:DescribeNatGateways", "ec2:DescribeAddresses")
    addresses = {a.get("AllocationId"): a for a in net.addresses}
    net.require("ec2:DescribeRouteTables", "ec2:DescribeNatGateways", "ec2:DescribeSubnets")
    observed: dict[str, dict[str, Any]] = {}
    for subnet_id in net.private_subnet_ids:
        table = net.route_table_for(subnet_id)
        routes = net.default_routes(subnet_id)
        observed[subnet_id] = {"route table": table.get("RouteTableId"), "routes": routes}
        via_igw = [_describe(r) for r in table.get("Routes", []) if str(r.get("GatewayId", "")).startswith("igw-")]
        assert not via_igw, (
            f"private subnet {subnet_id} (route table {table.get('RouteTableId')}) routes {', '.join(via_igw)}, "
            "expected no route to an internet gateway"
        )
        v4 = [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        others = [_describe(r) for r in routes if not r.get("NatGatewayId")]
        assert len(v4) == 1 and not others, (
            f"private subnet {subnet_id} routes to the internet as {[_describe(r) for r in routes] or 'nothing'}, "
            "expected exactly one 0.0.0.0/0 route, to a NAT gateway"
        )
        route = v4[0]
        nat = net.nat_gateway(str(route["NatGatewayId"]))
        observed[subnet_id]["nat"] = nat
        assert route.get("State") == "active" and nat.get("State") == "available", (
            f"private subnet {subnet_id} routes 0.0.0.0/0 to NAT gateway {route['NatGatewayId']} with route state "
            f"{route.get('State')} and gateway state {nat.get('State', 'not found')}, expected an active route "
            "to an available NAT gateway"
        )
        eips = [
            a
            for a in nat.get("NatGatewayAddresses", [])
            if a.get("AllocationId") and a.get("PublicIp")
            and addresses.get(a["AllocationId"], {}).get("PublicIp") == a["PublicIp"]
        ]  # fmt: skip
        assert eips, (
            f"NAT gateway {nat['NatGatewayId']} used by private subnet {subnet_id} holds no Elastic IP "
            f"(addresses {nat.get('NatGatewayAddresses', [])}), expected an allocation with a public IP"
        )
    evidence.attach("private subnets' internet routes and their NAT gateways", observed)


@check(
    severity="medium",
    operational="availability: each AZ's egress fails alone",
    rationale="Each private subnet leaves through the NAT gateway in a public subnet of its own AZ, so AZs fail alone.",
)
def test_private_subnets_use_nat_in_own_az(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    observed = {}
    for subnet_id in net.private_subnet_ids:
        route = net.default_route(subnet_id)
        nat = net.nat_gateway(str(route.get("NatGatewayId", "")))
        zone, nat_zone = net.zone_of(subnet_id), net.zone_of(str(nat.get("SubnetId", "")))
        observed[subnet_id] = {"zone": zone, "nat": nat.get("NatGatewayId"), "nat subnet": nat.get("SubnetId"),
                               "nat zone": nat_zone}  # fmt: skip
        assert nat, (
            f"private subnet {subnet_id} in {zone} routes 0.0.0.0/0 to {_target(route)}, "
            f"expected the NAT gateway of {zone}"
        )
        assert nat_zone == zone and nat.get("SubnetId") in net.public_subnet_ids, (
            f"private subnet {subnet_id} in {zone} uses NAT gateway {nat['NatGatewayId']} in {nat_zone} "
            f"(subnet {nat.get('SubnetId')}), expected the NAT gateway in a public subnet of {zone}"
        )
    evidence.attach("private subnets and the zone of their NAT gateway", observed)


@check(
    severity="medium",
    operational="availability: no single AZ carries all egress",
    rationale="Exactly one available NAT gateway sits in each AZ's public subnet: no single AZ carries all egress.",
)
def test_one_nat_gateway_per_az(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    net = inv.network
    zones = sorted(z for z in (net.zone_of(s) for s in net.public_subnet_ids) if z)
    live = net.live_nat_gateways
    per_zone = Counter(net.zone_of(str(n.get("SubnetId"))) for n in live)
    evidence.attach(
        "NAT gateways by AZ",
        {"public subnet AZs": zones, "NAT gateways": {n["NatGatewayId"]: [n.get("State"), n.get("SubnetId")]
                                                      for n in net.nat_gateways}},
    )  # fmt: skip
    wrong = {z: per_zone.get(z, 0) for z in zones if per_zone.get(z, 0) != 1}
    strays = {z: c for z, c in per_zone.items() if z not in zones}
    listed = ", ".join(f"{n['NatGatewayId']} in {net.zone_of(str(n.get('SubnetId')))}" for n in live) or "none"
    assert not wrong and not strays and len(live) == spec.expectations.az_count, (
        f"VPC {inv.outputs.VPCId} has {len(live)} live NAT gateways ({listed}); "
        f"AZs off by count: {wrong or strays}; expected one NAT gateway in each of the {spec.expectations.az_count} "
        f"AZs {zones}"
    )
