"""Self-tests of ``emulator/faithful/enis.py``: every resource in the VPC shows its network interface.

Real emulator process, real boto3: the platform template deployed by the project's deployer,
then ``DescribeNetworkInterfaces`` filtered by the VPC as the inventory reads it, before and
after the API changes an attacker (or an operator) would make: the database cluster's and the
load balancer's security groups replaced, the ECS service moved to another group, an
instance started in the VPC and terminated.
"""

from __future__ import annotations

import time

import pytest

from selftests.emulator.platform import deploy_platform


@pytest.fixture(scope="module")
def platform(emulator):
    return deploy_platform(emulator.endpoint_url, suffix="eni")


def _enis(aws, vpc_id: str) -> list[dict]:
    pages = (
        aws("ec2")
        .get_paginator("describe_network_interfaces")
        .paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    )
    return [e for page in pages for e in page["NetworkInterfaces"]]


def _by(enis: list[dict], requester: str) -> list[dict]:
    return [e for e in enis if e.get("RequesterId") == requester]


def _group_ids(eni: dict) -> list[str]:
    return [g["GroupId"] for g in eni.get("Groups", [])]


def _sg(aws, vpc_id: str, name: str) -> str:
    return aws("ec2").create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]


def test_database_interfaces_one_per_instance_with_the_cluster_groups(aws, platform):
    cluster = aws("rds").describe_db_clusters(DBClusterIdentifier=platform.AuroraClusterIdentifier)["DBClusters"][0]
    instances = aws("rds").describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [platform.AuroraClusterIdentifier]}]
    )["DBInstances"]
    db = _by(_enis(aws, platform.VPCId), "amazon-rds")
    assert len(db) == len(instances) == 2
    groups = [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]]
    for eni in db:
        assert _group_ids(eni) == groups
        assert eni["Description"] == "RDSNetworkInterface" and eni["RequesterManaged"] is True
        assert eni["InterfaceType"] == "interface" and eni["Status"] == "in-use"
        assert eni["Attachment"]["InstanceOwnerId"] == "amazon-rds" and eni["Attachment"]["Status"] == "attached"
        assert eni["SubnetId"] in platform.PrivateSubnetIds and eni["VpcId"] == platform.VPCId
    zones = sorted(e["AvailabilityZone"] for e in db)
    assert zones == sorted(i["AvailabilityZone"] for i in instances)


def test_load_balancer_interfaces_one_per_subnet_with_its_groups(aws, platform):
    lb = aws("elbv2").describe_load_balancers(LoadBalancerArns=[platform.LoadBalancerArn])["LoadBalancers"][0]
    elb = _by(_enis(aws, platform.VPCId), "amazon-elb")
    assert sorted(e["SubnetId"] for e in elb) == sorted(z["SubnetId"] for z in lb["AvailabilityZones"])
    name_and_id = platform.LoadBalancerArn.split(":loadbalancer/", 1)[1]
    for eni in elb:
        assert _group_ids(eni) == lb["SecurityGroups"]
        assert eni["Description"] == f"ELB {name_and_id}" and name_and_id.startswith("app/")
        assert eni["Attachment"]["InstanceOwnerId"] == "amazon-elb"


def test_nat_gateway_interfaces_are_the_ones_their_addresses_name(aws, platform):
    nats = aws("ec2").describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [platform.VPCId]}])["NatGateways"]
    named = {a["NetworkInterfaceId"]: n for n in nats for a in n["NatGatewayAddresses"]}
    enis = {e["NetworkInterfaceId"]: e for e in _enis(aws, platform.VPCId) if e["InterfaceType"] == "nat_gateway"}
    assert set(enis) == set(named) and len(enis) == 3
    for eni_id, eni in enis.items():
        assert eni["Groups"] == [] and eni["SubnetId"] == named[eni_id]["SubnetId"]
        assert eni["Description"] == f"Interface for NAT Gateway {named[eni_id]['NatGatewayId']}"


def test_interfaces_are_stable_between_reads_and_filterable_by_group(aws, platform):
    first = {e["NetworkInterfaceId"]: e["PrivateIpAddress"] for e in _enis(aws, platform.VPCId)}
    second = {e["NetworkInterfaceId"]: e["PrivateIpAddress"] for e in _enis(aws, platform.VPCId)}
    assert first == second
    db_group = _group_ids(_by(_enis(aws, platform.VPCId), "amazon-rds")[0])[0]
    found = aws("ec2").describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [db_group]}])
    assert {e.get("RequesterId") for e in found["NetworkInterfaces"]} == {"amazon-rds"}


def test_group_changes_reach_the_interfaces(aws, platform):
    vpc = platform.VPCId
    db_new, lb_new = _sg(aws, vpc, "eni-test-db"), _sg(aws, vpc, "eni-test-lb")
    aws("rds").modify_db_cluster(
        DBClusterIdentifier=platform.AuroraClusterIdentifier, VpcSecurityGroupIds=[db_new], ApplyImmediately=True
    )
    aws("elbv2").set_security_groups(LoadBalancerArn=platform.LoadBalancerArn, SecurityGroups=[lb_new])
    enis = _enis(aws, vpc)
    assert {tuple(_group_ids(e)) for e in _by(enis, "amazon-rds")} == {(db_new,)}
    assert {tuple(_group_ids(e)) for e in _by(enis, "amazon-elb")} == {(lb_new,)}


def test_service_moved_to_another_group_gets_task_interfaces_with_it(aws, platform):
    ecs = aws("ecs")
    service = ecs.describe_services(cluster=platform.ECSClusterName, services=[platform.ECSServiceName])["services"][0]
    moved = _sg(aws, platform.VPCId, "eni-test-app")
    network = service["networkConfiguration"]
    network["awsvpcConfiguration"]["securityGroups"] = [moved]
    ecs.update_service(cluster=platform.ECSClusterName, service=platform.ECSServiceName, networkConfiguration=network)
    deadline = time.monotonic() + 20
    while True:
        tasks = [e for e in _enis(aws, platform.VPCId) if str(e.get("Description", "")).startswith("arn:aws:ecs:")]
        if tasks and all(_group_ids(e) == [moved] for e in tasks):
            break
        assert time.monotonic() < deadline, [(e["NetworkInterfaceId"], _group_ids(e)) for e in tasks]
        time.sleep(0.2)


def test_an_instance_has_its_primary_interface_until_terminated(aws, platform):
    ec2 = aws("ec2")
    group = _sg(aws, platform.VPCId, "eni-test-instance")
    instance = ec2.run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=platform.PrivateSubnetIds[0], SecurityGroupIds=[group]
    )["Instances"][0]
    mine = [
        e for e in _enis(aws, platform.VPCId) if (e.get("Attachment") or {}).get("InstanceId") == instance["InstanceId"]
    ]
    assert len(mine) == 1
    assert _group_ids(mine[0]) == [group] and mine[0]["Attachment"]["DeviceIndex"] == 0
    assert mine[0]["SubnetId"] == platform.PrivateSubnetIds[0] and mine[0]["RequesterManaged"] is False
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    left = [
        e for e in _enis(aws, platform.VPCId) if (e.get("Attachment") or {}).get("InstanceId") == instance["InstanceId"]
    ]
    assert left == []
