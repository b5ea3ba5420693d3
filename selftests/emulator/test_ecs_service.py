"""emulator/faithful/ecs_service.py: the service keeps its grace period and tag settings, and its tasks get tags."""

from __future__ import annotations

import botocore.exceptions
import pytest

from selftests.emulator.platform import deploy_platform

PLATFORM_TAGS = {"Environment", "Application", "Owner", "CostCenter", "ManagedBy"}


def _service(aws, outputs) -> dict:
    ecs = aws("ecs")
    return ecs.describe_services(cluster=outputs.ECSClusterName, services=[outputs.ECSServiceName])["services"][0]


def _task_tags(aws, outputs) -> list[dict[str, str]]:
    ecs = aws("ecs")
    arns = ecs.list_tasks(cluster=outputs.ECSClusterName, serviceName=outputs.ECSServiceName)["taskArns"]
    tasks = ecs.describe_tasks(cluster=outputs.ECSClusterName, tasks=arns, include=["TAGS"])["tasks"]
    assert tasks
    return [{t["key"]: t["value"] for t in task.get("tags", [])} for task in tasks]


def test_template_settings_reach_the_service_and_its_tasks(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    svc = _service(aws, outputs)
    assert (svc["healthCheckGracePeriodSeconds"], svc["propagateTags"], svc["enableECSManagedTags"]) == (
        60,
        "SERVICE",
        True,
    )
    for tags in _task_tags(aws, outputs):
        assert set(tags) >= PLATFORM_TAGS, tags
        assert tags["Environment"] == "dev" and tags["Application"] == "payments"
        assert tags["aws:ecs:serviceName"] == outputs.ECSServiceName.rsplit("/", 1)[-1]
        assert not any(k.startswith("aws:cloudformation:") for k in tags), "reserved tags are not propagated"


def test_update_service_changes_what_new_tasks_get(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    ecs = aws("ecs")
    ecs.update_service(
        cluster=outputs.ECSClusterName,
        service=outputs.ECSServiceName,
        propagateTags="NONE",
        enableECSManagedTags=False,
        healthCheckGracePeriodSeconds=0,
        forceNewDeployment=True,
    )
    svc = _service(aws, outputs)
    assert (svc["healthCheckGracePeriodSeconds"], svc["propagateTags"], svc["enableECSManagedTags"]) == (
        0,
        "NONE",
        False,
    )
    assert _task_tags(aws, outputs) and all(tags == {} for tags in _task_tags(aws, outputs))


def test_update_service_validates_propagate_tags(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        aws("ecs").update_service(
            cluster=outputs.ECSClusterName, service=outputs.ECSServiceName, propagateTags="EVERYTHING"
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
