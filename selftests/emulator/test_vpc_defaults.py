"""emulator/faithful/vpc_defaults.py: default security group, secondary CIDRs, subnet ranges."""

from __future__ import annotations

import botocore.exceptions
import pytest

from selftests.emulator.platform import deploy_platform, settled_stack


def _default_group(ec2, vpc_id: str) -> dict:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    (default,) = [g for g in groups if g["GroupName"] == "default"]
    return default


def _error_code(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_api_vpc_default_group_admits_itself_and_allows_all_egress(emulator, aws):
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    default = _default_group(ec2, vpc_id)
    (ingress,) = default["IpPermissions"]
    assert ingress["IpProtocol"] == "-1"
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [default["GroupId"]]
    assert not ingress["IpRanges"]
    (egress,) = default["IpPermissionsEgress"]
    assert egress["IpProtocol"] == "-1" and egress["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    # the rules can be revoked, as a hardening step on AWS would
    ec2.revoke_security_group_ingress(GroupId=default["GroupId"], IpPermissions=default["IpPermissions"])
    ec2.revoke_security_group_egress(GroupId=default["GroupId"], IpPermissions=default["IpPermissionsEgress"])
    default = _default_group(ec2, vpc_id)
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []


def test_subnets_must_lie_in_the_vpc_and_not_overlap(emulator, aws):
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.78.1.0/24")
    assert _error_code(lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.79.1.0/24")) == "InvalidSubnet.Range"
    assert _error_code(lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.78.1.0/25")) == "InvalidSubnet.Conflict"


def test_secondary_cidr_is_associated_routed_and_takes_subnets(emulator, aws):
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    assoc = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="100.64.0.0/16")["CidrBlockAssociation"]
    assert assoc["CidrBlock"] == "100.64.0.0/16" and assoc["AssociationId"].startswith("vpc-cidr-assoc-")
    (vpc,) = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert vpc["CidrBlock"] == "10.80.0.0/16"
    assert [a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]] == ["10.80.0.0/16", "100.64.0.0/16"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    assert all(
        {"10.80.0.0/16", "100.64.0.0/16"}
        <= {r["DestinationCidrBlock"] for r in t["Routes"] if r.get("GatewayId") == "local"}
        for t in tables
    )
    assert ec2.create_subnet(VpcId=vpc_id, CidrBlock="100.64.1.0/24")["Subnet"]["CidrBlock"] == "100.64.1.0/24"
    code = _error_code(lambda: ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.80.128.0/17"))
    assert code == "InvalidVpc.Range"


def test_stack_vpc_default_group_has_no_rules_after_the_custom_resource(emulator, aws):
    """The template's Lambda-backed custom resource ran its inline handler and revoked both AWS rules."""
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    default = _default_group(aws("ec2"), outputs.VPCId)
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []
    # Delete: MiniStack sends the Delete event and waits for the handler's PUT; the stack deletes cleanly
    cfn = aws("cloudformation")
    name = f"payments-{outputs.EnvironmentName}-{outputs.EnvironmentSuffix}"
    cfn.delete_stack(StackName=name)
    assert settled_stack(cfn, name, timeout=120)["StackStatus"] == "DELETE_COMPLETE"
