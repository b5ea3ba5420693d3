"""Network suite: the VPC and its addressing."""

from conformance.checks import check


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.2.1", "PCI-DSS-4.0:1.3.1"],
    rationale="Each environment owns its declared, non-overlapping address space so it can be segmented and peered.",
)
def test_vpc_cidr_matches_environment(env_name, inv, spec, evidence):
    inv.network.require("ec2:DescribeVpcs")
    vpc = inv.network.vpc
    evidence.attach("DescribeVpcs", vpc)
    assert vpc, f"VPC {inv.outputs.VPCId} of {inv.stack_name} was not found"
    assert vpc.get("CidrBlock") == spec.parameters.VpcCidr, (
        f"VPC {vpc.get('VpcId')} of {inv.stack_name} has CIDR {vpc.get('CidrBlock')}, "
        f"expected {spec.parameters.VpcCidr}"
    )
