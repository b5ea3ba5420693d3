"""Network suite: public and private subnets, their zones, addresses and launch settings."""

from __future__ import annotations

import ipaddress

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory


def _inside(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, vpc: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    """``net`` lies inside ``vpc`` (of the same IP version)."""
    if isinstance(net, ipaddress.IPv4Network) and isinstance(vpc, ipaddress.IPv4Network):
        return net.subnet_of(vpc)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(vpc, ipaddress.IPv6Network):
        return net.subnet_of(vpc)
    return False


def _zones(net, subnet_ids: list[str]) -> dict[str, str | None]:
    return {sid: net.zone_of(sid) for sid in subnet_ids}


def _assert_one_per_az(inv: Inventory, kind: str, zones: dict[str, str | None], want: int) -> None:
    placed = sorted(z for z in zones.values() if z)
    missing = [sid for sid, z in zones.items() if not z]
    assert not missing, f"{kind} subnets {', '.join(missing)} of VPC {inv.outputs.VPCId} were not found"
    assert len(zones) == want and len(set(placed)) == want, (
        f"VPC {inv.outputs.VPCId} has {len(zones)} {kind} subnets ({', '.join(zones)}) in "
        f"{len(set(placed))} distinct AZs {placed}, expected {want} {kind} subnets in {want} distinct AZs"
    )


@check(
    severity="high",
    operational="availability: the load balancer and NAT gateways survive the loss of an AZ",
    rationale="One public subnet in each of the environment's AZs keeps the load balancer and NAT up when an AZ fails.",
)
def test_public_subnets_one_per_az(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeSubnets")
    zones = _zones(net, net.public_subnet_ids)
    evidence.attach("public subnets and their AZs", zones)
    _assert_one_per_az(inv, "public", zones, spec.expectations.az_count)


@check(
    severity="high",
    operational="availability: the application and database tiers survive the loss of an AZ",
    rationale="One private subnet beside each public one keeps the application and database tiers up per AZ.",
)
def test_private_subnets_one_per_az(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeSubnets")
    zones = _zones(net, net.private_subnet_ids)
    public = {z for z in _zones(net, net.public_subnet_ids).values() if z}
    evidence.attach("private subnets and their AZs", {"private": zones, "public AZs": sorted(public)})
    _assert_one_per_az(inv, "private", zones, spec.expectations.az_count)
    unpaired = sorted({z for z in zones.values() if z} ^ public)
    assert not unpaired, (
        f"VPC {inv.outputs.VPCId}: private subnets span {sorted(set(zones.values()), key=str)} but public subnets span "
        f"{sorted(public)}; AZs {unpaired} lack one of the pair, expected a public and a private subnet in every AZ"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:1.2.8",
            "The VPC holds only the subnets the stack declares, inside the environment's CIDR: no segment of the "
            "network in force lies outside the reviewed configuration.",
        ),
        supporting(
            "PCI-DSS-4.0:1.2.3",
            "The declared topology is the whole network, so a diagram drawn from it misses no segment.",
        ),
    ],
    rationale="The VPC holds only the stack's subnets, all inside the environment's CIDR, so every segment is guarded.",
)
def test_subnets_are_the_stacks_inside_vpc_cidr(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    # No two subnets of one VPC can overlap (AWS refuses: InvalidSubnet.Conflict) and the environments'
    # CIDRs are disjoint (test_environment_cidrs_are_disjoint), so a subnet inside its environment's CIDR
    # overlaps no other environment. What AWS does allow is checked here: a subnet in a secondary CIDR
    # block outside the environment's address space, and a subnet the stack does not declare.
    net = inv.network
    net.require("ec2:DescribeSubnets", "ec2:DescribeVpcs")
    vpc = ipaddress.ip_network(spec.parameters.VpcCidr)
    cidrs = {s["SubnetId"]: ipaddress.ip_network(s["CidrBlock"]) for s in net.subnets}
    declared = set(net.public_subnet_ids) | set(net.private_subnet_ids)
    evidence.attach(
        "subnet CIDRs",
        {"VPC": str(vpc), "subnets": {k: str(v) for k, v in cidrs.items()}, "declared by the stack": sorted(declared)},
    )
    assert cidrs, f"VPC {inv.outputs.VPCId} has no subnets, expected {2 * spec.expectations.az_count}"
    outside = [f"{sid} ({c})" for sid, c in sorted(cidrs.items()) if not _inside(c, vpc)]
    undeclared = [f"{sid} ({c})" for sid, c in sorted(cidrs.items()) if sid not in declared]
    problems = []
    if outside:
        problems.append(f"outside the environment's CIDR {vpc}: {', '.join(outside)}")
    if undeclared:
        problems.append(f"not the stack's (its public and private subnets are {', '.join(sorted(declared))}): "
                        f"{', '.join(undeclared)}")  # fmt: skip
    assert not problems, (
        f"subnets of VPC {inv.outputs.VPCId} {'; '.join(problems)}; "
        f"expected only the stack's subnets, each inside {vpc}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.4",
            "The private subnets hold the data tier; nothing launched in them gets an internet address by default.",
        ),
    ],
    rationale="Nothing launched in a private subnet gets a public address by default.",
)
def test_private_subnets_assign_no_public_ip(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    net.require("ec2:DescribeSubnets")
    flags = {s: net.subnet(s).get("MapPublicIpOnLaunch") for s in net.private_subnet_ids}
    evidence.attach("MapPublicIpOnLaunch of private subnets", flags)
    public = [s for s, on in flags.items() if on is not False]
    assert not public, (
        f"private subnets {', '.join(public)} of VPC {inv.outputs.VPCId} have MapPublicIpOnLaunch "
        f"{[flags[s] for s in public]}, expected false"
    )
