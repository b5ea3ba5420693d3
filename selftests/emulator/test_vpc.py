"""emulator/faithful/vpc.py: Elastic IPs, NAT gateways, VPC CidrBlock, flow logs, SG rules."""

from __future__ import annotations

import ipaddress

import pytest

from selftests.emulator.platform import deploy_platform


@pytest.fixture
def platform(emulator):
    emulator.reset()
    return deploy_platform(emulator.endpoint_url)


def test_vpc_cidr_block_attribute_reaches_the_outputs(platform):
    assert platform.VpcCidr == "10.2.0.0/16"


def test_nat_gateways_report_their_addresses(platform, aws):
    ec2 = aws("ec2")
    nats = ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [platform.VPCId]}])["NatGateways"]
    assert len(nats) == 3
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=platform.PublicSubnetIds)["Subnets"]}
    addresses = {a["AllocationId"]: a for a in ec2.describe_addresses()["Addresses"]}
    for nat in nats:
        assert nat["State"] == "available"
        assert nat["SubnetId"] in platform.PublicSubnetIds
        (address,) = nat["NatGatewayAddresses"]
        # the emulator's two documentation pools (vpc.py), the second once a session has used the first
        public = ipaddress.ip_address(address["PublicIp"])
        assert any(public in ipaddress.ip_network(pool) for pool in ("203.0.113.0/24", "198.51.100.0/24")), public
        assert ipaddress.ip_address(address["PrivateIp"]) in ipaddress.ip_network(subnets[nat["SubnetId"]]["CidrBlock"])
        eip = addresses[address["AllocationId"]]
        assert eip["PublicIp"] == address["PublicIp"]
        assert eip["NetworkInterfaceId"] == address["NetworkInterfaceId"]
        assert eip["PrivateIpAddress"] == address["PrivateIp"]


def test_private_routes_use_the_nat_of_their_az_and_blackhole_when_it_is_deleted(platform, aws):
    ec2 = aws("ec2")
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [platform.VPCId]}])["RouteTables"]
    nat_routes = [r for t in tables for r in t["Routes"] if r.get("NatGatewayId")]
    assert len(nat_routes) == 3
    assert {r["State"] for r in nat_routes} == {"active"}
    victim = nat_routes[0]["NatGatewayId"]
    ec2.delete_nat_gateway(NatGatewayId=victim)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [platform.VPCId]}])["RouteTables"]
    states = {r["NatGatewayId"]: r["State"] for t in tables for r in t["Routes"] if r.get("NatGatewayId")}
    assert states[victim] == "blackhole"
    assert sorted(states.values()) == ["active", "active", "blackhole"]


def test_flow_log_is_created_reported_and_deletable(platform, aws):
    ec2 = aws("ec2")
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [platform.VPCId]}])["FlowLogs"]
    assert len(flows) == 1
    flow = flows[0]
    assert flow["FlowLogStatus"] == "ACTIVE" and flow["DeliverLogsStatus"] == "SUCCESS"
    assert flow["TrafficType"] == "ALL" and flow["LogDestinationType"] == "cloud-watch-logs"
    assert flow["LogGroupName"] == "payments-dev-ext-flow-logs"
    assert flow["MaxAggregationInterval"] == 60
    ec2.delete_flow_logs(FlowLogIds=[flow["FlowLogId"]])
    assert ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [platform.VPCId]}])["FlowLogs"] == []


def test_standalone_egress_rules_land_on_their_groups(platform, aws):
    groups = {
        g["GroupName"]: g
        for g in aws("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [platform.VPCId]}])[
            "SecurityGroups"
        ]
    }
    app, db, alb = (
        groups["payments-dev-ext-app-sg"],
        groups["payments-dev-ext-db-sg"],
        groups["payments-dev-ext-alb-sg"],
    )
    to_db = [p for p in app["IpPermissionsEgress"] if p.get("FromPort") == 3306]
    assert to_db and to_db[0]["UserIdGroupPairs"][0]["GroupId"] == db["GroupId"]
    to_app = [p for p in alb["IpPermissionsEgress"] if p.get("FromPort") == 80]
    assert to_app and to_app[0]["UserIdGroupPairs"][0]["GroupId"] == app["GroupId"]
    # as on AWS: a standalone egress rule does not remove the group's default allow-all egress
    assert any(p["IpProtocol"] == "-1" for p in alb["IpPermissionsEgress"])


def test_stack_delete_removes_nat_gateways_addresses_and_flow_logs(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    cfn, ec2 = aws("cloudformation"), aws("ec2")
    cfn.delete_stack(StackName="payments-dev-ext")
    waiter = cfn.get_waiter("stack_delete_complete")
    waiter.wait(StackName="payments-dev-ext", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [outputs.VPCId]}])["NatGateways"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert ec2.describe_flow_logs()["FlowLogs"] == []


def test_load_balancer_reports_each_subnet_in_its_own_zone(platform, aws):
    """emulator/faithful/lbzones.py: the ALB spans the public subnets' three AZs."""
    (lb,) = aws("elbv2").describe_load_balancers(LoadBalancerArns=[platform.LoadBalancerArn])["LoadBalancers"]
    subnets = {
        s["SubnetId"]: s["AvailabilityZone"]
        for s in aws("ec2").describe_subnets(SubnetIds=platform.PublicSubnetIds)["Subnets"]
    }
    zones = {z["SubnetId"]: z["ZoneName"] for z in lb["AvailabilityZones"]}
    assert zones == subnets
    assert len(set(zones.values())) == 3


def test_task_definition_keeps_container_secrets(platform, aws):
    """emulator/faithful/taskdefs.py: the container's secrets keep name and valueFrom."""
    ecs = aws("ecs")
    (service,) = ecs.describe_services(cluster=platform.ECSClusterName, services=[platform.ECSServiceName])["services"]
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    secrets = td["containerDefinitions"][0]["secrets"]
    assert secrets and all(set(s) == {"name", "valueFrom"} for s in secrets), secrets
    assert all(s["valueFrom"].startswith(platform.DBSecretArn) for s in secrets)
