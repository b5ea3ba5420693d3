"""emulator/faithful/compute.py: redeploy on a network change, scaling activities, target group full name."""

from __future__ import annotations

import botocore.exceptions
import pytest

from selftests.emulator.platform import deploy_platform


def _tasks(aws, outputs) -> list[dict]:
    ecs = aws("ecs")
    arns = ecs.list_tasks(cluster=outputs.ECSClusterName, serviceName=outputs.ECSServiceName)["taskArns"]
    return ecs.describe_tasks(cluster=outputs.ECSClusterName, tasks=arns)["tasks"] if arns else []


def _subnet(task: dict) -> str:
    details = task["attachments"][0]["details"]
    return next(d["value"] for d in details if d["name"] == "subnetId")


def _eni(task: dict) -> str:
    details = task["attachments"][0]["details"]
    return next(d["value"] for d in details if d["name"] == "networkInterfaceId")


def test_network_change_starts_a_new_deployment(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    ecs, ec2 = aws("ecs"), aws("ec2")
    before = _tasks(aws, outputs)
    assert before and all(_subnet(t) in outputs.PrivateSubnetIds for t in before)
    groups = ecs.describe_services(cluster=outputs.ECSClusterName, services=[outputs.ECSServiceName])["services"][0][
        "networkConfiguration"
    ]["awsvpcConfiguration"]["securityGroups"]
    ecs.update_service(
        cluster=outputs.ECSClusterName,
        service=outputs.ECSServiceName,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": outputs.PublicSubnetIds, "securityGroups": groups, "assignPublicIp": "ENABLED",
            }
        },
    )  # fmt: skip
    after = _tasks(aws, outputs)
    assert {t["taskArn"] for t in after}.isdisjoint({t["taskArn"] for t in before}), "the old tasks were kept"
    assert after and all(_subnet(t) in outputs.PublicSubnetIds for t in after)
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=[_eni(t) for t in after])["NetworkInterfaces"]
    assert all(e.get("Association", {}).get("PublicIp") for e in enis)
    # the same configuration again is no change: no new deployment
    ecs.update_service(
        cluster=outputs.ECSClusterName,
        service=outputs.ECSServiceName,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": outputs.PublicSubnetIds, "securityGroups": groups, "assignPublicIp": "ENABLED",
            }
        },
    )  # fmt: skip
    assert {t["taskArn"] for t in _tasks(aws, outputs)} == {t["taskArn"] for t in after}
    # a desired-count change alone keeps the running tasks
    ecs.update_service(cluster=outputs.ECSClusterName, service=outputs.ECSServiceName, desiredCount=2)
    assert {t["taskArn"] for t in after} <= {t["taskArn"] for t in _tasks(aws, outputs)}


def test_scaling_activities_are_empty_and_validated(emulator, aws):
    emulator.reset()
    aas = aws("application-autoscaling")
    reply = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId="service/c/s", MaxResults=50)
    assert reply["ScalingActivities"] == []
    with pytest.raises(botocore.exceptions.ClientError) as err:
        aas.describe_scaling_activities(ServiceNamespace="ecs", MaxResults=51)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_target_group_full_name_has_the_targetgroup_prefix(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix="payments-dev-ext-unhealthy-hosts")["MetricAlarms"]
    (alarm,) = alarms
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dims["TargetGroup"] == outputs.TargetGroupArn.rsplit(":", 1)[-1]
    assert dims["TargetGroup"].startswith("targetgroup/payments-dev-ext-tg/")
