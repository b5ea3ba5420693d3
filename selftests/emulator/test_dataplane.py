"""Self-tests of ``emulator/faithful/dataplane.py``: the ECS/ELBv2 data plane of the emulator.

Everything here is real: the emulator process, boto3 API calls to it, CloudFormation stacks,
and HTTP requests to the load balancer, sent the way the suite's probes send them: to the
emulator's endpoint with ``Host: <load balancer DNS name>``. The only non-AWS calls are the
extension's test-only control routes under ``/_faithful/dataplane`` (list the responders,
make one stop answering), and plain TCP connects to 127.0.0.1 to prove a stopped
responder's socket is closed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from conformance.probes import https_get
from core.aws import AwsSession
from core.rehearsalimage import with_rehearsal_image
from core.selfsigned import import_self_signed
from core.spec import load_environment

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "template.yaml"
DEV_SPEC = REPO / "deploy" / "environments" / "dev.yaml"
CONTROL = "/_faithful/dataplane"
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")

# A cut-down platform: VPC, public + private subnets over three AZs, the ALB and the app
# security groups, an internet-facing ALB with an HTTP listener forwarding to an `ip`
# target group, and a Fargate service in the private subnets without public IPs.
STACK_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Description: faithful data-plane self-test stack
Parameters:
  EnvironmentName: {Type: String}
  VpcCidr: {Type: String}
  ContainerPort: {Type: Number, Default: 80}
  DesiredCount: {Type: Number, Default: 1}
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: !Ref VpcCidr}
  PublicSubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref VPC, CidrBlock: !Select [0, !Cidr [!Ref VpcCidr, 6, 8]],
                 AvailabilityZone: !Select [0, !GetAZs '']}
  PublicSubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref VPC, CidrBlock: !Select [1, !Cidr [!Ref VpcCidr, 6, 8]],
                 AvailabilityZone: !Select [1, !GetAZs '']}
  PrivateSubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref VPC, CidrBlock: !Select [3, !Cidr [!Ref VpcCidr, 6, 8]],
                 AvailabilityZone: !Select [0, !GetAZs '']}
  PrivateSubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref VPC, CidrBlock: !Select [4, !Cidr [!Ref VpcCidr, 6, 8]],
                 AvailabilityZone: !Select [1, !GetAZs '']}
  PrivateSubnetC:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref VPC, CidrBlock: !Select [5, !Cidr [!Ref VpcCidr, 6, 8]],
                 AvailabilityZone: !Select [2, !GetAZs '']}
  AlbSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: load balancer
      VpcId: !Ref VPC
      SecurityGroupIngress: [{IpProtocol: tcp, FromPort: 80, ToPort: 80, CidrIp: 0.0.0.0/0}]
  AppSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: application
      VpcId: !Ref VPC
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: !Ref ContainerPort, ToPort: !Ref ContainerPort,
           SourceSecurityGroupId: !Ref AlbSecurityGroup}
  LoadBalancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Name: !Sub 'dp-${EnvironmentName}-lb'
      Scheme: internet-facing
      Subnets: [!Ref PublicSubnetA, !Ref PublicSubnetB]
      SecurityGroups: [!Ref AlbSecurityGroup]
  TargetGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Name: !Sub 'dp-${EnvironmentName}-tg'
      TargetType: ip
      Protocol: HTTP
      Port: !Ref ContainerPort
      VpcId: !Ref VPC
      HealthCheckPath: /health
      Matcher: {HttpCode: '200-399'}
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LoadBalancer
      Port: 80
      Protocol: HTTP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref TargetGroup}]
  Cluster:
    Type: AWS::ECS::Cluster
    Properties: {ClusterName: !Sub 'dp-${EnvironmentName}-cluster'}
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Sub 'dp-${EnvironmentName}-task'
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: '256'
      Memory: '512'
      ContainerDefinitions:
        - Name: app
          Image: public.ecr.aws/nginx/nginx:stable-alpine
          Essential: true
          PortMappings: [{ContainerPort: !Ref ContainerPort, Protocol: tcp}]
  Service:
    Type: AWS::ECS::Service
    DependsOn: Listener
    Properties:
      ServiceName: !Sub 'dp-${EnvironmentName}-service'
      Cluster: !Ref Cluster
      TaskDefinition: !Ref TaskDefinition
      LaunchType: FARGATE
      DesiredCount: !Ref DesiredCount
      NetworkConfiguration:
        AwsvpcConfiguration:
          AssignPublicIp: DISABLED
          Subnets: [!Ref PrivateSubnetA, !Ref PrivateSubnetB, !Ref PrivateSubnetC]
          SecurityGroups: [!Ref AppSecurityGroup]
      LoadBalancers:
        - {ContainerName: app, ContainerPort: !Ref ContainerPort, TargetGroupArn: !Ref TargetGroup}
Outputs:
  LoadBalancerDNS: {Value: !GetAtt LoadBalancer.DNSName}
  TargetGroupArn: {Value: !Ref TargetGroup}
  ClusterName: {Value: !Ref Cluster}
  ServiceName: {Value: !GetAtt Service.Name}
  VPCId: {Value: !Ref VPC}
  PrivateSubnetIds: {Value: !Join [',', [!Ref PrivateSubnetA, !Ref PrivateSubnetB, !Ref PrivateSubnetC]]}
  AppSecurityGroupId: {Value: !Ref AppSecurityGroup}
"""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _via_lb(emulator, dns_name: str, path: str = "/", method: str = "GET") -> requests.Response:
    """An HTTP request to the load balancer: the emulator's endpoint, Host = its DNS name."""
    return requests.request(method, emulator.endpoint_url.rstrip("/") + path, headers={"Host": dns_name}, timeout=15)


