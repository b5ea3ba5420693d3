"""Compute suite: the ECS cluster, the Fargate service and where its tasks run."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import ScalingActivity

if TYPE_CHECKING:
    from types_boto3_ecs.type_defs import DeploymentCircuitBreakerTypeDef


def _service_name(inv: Inventory) -> str:
    return inv.compute.service.get("serviceName") or inv.outputs.ECSServiceName


@check(
    severity="medium",
    operational="observability: task-level metrics for capacity and failures (not an audit log)",
    rationale="An active cluster with Container Insights records task-level metrics, so failures are seen.",
)
def test_ecs_cluster_is_active_with_container_insights(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    cluster = inv.compute.cluster
    evidence.attach("DescribeClusters", cluster)
    name = inv.outputs.ECSClusterName
    assert cluster, f"ECS cluster {name} of {inv.stack_name} was not found, expected an ACTIVE cluster"
    assert cluster.get("status") == "ACTIVE", f"ECS cluster {name} is {cluster.get('status')}, expected ACTIVE"
    settings = {s.get("name"): s.get("value") for s in cluster.get("settings", [])}
    insights = settings.get("containerInsights", "unset")
    assert insights in ("enabled", "enhanced"), (
        f"ECS cluster {name} has Container Insights {insights}, expected enabled (or enhanced)"
    )


@check(
    severity="medium",
    operational=(
        "runtime: the service runs on Fargate with no hosts of ours; AWS's share of host patching is the "
        "responsibility matrix's, not this check's evidence"
    ),
    rationale="The service is ACTIVE on the FARGATE launch type: no hosts of ours to harden or patch.",
)
def test_ecs_service_is_active_on_fargate(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    svc = inv.compute.service
    facts = {k: svc.get(k) for k in ("serviceArn", "status", "launchType", "capacityProviderStrategy")}
    evidence.attach("DescribeServices", facts)
    name = _service_name(inv)
    assert svc, f"ECS service {name} of {inv.stack_name} was not found, expected an ACTIVE Fargate service"
    assert svc.get("status") == "ACTIVE", f"ECS service {name} is {svc.get('status')}, expected ACTIVE"
    strategy = [c.get("capacityProvider") for c in svc.get("capacityProviderStrategy") or []]
    assert svc.get("launchType") == "FARGATE", (
        f"ECS service {name} runs with launch type {svc.get('launchType') or 'none'}"
        f"{f' (capacity providers {strategy})' if strategy else ''}, expected launch type FARGATE"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.2",
            "The tasks that process card data sit only in subnets with no internet route in; the internet reaches "
            "them only through the load balancer.",
        ),
    ],
    rationale="The payment tasks live only in the private subnets, never in the internet-routed ones.",
)
def test_ecs_service_tasks_in_private_subnets_only(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    cfg = inv.compute.service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    private = set(inv.outputs.PrivateSubnetIds)
    tasks = inv.compute.task_subnet_ids
    evidence.attach("awsvpcConfiguration and task subnets", {"awsvpcConfiguration": cfg, "tasks": tasks})
    name = _service_name(inv)
    subnets = cfg.get("subnets") or []
    outside = sorted(set(subnets) - private)
    assert subnets and not outside, (
        f"ECS service {name} places tasks in subnets {sorted(subnets)}, of which {outside or 'all'} are not "
        f"private; expected only the private subnets {sorted(private)}"
    )
    stray = {arn.rsplit("/", 1)[-1]: subnet or "no subnet" for arn, subnet in tasks.items() if subnet not in private}
    assert not stray, (
        f"ECS service {name} has tasks outside the private subnets {sorted(private)}: {stray} (task id: subnet)"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.2",
            "No task that processes card data has a public address; the internet reaches them only through the load "
            "balancer.",
        ),
    ],
    rationale="Tasks get no public IP, so nothing on the internet reaches them except through the load balancer.",
)
def test_ecs_service_tasks_have_no_public_ip(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    cfg = inv.compute.service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    enis = {e.get("NetworkInterfaceId"): e for e in inv.network.network_interfaces}
    public = {
        arn.rsplit("/", 1)[-1]: enis[eni]["Association"]["PublicIp"]
        for arn, eni in inv.compute.task_eni_ids.items()
        if eni in enis and (enis[eni].get("Association") or {}).get("PublicIp")
    }
    evidence.attach(
        "assignPublicIp and task public IPs", {"assignPublicIp": cfg.get("assignPublicIp"), "public": public}
    )
    name = _service_name(inv)
    assert cfg.get("assignPublicIp") == "DISABLED", (
        f"ECS service {name} has assignPublicIp {cfg.get('assignPublicIp') or 'unset'}, expected DISABLED"
    )
    assert not public, f"ECS service {name} has tasks with public IPs {public} (task id: IP), expected none"


@check(
    severity="high",
    operational="availability: every desired task runs, within the scaling range",
    rationale="Every desired task runs, and the desired count stays within the environment's scaling range.",
)
def test_ecs_service_runs_desired_count_within_capacity(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    svc = inv.compute.service
    running_tasks = [t.get("taskArn") for t in inv.compute.tasks if t.get("lastStatus") == "RUNNING"]
    facts = {k: svc.get(k) for k in ("desiredCount", "runningCount", "pendingCount")}
    evidence.attach("DescribeServices counts", {**facts, "running_tasks": running_tasks})
    name = _service_name(inv)
    low, high = spec.parameters.MinCapacity, spec.parameters.MaxCapacity
    desired, running = svc.get("desiredCount"), svc.get("runningCount")
    assert desired is not None and low <= desired <= high, (
        f"ECS service {name} has desired count {desired}, expected within the environment's capacity "
        f"[{low}, {high}] (MinCapacity, MaxCapacity)"
    )
    assert running == desired and len(running_tasks) == desired, (
        f"ECS service {name} runs {running} task(s) ({len(running_tasks)} listed RUNNING), "
        f"expected its desired {desired}"
    )


_SET_DESIRED = re.compile(r"desired count to (\d+)", re.I)


@check(
    severity="low",
    operational="capacity: the desired count is the declared one or auto scaling's",
    rationale=(
        "Desired count is the spec's DesiredCount unless Application Auto Scaling's latest successful activity set "
        "it (target tracking may move it within [Min, Max]); any other value is an unmanaged change."
    ),
)
def test_ecs_service_desired_count_as_specified_or_autoscaled(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    desired = inv.compute.service.get("desiredCount")
    done = [a for a in inv.compute.scaling_activities if a.get("StatusCode") == "Successful"]
    latest: ScalingActivity | dict[str, Any] = max(
        done, key=lambda a: str(a.get("EndTime") or a.get("StartTime") or ""), default={}
    )
    match = _SET_DESIRED.search(str(latest.get("Description", "")))
    scaled_to = int(match.group(1)) if match else None
    evidence.attach(
        "desired count and scaling activity",
        {"desiredCount": desired, "spec DesiredCount": spec.parameters.DesiredCount, "latest activity": latest},
    )
    explained = desired == spec.parameters.DesiredCount or (scaled_to is not None and desired == scaled_to)
    assert explained, (
        f"ECS service {_service_name(inv)} has desired count {desired}, expected the spec's DesiredCount "
        f"{spec.parameters.DesiredCount} or the count auto scaling last set "
        f"({scaled_to if scaled_to is not None else 'no successful scaling activity'})"
    )


@check(
    severity="medium",
    operational="availability: a deployment that cannot become healthy rolls back",
    rationale="A deployment that cannot become healthy is stopped and rolled back to the last working revision.",
)
def test_ecs_service_circuit_breaker_enabled_with_rollback(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    config = inv.compute.service.get("deploymentConfiguration", {})
    breaker: DeploymentCircuitBreakerTypeDef | dict[str, Any] = config.get("deploymentCircuitBreaker") or {}
    evidence.attach("deploymentConfiguration", config)
    assert breaker.get("enable") is True and breaker.get("rollback") is True, (
        f"ECS service {_service_name(inv)} has deployment circuit breaker enable={breaker.get('enable')} "
        f"rollback={breaker.get('rollback')}, expected enable=True rollback=True"
    )


@check(
    severity="medium",
    operational="availability: a rollout is not killed while its tasks start",
    rationale=(
        "New tasks get a health-check grace period at least as long as the target group needs to call them "
        "healthy, so a rollout is not killed (and rolled back) while its tasks are still starting."
    ),
)
def test_ecs_service_health_check_grace_covers_target_group_warm_up(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    grace = inv.compute.service.get("healthCheckGracePeriodSeconds") or 0
    tg = inv.compute.target_group
    interval, threshold = tg.get("HealthCheckIntervalSeconds", 30), tg.get("HealthyThresholdCount", 5)
    needed = int(interval) * int(threshold)
    evidence.attach(
        "grace period and target group health check",
        {"healthCheckGracePeriodSeconds": grace, "HealthCheckIntervalSeconds": interval,
         "HealthyThresholdCount": threshold, "seconds to healthy": needed},
    )  # fmt: skip
    assert grace >= needed, (
        f"ECS service {_service_name(inv)} gives new tasks a health-check grace period of {grace} s, expected at "
        f"least the {needed} s target group {tg.get('TargetGroupName', inv.outputs.TargetGroupArn)} needs to call "
        f"them healthy ({threshold} checks x {interval} s)"
    )


@check(
    severity="low",
    operational="ownership and cost: tags on the running tasks",
    rationale=(
        "Every running task carries the platform's five tags (the service propagates its own), so the "
        "inventory of in-scope components, cost and ownership reach the running copies of the application."
    ),
)
def test_ecs_service_tasks_carry_the_platform_tags(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    expected = spec.platform_tags
    tasks = {
        str(t.get("taskArn", "")).rsplit("/", 1)[-1]: {x.get("key"): x.get("value") for x in t.get("tags", [])}
        for t in inv.compute.tasks
        if t.get("lastStatus") == "RUNNING"
    }
    evidence.attach(
        "task tags", {"expected": expected, "propagateTags": inv.compute.service.get("propagateTags"), "tasks": tasks}
    )
    assert tasks, f"ECS service {_service_name(inv)} has no RUNNING task to inspect, expected its desired count"
    wrong = {
        task: sorted(f"{k}={tags.get(k, '<missing>')}" for k, v in expected.items() if tags.get(k) != v)
        for task, tags in tasks.items()
    }
    wrong = {task: tags for task, tags in wrong.items() if tags}
    found = "; ".join(f"task {task}: {', '.join(tags)}" for task, tags in sorted(wrong.items()))
    wanted = ", ".join(f"{k}={v}" for k, v in expected.items())
    assert not wrong, (
        f"ECS service {_service_name(inv)} runs tasks without the platform tags ({found}), expected {wanted} "
        f"on each (service propagateTags {inv.compute.service.get('propagateTags', 'NONE')}, expected SERVICE)"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:1.3.1",
            "The load balancer, the only way in, delivers only to task addresses in the private subnets.",
        ),
    ],
    rationale="Every address the load balancer sends traffic to is a task address inside a private subnet.",
)
def test_target_group_targets_are_private_addresses(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    inv.network.require("ec2:DescribeSubnets")
    nets = {s: inv.network.subnet(s).get("CidrBlock") for s in inv.outputs.PrivateSubnetIds}
    private = [ipaddress.ip_network(c) for c in nets.values() if c]
    targets = [t.get("Target", {}) for t in inv.compute.target_health]
    evidence.attach("targets and private subnets", {"targets": targets, "private subnets": nets})

    def inside(address: str) -> bool:
        try:
            return any(ipaddress.ip_address(address) in n for n in private)
        except ValueError:
            return False

    outside = sorted(str(t.get("Id")) for t in targets if not inside(str(t.get("Id"))))
    assert not outside, (
        f"target group {inv.compute.target_group.get('TargetGroupName', inv.outputs.TargetGroupArn)} has targets "
        f"{outside} outside the private subnets {sorted(c for c in nets.values() if c)}, expected only task "
        "addresses in private subnets"
    )
