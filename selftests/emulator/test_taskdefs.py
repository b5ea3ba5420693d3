"""emulator/faithful/taskdefs.py: describe_task_definition reports the container definitions
and task-level settings of a CloudFormation task definition as ECS does."""

from __future__ import annotations

import json

import pytest

ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

TEMPLATE = {
    "Parameters": {"ContainerPort": {"Type": "Number", "Default": "8080"}},
    "Resources": {
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"Name": "td-secret", "SecretString": '{"username":"u","password":"p"}'},
        },
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "td-app-logs"}},
        "ExecRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"RoleName": "td-exec", "AssumeRolePolicyDocument": ASSUME},
        },
        "TaskRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"RoleName": "td-task", "AssumeRolePolicyDocument": ASSUME},
        },
        "Td": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "td-family",
                "RequiresCompatibilities": ["FARGATE"],
                "NetworkMode": "awsvpc",
                "Cpu": 512,
                "Memory": "1024",
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecRole", "Arn"]},
                "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
                "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
                "EphemeralStorage": {"SizeInGiB": 30},
                "Volumes": [{"Name": "scratch"}],
                "ContainerDefinitions": [
                    {
                        "Name": "app",
                        "Image": "public.ecr.aws/nginx/nginx:stable-alpine",
                        "Essential": True,
                        "ReadonlyRootFilesystem": True,
                        "User": "1000",
                        "PortMappings": [
                            {"ContainerPort": {"Ref": "ContainerPort"}, "Protocol": "tcp", "Name": "http"}
                        ],
                        "Environment": [{"Name": "DB_PORT", "Value": "3306"}, {"Name": "MODE", "Value": "strict"}],
                        "Secrets": [
                            {"Name": "DB_USERNAME", "ValueFrom": {"Fn::Sub": "${Secret}:username::"}},
                            {"Name": "DB_PASSWORD", "ValueFrom": {"Fn::Sub": "${Secret}:password::"}},
                        ],
                        "LogConfiguration": {
                            "LogDriver": "awslogs",
                            "Options": {
                                "awslogs-group": {"Ref": "Logs"},
                                "awslogs-region": {"Ref": "AWS::Region"},
                                "awslogs-stream-prefix": "app",
                            },
                        },
                        "LinuxParameters": {"InitProcessEnabled": True, "Capabilities": {"Drop": ["ALL"]}},
                        "HealthCheck": {"Command": ["CMD-SHELL", "true"], "Interval": 30, "Retries": 3},
                        "MountPoints": [{"SourceVolume": "scratch", "ContainerPath": "/tmp", "ReadOnly": False}],
                        "DockerLabels": {"com.example.Team": "payments"},
                        "Ulimits": [{"Name": "nofile", "SoftLimit": 1024, "HardLimit": 2048}],
                    },
                    {
                        "Name": "sidecar",
                        "Image": "busybox",
                        "Essential": False,
                        "Cpu": 64,
                        "DependsOn": [{"ContainerName": "app", "Condition": "HEALTHY"}],
                    },
                ],
            },
        },
    },
    "Outputs": {"Secret": {"Value": {"Ref": "Secret"}}},
}


@pytest.fixture(scope="module")
def task_definition(emulator, aws):
    emulator.reset()
    cfn = aws("cloudformation")
    cfn.create_stack(StackName="td", TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName="td", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="td")["StackResources"]
    }
    td = aws("ecs").describe_task_definition(taskDefinition=resources["Td"])["taskDefinition"]
    return td, resources


def test_task_level_settings(task_definition, aws):
    td, _ = task_definition
    assert (td["cpu"], td["memory"]) == ("512", "1024")  # strings, as ECS reports them
    assert td["networkMode"] == "awsvpc" and td["requiresCompatibilities"] == ["FARGATE"]
    iam = aws("iam")
    assert td["executionRoleArn"] == iam.get_role(RoleName="td-exec")["Role"]["Arn"]
    assert td["taskRoleArn"] == iam.get_role(RoleName="td-task")["Role"]["Arn"]
    assert td["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert td["ephemeralStorage"] == {"sizeInGiB": 30}
    assert td["volumes"] == [{"name": "scratch"}]
    assert "pidMode" not in td and "ipcMode" not in td


def test_container_definition_survives(task_definition):
    td, res = task_definition
    app, sidecar = td["containerDefinitions"]
    secret_arn = res["Secret"]
    assert app["secrets"] == [
        {"name": "DB_USERNAME", "valueFrom": f"{secret_arn}:username::"},
        {"name": "DB_PASSWORD", "valueFrom": f"{secret_arn}:password::"},
    ]
    assert app["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "td-app-logs", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"},
    }
    # awsvpc: hostPort is the containerPort; a Number parameter arrives as an integer
    assert app["portMappings"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp", "name": "http"}]
    assert app["environment"] == [{"name": "DB_PORT", "value": "3306"}, {"name": "MODE", "value": "strict"}]
    assert app["essential"] is True and app["readonlyRootFilesystem"] is True and app["user"] == "1000"
    assert app["linuxParameters"] == {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}}
    assert app["healthCheck"] == {"command": ["CMD-SHELL", "true"], "interval": 30, "retries": 3}
    assert app["mountPoints"] == [{"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False}]
    assert app["dockerLabels"] == {"com.example.Team": "payments"}
    assert app["ulimits"] == [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}]
    assert app["cpu"] == 0 and app["volumesFrom"] == []  # ECS defaults
    assert sidecar["essential"] is False and sidecar["cpu"] == 64
    assert sidecar["dependsOn"] == [{"containerName": "app", "condition": "HEALTHY"}]
    assert sidecar["portMappings"] == [] and sidecar["environment"] == [] and sidecar["mountPoints"] == []


def test_a_new_revision_from_a_stack_update_is_rewritten_too(task_definition, aws):
    cfn = aws("cloudformation")
    cfn.update_stack(
        StackName="td",
        TemplateBody=json.dumps(TEMPLATE),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "ContainerPort", "ParameterValue": "9090"}],
    )
    cfn.get_waiter("stack_update_complete").wait(StackName="td", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    arn = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="td")["StackResources"]
    }["Td"]
    td = aws("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert td["revision"] == 2
    assert td["containerDefinitions"][0]["portMappings"][0] == {
        "containerPort": 9090,
        "hostPort": 9090,
        "protocol": "tcp",
        "name": "http",
    }
    assert td["containerDefinitions"][0]["secrets"][0]["name"] == "DB_USERNAME"


def test_register_task_definition_gets_the_ecs_defaults(emulator, aws):
    td = aws("ecs").register_task_definition(
        family="td-api",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx", "portMappings": [{"containerPort": 80}]}],
    )["taskDefinition"]
    assert td["containerDefinitions"][0]["portMappings"] == [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]
    assert td["containerDefinitions"][0]["essential"] is True and td["containerDefinitions"][0]["cpu"] == 0