def _dataplane(emulator) -> dict:
    response = requests.get(emulator.endpoint_url.rstrip("/") + CONTROL, timeout=10)
    response.raise_for_status()
    return response.json()


def _responders_of(emulator, cluster_arn: str) -> list[dict]:
    return [
        r
        for r in _dataplane(emulator)["responders"]
        if r["taskArn"].startswith(cluster_arn.replace(":cluster/", ":task/") + "/")
    ]


def _control(emulator, task_arn: str, verb: str) -> dict:
    task_id = task_arn.rsplit("/", 1)[-1]
    response = requests.post(f"{emulator.endpoint_url.rstrip('/')}{CONTROL}/responders/{task_id}/{verb}", timeout=10)
    response.raise_for_status()
    return response.json()


def _refuses(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port any more."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _network(ec2, cidr: str) -> dict:
    """A VPC with one subnet per AZ and a security group."""
    net = ipaddress.ip_network(cidr)
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=str(sub), AvailabilityZone=az)["Subnet"]
        for sub, az in zip(net.subnets(new_prefix=24), AZS, strict=False)
    ]
    sg = ec2.create_security_group(GroupName=_unique("app"), Description="app", VpcId=vpc_id)["GroupId"]
    return {"vpc": vpc_id, "subnets": subnets, "sg": sg}


def _load_balancer(elbv2, net: dict, name: str, **tg_args) -> dict:
    lb = elbv2.create_load_balancer(
        Name=f"{name}-lb",
        Subnets=[s["SubnetId"] for s in net["subnets"]],
        SecurityGroups=[net["sg"]],
        Scheme="internet-facing",
    )["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name=f"{name}-tg", Protocol="HTTP", Port=80, VpcId=net["vpc"], TargetType="ip", **tg_args
    )["TargetGroups"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    return {"dns": lb["DNSName"], "tg": tg["TargetGroupArn"], "lb": lb["LoadBalancerArn"]}


def _service(ecs, net: dict, name: str, count: int, tg_arn: str | None = None, public_ip: str = "DISABLED") -> dict:
    cluster_arn = ecs.create_cluster(clusterName=f"{name}-cluster")["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family=f"{name}-task",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": "public.ecr.aws/nginx/nginx:stable-alpine",
                "essential": True,
                "portMappings": [{"containerPort": 80}],
            }
        ],
    )
    service = ecs.create_service(
        cluster=cluster_arn,
        serviceName=f"{name}-service",
        taskDefinition=f"{name}-task",
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [s["SubnetId"] for s in net["subnets"]],
                "securityGroups": [net["sg"]],
                "assignPublicIp": public_ip,
            }
        },
        loadBalancers=([{"targetGroupArn": tg_arn, "containerName": "app", "containerPort": 80}] if tg_arn else []),
    )["service"]
    return {"cluster": cluster_arn, "service": service["serviceName"]}


def _tasks(ecs, cluster: str, service: str) -> list[dict]:
    arns = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def _eni_details(task: dict) -> dict:
    (attachment,) = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"]
    return {d["name"]: d["value"] for d in attachment["details"]} | {"status": attachment["status"]}


def _health(elbv2, tg_arn: str) -> dict[tuple[str, int], dict]:
    return {
        (d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]
        for d in elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    }


