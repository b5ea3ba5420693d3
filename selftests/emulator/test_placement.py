"""emulator/faithful/placement.py (with lbzones.py): subnets from !GetAZs land in distinct AZs,
the load balancer sits in its subnets' VPC and AZs, describe_availability_zones agrees."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def _subnet(i: int) -> dict:
    return {
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "VpcId": {"Ref": "Vpc"},
            "CidrBlock": f"10.7.{i}.0/24",
            "AvailabilityZone": {"Fn::Select": [i, {"Fn::GetAZs": ""}]},
        },
    }


TEMPLATE = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.7.0.0/16"}},
        "SubnetA": _subnet(0),
        "SubnetB": _subnet(1),
        "SubnetC": _subnet(2),
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "lb", "VpcId": {"Ref": "Vpc"}}},
        "Lb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Name": "placement-lb",
                "Scheme": "internet-facing",
                "SecurityGroups": [{"Ref": "Sg"}],
                "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}, {"Ref": "SubnetC"}],
            },
        },
    },
    "Outputs": {"Azs": {"Value": {"Fn::Join": [",", {"Fn::GetAZs": ""}]}}},
}


@pytest.fixture(scope="module")
def stack(emulator, aws):
    emulator.reset()
    cfn = aws("cloudformation")
    cfn.create_stack(StackName="placement", TemplateBody=json.dumps(TEMPLATE))
    cfn.get_waiter("stack_create_complete").wait(StackName="placement", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    res = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="placement")["StackResources"]
    }
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="placement")["Stacks"][0]["Outputs"]
    }
    return res, outputs


def test_subnets_land_in_distinct_zones_that_describe_availability_zones_lists(stack, aws):
    res, outputs = stack
    ec2 = aws("ec2")
    zones = {z["ZoneName"]: z for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert outputs["Azs"].split(",") == sorted(zones)  # Fn::GetAZs and the EC2 API agree
    subnets = ec2.describe_subnets(SubnetIds=[res["SubnetA"], res["SubnetB"], res["SubnetC"]])["Subnets"]
    by_id = {s["SubnetId"]: s for s in subnets}
    assert [by_id[res[k]]["AvailabilityZone"] for k in ("SubnetA", "SubnetB", "SubnetC")] == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    ]
    for s in subnets:
        assert zones[s["AvailabilityZone"]]["ZoneId"] == s["AvailabilityZoneId"]
        assert zones[s["AvailabilityZone"]]["State"] == "available"


def test_load_balancer_lists_each_subnet_in_its_own_zone_and_vpc(stack, aws):
    res, _ = stack
    (lb,) = aws("elbv2").describe_load_balancers(Names=["placement-lb"])["LoadBalancers"]
    subnets = {
        s["SubnetId"]: s["AvailabilityZone"]
        for s in aws("ec2").describe_subnets(SubnetIds=[res["SubnetA"], res["SubnetB"], res["SubnetC"]])["Subnets"]
    }
    assert {z["SubnetId"]: z["ZoneName"] for z in lb["AvailabilityZones"]} == subnets
    assert len({z["ZoneName"] for z in lb["AvailabilityZones"]}) == 3
    assert lb["VpcId"] == res["Vpc"]


def test_set_subnets_reports_the_new_zones(stack, aws):
    res, _ = stack
    elbv2 = aws("elbv2")
    (lb,) = elbv2.describe_load_balancers(Names=["placement-lb"])["LoadBalancers"]
    zones = elbv2.set_subnets(LoadBalancerArn=lb["LoadBalancerArn"], Subnets=[res["SubnetB"], res["SubnetC"]])
    assert sorted(z["ZoneName"] for z in zones["AvailabilityZones"]) == ["us-east-1b", "us-east-1c"]
    (lb,) = elbv2.describe_load_balancers(Names=["placement-lb"])["LoadBalancers"]
    assert sorted(z["ZoneName"] for z in lb["AvailabilityZones"]) == ["us-east-1b", "us-east-1c"]
    assert lb["VpcId"] == res["Vpc"]


def test_describe_availability_zones_applies_names_ids_and_filters(emulator, aws):
    ec2 = aws("ec2")
    (zone,) = ec2.describe_availability_zones(ZoneNames=["us-east-1b"])["AvailabilityZones"]
    assert zone["ZoneName"] == "us-east-1b"
    (by_id,) = ec2.describe_availability_zones(ZoneIds=[zone["ZoneId"]])["AvailabilityZones"]
    assert by_id["ZoneName"] == "us-east-1b"
    filtered = ec2.describe_availability_zones(Filters=[{"Name": "zone-name", "Values": ["us-east-1a", "us-east-1c"]}])
    assert sorted(z["ZoneName"] for z in filtered["AvailabilityZones"]) == ["us-east-1a", "us-east-1c"]
    assert (
        len(ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"])
        == 3
    )
    with pytest.raises(ClientError) as err:
        ec2.describe_availability_zones(ZoneNames=["us-east-1z"])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
