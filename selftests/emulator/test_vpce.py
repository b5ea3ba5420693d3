"""Self-tests of ``emulator/faithful/vpce.py`` (and the endpoint interfaces of ``enis.py``).

Real emulator process, real boto3: the platform template deployed by the project's deployer,
then the reads the inventory makes (``DescribeVpcEndpoints`` filtered by the VPC,
``DescribePrefixLists``, ``DescribeRouteTables``, ``DescribeNetworkInterfaces``) before and after
the API changes the drifts make. Each assertion failed on MiniStack 1.5.33 without the extension.
"""

from __future__ import annotations

import json

import pytest

from selftests.emulator.platform import deploy_platform

S3_US_EAST_1 = "pl-63a5400a"  # AWS's id of com.amazonaws.us-east-1.s3


@pytest.fixture(scope="module")
def platform(emulator):
    return deploy_platform(emulator.endpoint_url, suffix="vpce")


def _endpoints(aws, vpc_id: str, service: str | None = None) -> list[dict]:
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    if service:
        filters.append({"Name": "service-name", "Values": [f"com.amazonaws.us-east-1.{service}"]})
    return aws("ec2").describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]


def _enis(aws, ids: list[str]) -> list[dict]:
    return aws("ec2").describe_network_interfaces(NetworkInterfaceIds=ids)["NetworkInterfaces"]


def _s3_routes(aws, vpc_id: str) -> dict[str, list[dict]]:
    tables = aws("ec2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    return {t["RouteTableId"]: [r for r in t["Routes"] if r.get("DestinationPrefixListId")] for t in tables}


def test_s3_prefix_list_has_awss_id(aws):
    lists = aws("ec2").describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.us-east-1.s3"]}]
    )["PrefixLists"]
    assert [p["PrefixListId"] for p in lists] == [S3_US_EAST_1]
    assert aws("ec2").describe_prefix_lists(PrefixListIds=[S3_US_EAST_1])["PrefixLists"][0]["PrefixListName"] == (
        "com.amazonaws.us-east-1.s3"
    )


def test_interface_endpoints_as_the_template_declares_them(aws, platform):
    endpoints = [e for e in _endpoints(aws, platform.VPCId) if e["VpcEndpointType"] == "Interface"]
    names = sorted(e["ServiceName"].removeprefix("com.amazonaws.us-east-1.") for e in endpoints)
    assert names == ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]
    groups = aws("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [platform.VPCId]}])
    vpce_sg = next(g["GroupId"] for g in groups["SecurityGroups"] if g["GroupName"].endswith("-vpce-sg"))
    for e in endpoints:
        assert e["PrivateDnsEnabled"] is True and e["State"] == "available" and e["RequesterManaged"] is False
        assert e["Groups"] == [{"GroupId": vpce_sg, "GroupName": "payments-dev-vpce-vpce-sg"}]
        assert sorted(e["SubnetIds"]) == sorted(platform.PrivateSubnetIds)
        policy = json.loads(e["PolicyDocument"])
        assert all(st["Condition"]["StringEquals"]["aws:PrincipalAccount"] for st in policy["Statement"])
        assert len(e["DnsEntries"]) == 4 and e["DnsEntries"][0]["DnsName"].startswith(e["VpcEndpointId"])
        enis = _enis(aws, e["NetworkInterfaceIds"])
        assert sorted(n["SubnetId"] for n in enis) == sorted(platform.PrivateSubnetIds)
        for n in enis:
            assert n["InterfaceType"] == "vpc_endpoint" and n["RequesterManaged"] is True
            assert n["Description"] == f"VPC Endpoint Interface {e['VpcEndpointId']}"
            assert [g["GroupId"] for g in n["Groups"]] == [vpce_sg] and n["VpcId"] == platform.VPCId


def test_gateway_endpoint_routes_to_s3s_prefix_list(aws, platform):
    (s3,) = _endpoints(aws, platform.VPCId, "s3")
    assert s3["VpcEndpointType"] == "Gateway" and s3["Groups"] == [] and s3["PrivateDnsEnabled"] is False
    routes = _s3_routes(aws, platform.VPCId)
    assert len(s3["RouteTableIds"]) == 3
    for table in s3["RouteTableIds"]:
        assert routes[table] == [
            {"DestinationPrefixListId": S3_US_EAST_1, "GatewayId": s3["VpcEndpointId"], "Origin": "CreateRoute",
             "State": "active"}
        ]  # fmt: skip
    assert sum(bool(r) for r in routes.values()) == 3  # the public table has none


def test_describe_filters_by_vpc(aws, platform):
    ec2 = aws("ec2")
    other = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    ec2.create_vpc_endpoint(VpcId=other, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway")
    assert all(e["VpcId"] == platform.VPCId for e in _endpoints(aws, platform.VPCId))
    assert [e["VpcId"] for e in _endpoints(aws, other)] == [other]
    with pytest.raises(ec2.exceptions.ClientError, match=r"InvalidVpcEndpointId\.NotFound"):
        ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-0000000000000000f"])


def test_api_create_has_awss_defaults(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.98.1.0/24")["Subnet"]["SubnetId"]
    created = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.logs", VpcEndpointType="Interface", SubnetIds=[subnet]
    )["VpcEndpoint"]
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    assert created["PrivateDnsEnabled"] is True
    assert [g["GroupId"] for g in created["Groups"]] == [default]
    assert json.loads(created["PolicyDocument"])["Statement"][0]["Principal"] == "*"


def test_modify_changes_what_describe_and_the_interfaces_show(aws, platform):
    ec2 = aws("ec2")
    (logs,) = _endpoints(aws, platform.VPCId, "logs")
    extra = ec2.create_security_group(GroupName="vpce-extra", Description="x", VpcId=platform.VPCId)["GroupId"]
    ec2.modify_vpc_endpoint(
        VpcEndpointId=logs["VpcEndpointId"], PrivateDnsEnabled=False, AddSecurityGroupIds=[extra], ResetPolicy=True
    )
    (after,) = _endpoints(aws, platform.VPCId, "logs")
    assert after["PrivateDnsEnabled"] is False
    assert [g["GroupId"] for g in after["Groups"]] == [logs["Groups"][0]["GroupId"], extra]
    assert json.loads(after["PolicyDocument"])["Statement"] == [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    ]
    assert all(extra in [g["GroupId"] for g in n["Groups"]] for n in _enis(aws, after["NetworkInterfaceIds"]))
    ec2.modify_vpc_endpoint(VpcEndpointId=logs["VpcEndpointId"], RemoveSubnetIds=[platform.PrivateSubnetIds[0]])
    (fewer,) = _endpoints(aws, platform.VPCId, "logs")
    assert len(fewer["NetworkInterfaceIds"]) == 2
    assert platform.PrivateSubnetIds[0] not in [n["SubnetId"] for n in _enis(aws, fewer["NetworkInterfaceIds"])]


def test_gateway_routes_follow_the_endpoint(aws, platform):
    ec2 = aws("ec2")
    (s3,) = _endpoints(aws, platform.VPCId, "s3")
    table = s3["RouteTableIds"][0]
    ec2.modify_vpc_endpoint(VpcEndpointId=s3["VpcEndpointId"], RemoveRouteTableIds=[table])
    assert _s3_routes(aws, platform.VPCId)[table] == []
    ec2.delete_vpc_endpoints(VpcEndpointIds=[s3["VpcEndpointId"]])
    assert not any(_s3_routes(aws, platform.VPCId).values())
    assert _endpoints(aws, platform.VPCId, "s3") == []