def _running_count(ecs, cluster: str, service: str) -> int:
    return ecs.describe_services(cluster=cluster, services=[service])["services"][0]["runningCount"]


def _stack_outputs(cfn, stack: str) -> dict:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _stack_failures(cfn, stack: str) -> list[str]:
    return [
        f"{e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason', '')}"
        for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if e["ResourceStatus"].endswith("_FAILED")
    ]


def _wait_stack(cfn, stack: str, goal: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except cfn.exceptions.ClientError as exc:
            if goal == "DELETE_COMPLETE" and "does not exist" in str(exc):
                return goal
            raise
        if status == goal or status.endswith(("_FAILED", "ROLLBACK_COMPLETE")) or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


# ---------------------------------------------------------------------------
# ENIs
# ---------------------------------------------------------------------------


def test_dataplane_fargate_tasks_get_an_eni_in_their_subnets_round_robin(aws, emulator):
    ec2, ecs = aws("ec2"), aws("ecs")
    net = _network(ec2, "10.77.0.0/16")
    svc = _service(ecs, net, _unique("eni"), count=3)

    tasks = _tasks(ecs, svc["cluster"], svc["service"])
    assert len(tasks) == 3
    by_subnet = {s["SubnetId"]: s for s in net["subnets"]}
    seen_subnets = set()
    for task in tasks:
        assert task["lastStatus"] == "RUNNING"
        assert task["healthStatus"] == "UNKNOWN"  # no container health check in the definition
        eni = _eni_details(task)
        assert eni["status"] == "ATTACHED"
        subnet = by_subnet[eni["subnetId"]]
        assert ipaddress.ip_address(eni["privateIPv4Address"]) in ipaddress.ip_network(subnet["CidrBlock"])
        assert task["availabilityZone"] == subnet["AvailabilityZone"]
        seen_subnets.add(eni["subnetId"])
        described = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["networkInterfaceId"]])[
            "NetworkInterfaces"
        ][0]
        assert described["PrivateIpAddress"] == eni["privateIPv4Address"]
        assert described["SubnetId"] == eni["subnetId"]
        assert described["VpcId"] == net["vpc"]
        assert described["Status"] == "in-use"
        assert [g["GroupId"] for g in described["Groups"]] == [net["sg"]]
        assert "Association" not in described, "AssignPublicIp DISABLED must give no public IP"
    assert seen_subnets == set(by_subnet), "three tasks must land in three subnets / AZs"

    # The security group links to exactly the running tasks' interfaces.
    linked = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [net["sg"]]}])["NetworkInterfaces"]
    assert sorted(e["NetworkInterfaceId"] for e in linked) == sorted(
        _eni_details(t)["networkInterfaceId"] for t in tasks
    )
    # runningCount equals the tasks that have a responder.
    assert _running_count(ecs, svc["cluster"], svc["service"]) == 3
    assert len(_responders_of(emulator, svc["cluster"])) == 3

    ecs.update_service(cluster=svc["cluster"], service=svc["service"], desiredCount=1)
    left = _tasks(ecs, svc["cluster"], svc["service"])
    assert len(left) == 1
    assert (
        len(ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [net["sg"]]}])["NetworkInterfaces"])
        == 1
    )
    stopped = ecs.describe_tasks(
        cluster=svc["cluster"], tasks=[t["taskArn"] for t in tasks if t["taskArn"] != left[0]["taskArn"]]
    )
    for task in stopped["tasks"]:
        assert task["lastStatus"] == "STOPPED"
        assert _eni_details(task)["status"] == "DELETED"
        with pytest.raises(ec2.exceptions.ClientError, match=r"InvalidNetworkInterfaceID\.NotFound"):
            ec2.describe_network_interfaces(NetworkInterfaceIds=[_eni_details(task)["networkInterfaceId"]])
    ecs.delete_service(cluster=svc["cluster"], service=svc["service"], force=True)


def test_dataplane_public_ip_only_when_assign_public_ip_enabled(aws, emulator):
    ec2, ecs = aws("ec2"), aws("ecs")
    net = _network(ec2, "10.78.0.0/16")
    svc = _service(ecs, net, _unique("pub"), count=1, public_ip="ENABLED")
    (task,) = _tasks(ecs, svc["cluster"], svc["service"])
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[_eni_details(task)["networkInterfaceId"]])[
        "NetworkInterfaces"
    ][0]
    assert eni["Association"]["PublicIp"]
    ecs.delete_service(cluster=svc["cluster"], service=svc["service"], force=True)


