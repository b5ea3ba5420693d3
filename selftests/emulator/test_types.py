"""emulator/faithful/types.py: properties reach providers with their schema's type; a failed
ECS service create is rolled back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from emulator.faithful.types import coerce

NETWORK = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
    "Subnet": {
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "VpcId": {"Ref": "Vpc"},
            "CidrBlock": "10.9.1.0/24",
            "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        },
    },
    "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "t", "VpcId": {"Ref": "Vpc"}}},
}


def _template(name: str, own_cluster: bool = True) -> str:
    doc: dict[str, Any] = {
        "Parameters": {p: {"Type": "Number"} for p in ("DesiredCount", "TaskCpu", "ContainerPort", "Retention")},
        "Resources": {
            **NETWORK,
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": name}},
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": f"/{name}", "RetentionInDays": {"Ref": "Retention"}},
            },
            "Tg": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Name": f"{name}-tg",
                    "Port": {"Ref": "ContainerPort"},
                    "Protocol": "HTTP",
                    "TargetType": "ip",
                    "VpcId": {"Ref": "Vpc"},
                    "HealthCheckIntervalSeconds": "15",
                },
            },
            "Td": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": f"{name}-task",
                    "RequiresCompatibilities": ["FARGATE"],
                    "NetworkMode": "awsvpc",
                    "Cpu": {"Ref": "TaskCpu"},
                    "Memory": 512,
                    "ContainerDefinitions": [
                        {
                            "Name": "app",
                            "Image": "nginx",
                            "Essential": True,
                            "PortMappings": [{"ContainerPort": {"Ref": "ContainerPort"}}],
                        }
                    ],
                },
            },
            "Svc": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "ServiceName": f"{name}-svc",
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "Td"},
                    "LaunchType": "FARGATE",
                    "DesiredCount": {"Ref": "DesiredCount"},
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {"Subnets": [{"Ref": "Subnet"}], "SecurityGroups": [{"Ref": "Sg"}]}
                    },
                },
            },
        },
    }
    if not own_cluster:  # the cluster outlives the stack, so its services can be described after a rollback
        del doc["Resources"]["Cluster"]
        doc["Resources"]["Svc"]["Properties"]["Cluster"] = name
    return json.dumps(doc)


def _deploy(cfn, stack: str, body: str, **params: str) -> dict:
    cfn.create_stack(
        StackName=stack,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not st["StackStatus"].endswith("IN_PROGRESS"):
            return st
        time.sleep(0.2)
    pytest.fail(f"stack {stack} still in progress")


def test_number_parameters_reach_providers_as_integers(emulator, aws):
    emulator.reset()
    st = _deploy(
        aws("cloudformation"),
        "types-ok",
        _template("types-ok"),
        DesiredCount="2",
        TaskCpu="256",
        ContainerPort="8080",
        Retention="7",
    )
    assert st["StackStatus"] == "CREATE_COMPLETE", st.get("StackStatusReason")
    ecs = aws("ecs")
    (svc,) = ecs.describe_services(cluster="types-ok", services=["types-ok-svc"])["services"]
    assert svc["desiredCount"] == 2 and svc["runningCount"] == 2
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    # task-level cpu / memory are strings in ECS, whether the template gave a Ref or a literal
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert td["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8080
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix="/types-ok")["logGroups"]
    assert group["retentionInDays"] == 7
    (tg,) = aws("elbv2").describe_target_groups(Names=["types-ok-tg"])["TargetGroups"]
    assert tg["Port"] == 8080 and tg["HealthCheckIntervalSeconds"] == 15


def test_failed_service_create_is_rolled_back_and_can_be_retried(emulator, aws):
    emulator.reset()
    cfn, ecs = aws("cloudformation"), aws("ecs")
    ecs.create_cluster(clusterName="types-bad")
    # 1.5 is a valid Number parameter but not an integer: the ECS provider must fail the create
    st = _deploy(
        cfn,
        "types-bad",
        _template("types-bad", own_cluster=False),
        DesiredCount="1.5",
        TaskCpu="256",
        ContainerPort="80",
        Retention="7",
    )
    assert st["StackStatus"] == "ROLLBACK_COMPLETE"
    services = ecs.describe_services(cluster="types-bad", services=["types-bad-svc"])["services"]
    assert all(s["status"] != "ACTIVE" for s in services), services
    cfn.delete_stack(StackName="types-bad")
    cfn.get_waiter("stack_delete_complete").wait(StackName="types-bad", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    st = _deploy(
        cfn,
        "types-bad",
        _template("types-bad", own_cluster=False),
        DesiredCount="1",
        TaskCpu="256",
        ContainerPort="80",
        Retention="7",
    )
    assert st["StackStatus"] == "CREATE_COMPLETE", st.get("StackStatusReason")
    (svc,) = ecs.describe_services(cluster="types-bad", services=["types-bad-svc"])["services"]
    assert (svc["status"], svc["desiredCount"]) == ("ACTIVE", 1)


def test_coerce_follows_the_schema_only():
    props = {
        "DesiredCount": "3",
        "ServiceName": "42",
        "LoadBalancers": [{"ContainerPort": "80", "ContainerName": "7"}],
        "DeploymentConfiguration": {"MaximumPercent": "200", "DeploymentCircuitBreaker": {"Enable": "true"}},
    }
    out = coerce("AWS::ECS::Service", props)
    assert out["DesiredCount"] == 3 and out["ServiceName"] == "42"
    assert out["LoadBalancers"] == [{"ContainerPort": 80, "ContainerName": "7"}]
    assert out["DeploymentConfiguration"]["MaximumPercent"] == 200
    assert props["DesiredCount"] == "3"  # the caller's copy is untouched
    assert coerce("AWS::ECS::Service", {"DesiredCount": "1.5"})["DesiredCount"] == "1.5"  # no guessing
    assert coerce("AWS::ECS::TaskDefinition", {"Cpu": 256, "Memory": "512"}) == {"Cpu": "256", "Memory": "512"}
    assert coerce("AWS::CloudWatch::Alarm", {"Threshold": "2.5", "Period": "60"}) == {"Threshold": 2.5, "Period": 60}
    assert coerce("AWS::RDS::DBInstance", {"Port": 3306, "PromotionTier": "1"}) == {"Port": "3306", "PromotionTier": 1}
    assert coerce("AWS::S3::Bucket", {"X": "1"}) == {"X": "1"}
