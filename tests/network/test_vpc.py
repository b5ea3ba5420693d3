"""Network suite: the VPC, its addressing and its name resolution."""

from conformance.checks import check
from conformance.evidence import Evidence
from conformance.inventory import Inventory


@check(
    severity="medium",
    operational="addressing plan: the declared CIDR keeps environments peerable; no security group rule depends on it",
    rationale="Each environment owns its declared, non-overlapping address space so it can be segmented and peered.",
)
def test_vpc_cidr_matches_environment(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    vpc = inv.network.vpc
    evidence.attach("DescribeVpcs", vpc)
    assert vpc, f"VPC {inv.outputs.VPCId} of {inv.stack_name} was not found"
    assert vpc.get("CidrBlock") == spec.parameters.VpcCidr, (
        f"VPC {vpc.get('VpcId')} of {inv.stack_name} has CIDR {vpc.get('CidrBlock')}, "
        f"expected {spec.parameters.VpcCidr}"
    )


@check(
    severity="high",
    operational="availability: without the VPC resolver the tasks reach neither AWS APIs nor the database by name",
    rationale="The VPC resolver is on, so tasks reach AWS APIs, the database endpoints and each other by name.",
)
def test_vpc_dns_support_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    evidence.attach("DescribeVpcAttribute(enableDnsSupport)", {"enableDnsSupport": net.dns_support})
    assert net.dns_support is True, (
        f"VPC {inv.outputs.VPCId} of {inv.stack_name} has DNS support {net.dns_support}, expected it enabled"
    )


@check(
    severity="medium",
    operational="availability: interfaces and private endpoints get resolvable names",
    rationale="DNS hostnames are on, so private endpoints and interfaces in the VPC get resolvable names.",
)
def test_vpc_dns_hostnames_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    net = inv.network
    evidence.attach("DescribeVpcAttribute(enableDnsHostnames)", {"enableDnsHostnames": net.dns_hostnames})
    assert net.dns_hostnames is True, (
        f"VPC {inv.outputs.VPCId} of {inv.stack_name} has DNS hostnames {net.dns_hostnames}, expected them enabled"
    )