def test_dataplane_describe_network_interfaces_filters_like_ec2(aws, emulator):
    ec2, ecs = aws("ec2"), aws("ecs")
    net = _network(ec2, "10.79.0.0/16")
    svc = _service(ecs, net, _unique("flt"), count=2)
    enis = {_eni_details(t)["networkInterfaceId"]: _eni_details(t) for t in _tasks(ecs, svc["cluster"], svc["service"])}
    one_id, one = next(iter(enis.items()))

    def ids(*filters):
        found = ec2.describe_network_interfaces(Filters=list(filters))["NetworkInterfaces"]
        return {e["NetworkInterfaceId"] for e in found}

    assert ids({"Name": "vpc-id", "Values": [net["vpc"]]}) == set(enis)
    assert ids({"Name": "subnet-id", "Values": [one["subnetId"]]}) == {one_id}
    assert ids({"Name": "private-ip-address", "Values": [one["privateIPv4Address"]]}) == {one_id}
    assert ids({"Name": "group-id", "Values": [net["sg"]]}, {"Name": "status", "Values": ["in-use"]}) == set(enis)
    assert ids({"Name": "group-id", "Values": ["sg-00000000000000000"]}) == set()
    with pytest.raises(ec2.exceptions.ClientError, match="InvalidParameterValue"):
        ec2.describe_network_interfaces(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    with pytest.raises(ec2.exceptions.ClientError, match=r"InvalidNetworkInterfaceID\.NotFound"):
        ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-0123456789abcdef0"])
    ecs.delete_service(cluster=svc["cluster"], service=svc["service"], force=True)


def test_dataplane_run_task_with_container_health_check(aws, emulator):
    """RunTask (no service) gets the same data plane; a container health check drives healthStatus."""
    ec2, ecs = aws("ec2"), aws("ecs")
    net = _network(ec2, "10.84.0.0/16")
    name = _unique("run")
    cluster = ecs.create_cluster(clusterName=f"{name}-cluster")["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family=f"{name}-task",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": "public.ecr.aws/nginx/nginx:stable-alpine",
                "essential": True,
                "portMappings": [{"containerPort": 8080}],
                "healthCheck": {"command": ["CMD-SHELL", "wget -qO- http://localhost:8080/ || exit 1"]},
            }
        ],
    )
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=f"{name}-task",
        launchType="FARGATE",
        count=2,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [s["SubnetId"] for s in net["subnets"][:2]],
                "securityGroups": [net["sg"]],
            }
        },
    )["tasks"]
    assert len(started) == 2
    # The RunTask answer itself already carries the ENI, and the two tasks use both subnets.
    assert {_eni_details(t)["subnetId"] for t in started} == {s["SubnetId"] for s in net["subnets"][:2]}
    arns = [t["taskArn"] for t in started]
    assert {t["healthStatus"] for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]} == {"HEALTHY"}
    assert {tuple(r["ports"]) for r in _responders_of(emulator, cluster)} == {(8080,)}

    _control(emulator, arns[0], "stop")
    health = {t["taskArn"]: t["healthStatus"] for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]}
    assert health == {arns[0]: "UNHEALTHY", arns[1]: "HEALTHY"}

    port = next(r["loopbackPort"] for r in _responders_of(emulator, cluster) if r["taskArn"] == arns[1])
    ecs.stop_task(cluster=cluster, task=arns[1])
    assert _refuses(port)
    (stopped,) = ecs.describe_tasks(cluster=cluster, tasks=[arns[1]])["tasks"]
    assert _eni_details(stopped)["status"] == "DELETED"
    ecs.stop_task(cluster=cluster, task=arns[0])
    assert _responders_of(emulator, cluster) == []
    assert (
        ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [net["vpc"]]}])["NetworkInterfaces"] == []
    )


# ---------------------------------------------------------------------------
# targets, health, load balancer
# ---------------------------------------------------------------------------


