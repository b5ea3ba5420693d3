"""emulator/faithful/appautoscaling.py: the API and the CloudFormation resources."""

from __future__ import annotations

from pathlib import Path

import botocore.exceptions
import pytest

from selftests.emulator.platform import deploy_platform

DIM = "ecs:service:DesiredCount"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_api_round_trip_with_pagination_and_errors(emulator, aws):
    emulator.reset()
    aas = aws("application-autoscaling")
    for i in range(3):
        aas.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=f"service/c/s{i}", ScalableDimension=DIM, MinCapacity=1, MaxCapacity=4
        )
    pages = list(aas.get_paginator("describe_scalable_targets").paginate(ServiceNamespace="ecs", MaxResults=2))
    assert [len(p["ScalableTargets"]) for p in pages] == [2, 1]
    aas.register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/c/s0", ScalableDimension=DIM, MaxCapacity=9
    )
    (t0,) = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/c/s0"])["ScalableTargets"]
    assert (t0["MinCapacity"], t0["MaxCapacity"]) == (1, 9)
    arn = aas.put_scaling_policy(
        PolicyName="cpu", ServiceNamespace="ecs", ResourceId="service/c/s0", ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )["PolicyARN"]  # fmt: skip
    (policy,) = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId="service/c/s0")["ScalingPolicies"]
    assert policy["PolicyARN"] == arn and policy["PolicyType"] == "TargetTrackingScaling"
    aas.delete_scaling_policy(
        PolicyName="cpu", ServiceNamespace="ecs", ResourceId="service/c/s0", ScalableDimension=DIM
    )
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    with pytest.raises(botocore.exceptions.ClientError) as err:
        aas.put_scaling_policy(
            PolicyName="x", ServiceNamespace="ecs", ResourceId="service/c/none", ScalableDimension=DIM
        )
    assert err.value.response["Error"]["Code"] == "ObjectNotFoundException"
    aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId="service/c/s1", ScalableDimension=DIM)
    assert len(aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]) == 2


def test_platform_template_registers_target_and_policy_and_reset_wipes_them(emulator, aws):
    emulator.reset()
    outputs = deploy_platform(emulator.endpoint_url, env="staging")
    aas = aws("application-autoscaling")
    rid = f"service/{outputs.ECSClusterName}/{outputs.ECSServiceName}"
    (target,) = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"], target["ScalableDimension"]) == (2, 6, DIM)
    (policy,) = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    emulator.reset()
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []


def test_calls_do_not_balloon_the_emulator(emulator, aws):
    """EMULATOR-NOTES: one call to this API once grew MiniStack from 90 MB to 480 MB."""
    before = _rss_mb(emulator.pid)
    aas = aws("application-autoscaling")
    for _ in range(20):
        aas.describe_scalable_targets(ServiceNamespace="ecs")
    assert _rss_mb(emulator.pid) - before < 50