def test_dataplane_load_balancer_reaches_the_tasks_and_follows_the_service(aws, emulator):
    ec2, ecs, elbv2 = aws("ec2"), aws("ecs"), aws("elbv2")
    net = _network(ec2, "10.80.0.0/16")
    name = _unique("lbf")
    lb = _load_balancer(elbv2, net, name, HealthCheckPath="/health")
    svc = _service(ecs, net, name, count=3, tg_arn=lb["tg"])

    tasks = _tasks(ecs, svc["cluster"], svc["service"])
    addresses = {(_eni_details(t)["privateIPv4Address"], 80) for t in tasks}
    health = _health(elbv2, lb["tg"])
    assert set(health) == addresses, "the service's tasks are the target group's targets"
    assert {h["State"] for h in health.values()} == {"healthy"}

    # Through the load balancer, round robin reaches every task.
    bodies = [_via_lb(emulator, lb["dns"], f"/orders/{i}") for i in range(6)]
    assert {r.status_code for r in bodies} == {200}
    answered = {
        t["taskArn"].rsplit("/", 1)[-1] for t in tasks if any(t["taskArn"].rsplit("/", 1)[-1] in r.text for r in bodies)
    }
    assert len(answered) == 3, [r.text for r in bodies]
    assert _via_lb(emulator, lb["dns"], "/", method="HEAD").status_code == 200
    # The path form of the same load balancer.
    name_form = requests.get(f"{emulator.endpoint_url.rstrip('/')}/_alb/{name}-lb/x", timeout=15)
    assert name_form.status_code == 200

    ports = [r["loopbackPort"] for r in _responders_of(emulator, svc["cluster"])]
    ecs.update_service(cluster=svc["cluster"], service=svc["service"], desiredCount=0)
    assert _via_lb(emulator, lb["dns"]).status_code == 503
    assert _health(elbv2, lb["tg"]) == {}
    assert _running_count(ecs, svc["cluster"], svc["service"]) == 0
    assert _responders_of(emulator, svc["cluster"]) == []
    assert all(_refuses(p) for p in ports), "a stopped task's responder must close its socket"

    ecs.update_service(cluster=svc["cluster"], service=svc["service"], desiredCount=2)
    assert _via_lb(emulator, lb["dns"]).status_code == 200
    assert len(_health(elbv2, lb["tg"])) == 2
    assert _running_count(ecs, svc["cluster"], svc["service"]) == len(_responders_of(emulator, svc["cluster"])) == 2

    # A new task definition revision replaces every task (and every responder).
    before = {t["taskArn"] for t in _tasks(ecs, svc["cluster"], svc["service"])}
    ecs.register_task_definition(
        family=f"{name}-task",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {
                "name": "app",
                "image": "public.ecr.aws/nginx/nginx:stable-alpine",
                "essential": True,
                "portMappings": [{"containerPort": 80}],
            }
        ],
    )
    ecs.update_service(cluster=svc["cluster"], service=svc["service"], taskDefinition=f"{name}-task:2")
    after = _tasks(ecs, svc["cluster"], svc["service"])
    assert len(after) == 2
    assert not before & {t["taskArn"] for t in after}
    assert set(_health(elbv2, lb["tg"])) == {(_eni_details(t)["privateIPv4Address"], 80) for t in after}
    assert {r["taskArn"] for r in _responders_of(emulator, svc["cluster"])} == {t["taskArn"] for t in after}
    response = _via_lb(emulator, lb["dns"])
    assert response.status_code == 200
    assert any(t["taskArn"].rsplit("/", 1)[-1] in response.text for t in after)

    ports = [r["loopbackPort"] for r in _responders_of(emulator, svc["cluster"])]
    ecs.delete_service(cluster=svc["cluster"], service=svc["service"], force=True)
    assert _health(elbv2, lb["tg"]) == {}
    assert _via_lb(emulator, lb["dns"]).status_code == 503
    assert _responders_of(emulator, svc["cluster"]) == []
    assert all(_refuses(p) for p in ports)


def test_dataplane_target_health_is_a_real_health_check(aws, emulator):
    ec2, ecs, elbv2 = aws("ec2"), aws("ecs"), aws("elbv2")
    net = _network(ec2, "10.81.0.0/16")
    name = _unique("hc")
    lb = _load_balancer(elbv2, net, name, HealthCheckPath="/healthz")
    svc = _service(ecs, net, name, count=2, tg_arn=lb["tg"])
    first, second = _tasks(ecs, svc["cluster"], svc["service"])
    first_target = (_eni_details(first)["privateIPv4Address"], 80)

    # The first task stops answering (a hung container): its target turns unhealthy and the
    # load balancer sends traffic only to the healthy one.
    _control(emulator, first["taskArn"], "stop")
    health = _health(elbv2, lb["tg"])
    assert health[first_target]["State"] == "unhealthy"
    assert health[first_target]["Reason"] == "Target.FailedHealthChecks"
    assert [h["State"] for k, h in health.items() if k != first_target] == ["healthy"]
    answers = [_via_lb(emulator, lb["dns"]) for _ in range(4)]
    assert {r.status_code for r in answers} == {200}
    assert all(second["taskArn"].rsplit("/", 1)[-1] in r.text for r in answers)

    # Both dead: targets exist but nothing answers -> 502 (the ALB fails open and gets refused).
    _control(emulator, second["taskArn"], "stop")
    assert {h["State"] for h in _health(elbv2, lb["tg"]).values()} == {"unhealthy"}
    assert _via_lb(emulator, lb["dns"]).status_code == 502

    _control(emulator, first["taskArn"], "start")
    _control(emulator, second["taskArn"], "start")
    assert {h["State"] for h in _health(elbv2, lb["tg"]).values()} == {"healthy"}
    assert _via_lb(emulator, lb["dns"]).status_code == 200

    # The check really asks the responder: a matcher it cannot meet makes every target unhealthy.
    elbv2.modify_target_group(TargetGroupArn=lb["tg"], Matcher={"HttpCode": "202"})
    health = _health(elbv2, lb["tg"])
    assert {h["State"] for h in health.values()} == {"unhealthy"}
    assert {h["Reason"] for h in health.values()} == {"Target.ResponseCodeMismatch"}
    elbv2.modify_target_group(TargetGroupArn=lb["tg"], Matcher={"HttpCode": "200-399"})

    # A private address registered by hand, with no task behind it: unhealthy, and never dialled.
    elbv2.register_targets(TargetGroupArn=lb["tg"], Targets=[{"Id": "10.81.9.9", "Port": 80}])
    assert _health(elbv2, lb["tg"])[("10.81.9.9", 80)]["State"] == "unhealthy"
    ecs.delete_service(cluster=svc["cluster"], service=svc["service"], force=True)
    assert list(_health(elbv2, lb["tg"])) == [("10.81.9.9", 80)], "only the service's own targets go"
    assert _via_lb(emulator, lb["dns"]).status_code == 502


def test_dataplane_listener_forwards_per_its_rules(aws, emulator):
    ec2, ecs, elbv2 = aws("ec2"), aws("ecs"), aws("elbv2")
    net = _network(ec2, "10.82.0.0/16")
    name = _unique("rul")
    lb = _load_balancer(elbv2, net, name)
    svc = _service(ecs, net, name, count=1, tg_arn=lb["tg"])
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["lb"])["Listeners"]
    elbv2.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/maintenance*"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "418",
                    "ContentType": "text/plain",
                    "MessageBody": "teapot",
                },
            }
        ],
    )
    assert _via_lb(emulator, lb["dns"], "/maintenance/now").status_code == 418
    assert _via_lb(emulator, lb["dns"], "/pay").status_code == 200

    # A listener whose default action goes to a target group without targets: 503.
    other = elbv2.create_target_group(Name=f"{name}-t2", Protocol="HTTP", Port=80, VpcId=net["vpc"], TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.modify_listener(
        ListenerArn=listener["ListenerArn"], DefaultActions=[{"Type": "forward", "TargetGroupArn": other}]
    )
    assert _via_lb(emulator, lb["dns"], "/pay").status_code == 503
    # The service's target group is no longer behind any listener: its targets are unused.
    assert {h["State"] for h in _health(elbv2, lb["tg"]).values()} == {"unused"}
    ecs.delete_service(cluster=svc["cluster"], service=svc["service"], force=True)


# ---------------------------------------------------------------------------
# CloudFormation: three environments at once, and nothing left behind
# ---------------------------------------------------------------------------


def test_dataplane_three_stacks_at_once_then_nothing_left(aws, emulator):
    cfn, ecs, ec2, elbv2 = aws("cloudformation"), aws("ecs"), aws("ec2"), aws("elbv2")
    run = uuid.uuid4().hex[:6]
    envs = {"dev": ("10.2.0.0/16", 1), "staging": ("10.1.0.0/16", 2), "prod": ("10.0.0.0/16", 3)}
    stacks = {env: f"dp-{env}-{run}" for env in envs}
    for env, (cidr, count) in envs.items():
        cfn.create_stack(
            StackName=stacks[env],
            TemplateBody=STACK_TEMPLATE,
            Parameters=[
                {"ParameterKey": "EnvironmentName", "ParameterValue": f"{env}{run}"},
                {"ParameterKey": "VpcCidr", "ParameterValue": cidr},
                {"ParameterKey": "DesiredCount", "ParameterValue": str(count)},
            ],
        )
    outputs = {}
    for env, stack in stacks.items():
        status = _wait_stack(cfn, stack, "CREATE_COMPLETE")
        assert status == "CREATE_COMPLETE", (stack, status, _stack_failures(cfn, stack))
        outputs[env] = _stack_outputs(cfn, stack)

    all_ports = []
    for env, (cidr, count) in envs.items():
        out = outputs[env]
        tasks = _tasks(ecs, out["ClusterName"], out["ServiceName"])
        assert len(tasks) == count == _running_count(ecs, out["ClusterName"], out["ServiceName"])
        private = set(out["PrivateSubnetIds"].split(","))
        for task in tasks:
            eni = _eni_details(task)
            assert eni["subnetId"] in private
            assert ipaddress.ip_address(eni["privateIPv4Address"]) in ipaddress.ip_network(cidr)
        assert len({_eni_details(t)["subnetId"] for t in tasks}) == count, "spread over the AZs"
        linked = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [out["AppSecurityGroupId"]]}])[
            "NetworkInterfaces"
        ]
        assert len(linked) == count
        health = _health(elbv2, out["TargetGroupArn"])
        assert set(health) == {(_eni_details(t)["privateIPv4Address"], 80) for t in tasks}
        assert {h["State"] for h in health.values()} == {"healthy"}
        response = _via_lb(emulator, out["LoadBalancerDNS"])
        assert response.status_code == 200
        assert any(t["taskArn"].rsplit("/", 1)[-1] in response.text for t in tasks), (
            f"{env}: the answer must come from one of {env}'s own tasks: {response.text}"
        )
        cluster_arn = tasks[0]["clusterArn"]
        all_ports += [r["loopbackPort"] for r in _responders_of(emulator, cluster_arn)]

    # Scaling one environment to zero leaves the others serving.
    staging = outputs["staging"]
    ecs.update_service(cluster=staging["ClusterName"], service=staging["ServiceName"], desiredCount=0)
    assert _via_lb(emulator, staging["LoadBalancerDNS"]).status_code == 503
    assert _via_lb(emulator, outputs["dev"]["LoadBalancerDNS"]).status_code == 200
    assert _via_lb(emulator, outputs["prod"]["LoadBalancerDNS"]).status_code == 200
    ecs.update_service(cluster=staging["ClusterName"], service=staging["ServiceName"], desiredCount=2)
    assert _via_lb(emulator, staging["LoadBalancerDNS"]).status_code == 200
    # A stack update that changes DesiredCount (a Number parameter) scales the service.
    dev = outputs["dev"]
    cfn.update_stack(
        StackName=stacks["dev"],
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "EnvironmentName", "UsePreviousValue": True},
            {"ParameterKey": "VpcCidr", "UsePreviousValue": True},
            {"ParameterKey": "DesiredCount", "ParameterValue": "2"},
        ],
    )
    assert _wait_stack(cfn, stacks["dev"], "UPDATE_COMPLETE") == "UPDATE_COMPLETE", _stack_failures(cfn, stacks["dev"])
    assert _running_count(ecs, dev["ClusterName"], dev["ServiceName"]) == 2
    assert len(_health(elbv2, dev["TargetGroupArn"])) == 2
    assert _via_lb(emulator, dev["LoadBalancerDNS"]).status_code == 200
    vpcs = [out["VPCId"] for out in outputs.values()]
    all_ports += [r["loopbackPort"] for r in _dataplane(emulator)["responders"] if r["vpcId"] in vpcs]

    for stack in stacks.values():
        cfn.delete_stack(StackName=stack)
    for stack in stacks.values():
        assert _wait_stack(cfn, stack, "DELETE_COMPLETE") == "DELETE_COMPLETE", _stack_failures(cfn, stack)

    state = _dataplane(emulator)
    mine = [r for r in state["responders"] if any(r["vpcId"] == v for v in vpcs)]
    assert mine == [], "a deleted stack leaves no responder"
    assert not [t for t in state["threads"] if any(r["thread"] == t for r in mine)], (
        "a deleted stack leaves no responder thread"
    )
    assert all(_refuses(p) for p in all_ports), "a deleted stack leaves no listening socket"
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": vpcs}])["NetworkInterfaces"] == []


def test_dataplane_reset_and_shutdown_leave_no_responder():
    """A private emulator: reset and process exit both end every responder."""
    launcher = pytest.importorskip("emulator.launcher")
    import boto3

    with launcher.Emulator() as emu:

        def client(service):
            return boto3.client(
                service,
                endpoint_url=emu.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )

        net = _network(client("ec2"), "10.83.0.0/16")
        _service(client("ecs"), net, _unique("rst"), count=2)
        ports = [r["loopbackPort"] for r in _dataplane(emu)["responders"]]
        assert len(ports) == 2
        assert not any(_refuses(p) for p in ports)
        emu.reset()
        assert _dataplane(emu) == {"responders": [], "threads": []}
        assert all(_refuses(p) for p in ports)

        net = _network(client("ec2"), "10.83.0.0/16")
        _service(client("ecs"), net, _unique("ext"), count=1)
        ports = [r["loopbackPort"] for r in _dataplane(emu)["responders"]]
        assert len(ports) == 1
    assert all(_refuses(p) for p in ports), "the emulator's exit ends its responders"


# ---------------------------------------------------------------------------
# the platform template
# ---------------------------------------------------------------------------


def _as_deployed(path: Path, endpoint_url: str) -> str:
    """The TemplateURL the deployer sends: the compact JSON in the artifacts bucket (deploy/artifacts.py)."""
    from core.aws import AwsSession
    from core.template import compact_json
    from deploy.artifacts import ArtifactsBucket

    session = AwsSession(region="us-east-1", endpoint_url=endpoint_url)
    return ArtifactsBucket(session, out=lambda _: None).upload_template(compact_json(path))


@pytest.mark.skipif(not TEMPLATE.exists(), reason="deploy/template.yaml not written yet")
def test_dataplane_platform_template_dev_answers_through_its_load_balancer(aws, emulator):
    cfn, ecs, elbv2 = aws("cloudformation"), aws("ecs"), aws("elbv2")
    spec = yaml.safe_load(DEV_SPEC.read_text())
    parameters = {k: str(v) for k, v in spec["parameters"].items()}
    parameters["EnvironmentSuffix"] = "dpself"  # keeps this stack apart from other dev stacks
    parameters["CertificateArn"] = import_self_signed(aws("acm"), "us-east-1")  # the HTTPS listener's
    # the task's image: the rehearsal image published into the emulator's ECR, as the deployer does
    session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    parameters["ContainerImage"] = with_rehearsal_image(load_environment("dev"), session).container_image
    stack = f"payments-dev-dpself-{uuid.uuid4().hex[:6]}"
    try:
        cfn.create_stack(
            StackName=stack,
            TemplateURL=_as_deployed(TEMPLATE, emulator.endpoint_url),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    except cfn.exceptions.ClientError as exc:
        pytest.fail(f"the emulator refused the platform template (not a data-plane gap): {exc}")
    try:
        status = _wait_stack(cfn, stack, "CREATE_COMPLETE", timeout=300)
        reason = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("StackStatusReason", "")
        assert status == "CREATE_COMPLETE", (
            f"{stack}: {status} ({reason or 'no reason given'}); failed resources: "
            f"{_stack_failures(cfn, stack) or 'none (an output or GetAtt failed: see the emulator log)'}"
        )
        out = _stack_outputs(cfn, stack)
        desired = int(parameters["DesiredCount"])
        tasks = _tasks(ecs, out["ECSClusterName"], out["ECSServiceName"])
        assert len(tasks) == desired
        private = set(out["PrivateSubnetIds"].split(","))
        assert {_eni_details(t)["subnetId"] for t in tasks} <= private
        health = _health(elbv2, out["TargetGroupArn"])
        assert len(health) == desired
        assert {h["State"] for h in health.values()} == {"healthy"}
        dns = out["LoadBalancerDNS"]
        redirect = requests.get(emulator.endpoint_url, headers={"Host": dns}, allow_redirects=False, timeout=15)
        assert (redirect.status_code, redirect.headers.get("Location")) == (301, f"https://{dns}:443/")
        over_tls = https_get(dns, via=emulator.endpoint_url, deadline=10)
        assert (over_tls.status, over_tls.tls_version) in ((200, "TLSv1.2"), (200, "TLSv1.3")), over_tls
        response = _via_lb(emulator, f"{dns}:443")  # the HTTPS listener's rules and action, without TLS
        assert response.status_code == 200, response.text
        assert any(t["taskArn"].rsplit("/", 1)[-1] in response.text for t in tasks)
    finally:
        cfn.delete_stack(StackName=stack)
        _wait_stack(cfn, stack, "DELETE_COMPLETE", timeout=300)
