"""Compute suite: the ECS cluster and service, the task definition, the load balancer, scaling, alarms."""

from __future__ import annotations

import ipaddress
import re

from conformance.checks import check

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)", re.I)
ALARM_SUFFIXES = ("-alb-5xx", "-unhealthy-hosts", "-service-cpu", "-db-cpu", "-db-connections")


def _forwards_to(action: dict, target_group: str) -> bool:
    if action.get("Type") != "forward":
        return False
    groups = [t.get("TargetGroupArn") for t in action.get("ForwardConfig", {}).get("TargetGroups", [])]
    return action.get("TargetGroupArn") == target_group or target_group in groups


def _container(inv):
    defs = inv.compute.task_definition.get("containerDefinitions", [])
    return defs[0] if defs else {}


@check(
    severity="medium",
    controls=["PCI-DSS-4.0:10.2.1", "CIS-AWS-3.0:4.16"],
    rationale="The ECS cluster is active and collects Container Insights metrics for the service.",
)
def test_ecs_cluster_active_with_container_insights(env_name, inv, evidence):
    inv.compute.require("ecs:DescribeClusters")
    cluster = inv.compute.cluster
    settings = {s.get("name"): s.get("value") for s in cluster.get("settings", [])}
    evidence.attach("DescribeClusters", cluster)
    name = inv.outputs.ECSClusterName
    assert cluster.get("status") == "ACTIVE", (
        f"ECS cluster {name} is {cluster.get('status') or 'missing'}, expected ACTIVE"
    )
    assert settings.get("containerInsights") in ("enabled", "enhanced"), (
        f"ECS cluster {name} has Container Insights {settings.get('containerInsights') or 'unset'}, expected enabled"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:12.10.1", "PCI-DSS-4.0:6.4.1"],
    rationale="The Fargate service runs its desired count, within the environment's scaling range.",
)
def test_service_runs_desired_count_within_range(env_name, inv, spec, evidence):
    inv.compute.require("ecs:DescribeServices")
    svc = inv.compute.service
    p = spec.parameters
    facts = {k: svc.get(k) for k in ("status", "launchType", "desiredCount", "runningCount")}
    evidence.attach("DescribeServices", facts)
    name = inv.outputs.ECSServiceName
    assert (facts["status"], facts["launchType"]) == ("ACTIVE", "FARGATE"), (
        f"ECS service {name} is {facts['status']} on {facts['launchType']}, expected ACTIVE on FARGATE"
    )
    desired, running = facts["desiredCount"], facts["runningCount"]
    assert desired is not None and p.MinCapacity <= desired <= p.MaxCapacity and desired >= 1, (
        f"ECS service {name} wants {desired} task(s), expected between {max(1, p.MinCapacity)} and {p.MaxCapacity}"
    )
    assert running == desired, f"ECS service {name} runs {running} of {desired} desired task(s)"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.3.2"],
    rationale="Tasks run only in the private subnets and never get a public IP address.",
)
def test_service_tasks_private_without_public_ip(env_name, inv, evidence):
    inv.compute.require("ecs:DescribeServices")
    cfg = inv.compute.service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    evidence.attach("awsvpcConfiguration", cfg)
    name = inv.outputs.ECSServiceName
    outside = sorted(set(cfg.get("subnets", [])) - set(inv.outputs.PrivateSubnetIds))
    assert cfg.get("subnets") and not outside, (
        f"ECS service {name} runs tasks in subnets {outside or '(none)'} outside the private subnets"
    )
    assert cfg.get("assignPublicIp") == "DISABLED", (
        f"ECS service {name} has assignPublicIp {cfg.get('assignPublicIp')}, expected DISABLED"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:6.4.1", "PCI-DSS-4.0:12.10.1"],
    rationale="A failing deployment is stopped and rolled back by the deployment circuit breaker.",
)
def test_service_circuit_breaker_rolls_back(env_name, inv, evidence):
    inv.compute.require("ecs:DescribeServices")
    breaker = inv.compute.service.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
    evidence.attach("deploymentCircuitBreaker", breaker)
    assert breaker.get("enable") is True and breaker.get("rollback") is True, (
        f"ECS service {inv.outputs.ECSServiceName} has circuit breaker {breaker or 'unset'}, "
        "expected enable and rollback"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:10.2.1", "PCI-DSS-4.0:10.3.2"],
    rationale="The application logs to the stack's own log group through the awslogs driver.",
)
def test_task_logs_to_stack_log_group(env_name, inv, evidence):
    inv.compute.require("ecs:DescribeTaskDefinition")
    log = _container(inv).get("logConfiguration", {})
    evidence.attach("logConfiguration", log)
    group = log.get("options", {}).get("awslogs-group", "")
    want = f"payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}-app-logs"
    assert log.get("logDriver") == "awslogs" and group == want, (
        f"task definition {inv.compute.task_definition.get('taskDefinitionArn')} logs with "
        f"{log.get('logDriver') or 'no driver'} to {group or 'no group'}, expected awslogs to {want}"
    )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:8.3.2", "PCI-DSS-4.0:3.5.1"],
    rationale="No secret sits in a container's plain environment; the DB password comes from Secrets Manager.",
)
def test_task_secrets_come_from_secrets_manager(env_name, inv, evidence):
    inv.compute.require("ecs:DescribeTaskDefinition")
    container = _container(inv)
    arn = inv.compute.task_definition.get("taskDefinitionArn")
    names = [e.get("name", "") for e in container.get("environment", [])]
    secrets = container.get("secrets", [])
    evidence.attach("container variables (names only)", {"environment": names, "secrets": secrets})
    plain = [n for n in names if SECRET_NAME.search(n)]
    assert not plain, f"task definition {arn} passes {plain} as plain environment variables, expected secrets"
    from_stack = [s for s in secrets if str(s.get("valueFrom", "")).startswith(inv.outputs.DBSecretArn)]
    assert from_stack, (
        f"task definition {arn} takes no secret from {inv.outputs.DBSecretArn} (secrets: {secrets or 'none'})"
    )


@check(
    severity="medium",
    controls=["PCI-DSS-4.0:2.2.1"],
    rationale="Tasks get the CPU and memory the environment specifies.",
)
def test_task_size_as_specified(env_name, inv, spec, evidence):
    inv.compute.require("ecs:DescribeTaskDefinition")
    td = inv.compute.task_definition
    observed = (str(td.get("cpu")), str(td.get("memory")))
    want = (str(spec.parameters.TaskCpu), str(spec.parameters.TaskMemory))
    evidence.attach("cpu/memory", observed)
    assert observed == want, f"task definition {td.get('taskDefinitionArn')} has cpu/memory {observed}, expected {want}"


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:12.10.1"],
    rationale="The internet-facing application load balancer sits in the public subnets across every AZ.",
)
def test_load_balancer_internet_facing_across_public_subnets(env_name, inv, spec, evidence):
    inv.compute.require("elasticloadbalancing:DescribeLoadBalancers")
    lb = inv.compute.load_balancer
    zones = {z.get("SubnetId"): z.get("ZoneName") for z in lb.get("AvailabilityZones", [])}
    evidence.attach("DescribeLoadBalancers", lb)
    name = lb.get("LoadBalancerName", inv.outputs.LoadBalancerArn)
    assert (lb.get("Scheme"), lb.get("Type")) == ("internet-facing", "application"), (
        f"load balancer {name} is {lb.get('Scheme')} {lb.get('Type')}, expected internet-facing application"
    )
    assert set(zones) == set(inv.outputs.PublicSubnetIds) and len(set(zones.values())) == spec.expectations.az_count, (
        f"load balancer {name} is in subnets {zones}, expected the public subnets "
        f"{inv.outputs.PublicSubnetIds} in {spec.expectations.az_count} AZs"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:6.4.1"],
    rationale="The listener forwards to the service's ip target group, which health-checks its targets.",
)
def test_listener_forwards_to_service_target_group(env_name, inv, evidence):
    c = inv.compute
    c.require("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetGroups")
    evidence.attach("listeners and target group", {"listeners": c.listeners, "target_group": c.target_group})
    tg = inv.outputs.TargetGroupArn
    forwards = [lst for lst in c.listeners for a in lst.get("DefaultActions", []) if _forwards_to(a, tg)]
    assert forwards, (
        f"no listener of load balancer {inv.outputs.LoadBalancerArn} forwards to target group {tg} "
        f"(actions: {[a for lst in c.listeners for a in lst.get('DefaultActions', [])]})"
    )
    group = c.target_group
    assert group.get("TargetType") == "ip" and group.get("HealthCheckEnabled", True) and group.get("HealthCheckPath"), (
        f"target group {tg} has type {group.get('TargetType')} and health check path "
        f"{group.get('HealthCheckPath') or 'none'}, expected type ip with a health check"
    )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:12.10.1", "PCI-DSS-4.0:1.3.2"],
    rationale="At least the desired number of healthy targets, all private addresses of the tasks.",
)
def test_healthy_targets_cover_desired_count(env_name, inv, evidence):
    c = inv.compute
    c.require("elasticloadbalancing:DescribeTargetHealth", "ecs:DescribeServices")
    evidence.attach("DescribeTargetHealth", c.target_health)
    desired = c.service.get("desiredCount", 0)
    healthy = c.healthy_targets
    assert len(healthy) >= desired, (
        f"target group {inv.outputs.TargetGroupArn} has {len(healthy)} healthy target(s) of "
        f"{len(c.target_health)}, expected at least the desired {desired}"
    )
    private = [
        ipaddress.ip_network(inv.network.subnet(s).get("CidrBlock", "0.0.0.0/32")) for s in inv.outputs.PrivateSubnetIds
    ]
    outside = [
        t["Target"]["Id"]
        for t in c.target_health
        if not any(ipaddress.ip_address(t["Target"]["Id"]) in n for n in private)
    ]
    assert not outside, f"target group {inv.outputs.TargetGroupArn} has targets {outside} outside the private subnets"


@check(
    severity="high",
    controls=["PCI-DSS-4.0:12.10.1"],
    rationale="The service scales on CPU between the environment's minimum and maximum.",
)
def test_service_autoscaling_on_cpu_within_range(env_name, inv, spec, evidence):
    c = inv.compute
    c.require("application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies")
    evidence.attach("scaling", {"targets": c.scalable_targets, "policies": c.scaling_policies})
    name = inv.outputs.ECSServiceName
    want = (spec.parameters.MinCapacity, spec.parameters.MaxCapacity)
    got = [(t.get("MinCapacity"), t.get("MaxCapacity")) for t in c.scalable_targets]
    assert got == [want], f"ECS service {name} has scalable targets (min, max) {got}, expected [{want}]"
    cpu = [
        p for p in c.scaling_policies
        if p.get("PolicyType") == "TargetTrackingScaling"
        and p.get("TargetTrackingScalingPolicyConfiguration", {}).get("PredefinedMetricSpecification", {})
        .get("PredefinedMetricType") == "ECSServiceAverageCPUUtilization"
    ]  # fmt: skip
    assert cpu, f"ECS service {name} has no target-tracking policy on ECSServiceAverageCPUUtilization"


@check(
    severity="high",
    controls=["PCI-DSS-4.0:10.7.2", "PCI-DSS-4.0:12.10.1"],
    rationale="Alarms on 5xx, unhealthy targets, service CPU and database CPU/connections notify the on-call topic.",
)
def test_alarms_notify_the_alarm_topic(env_name, inv, evidence):
    c = inv.compute
    c.require("cloudwatch:DescribeAlarms")
    prefix = f"payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}"
    alarms = {a["AlarmName"]: a.get("AlarmActions", []) for a in c.alarms}
    evidence.attach("alarms and actions", alarms)
    topic = inv.outputs.AlarmTopicArn
    for suffix in ALARM_SUFFIXES:
        name = prefix + suffix
        assert name in alarms, f"alarm {name} does not exist"
        assert topic in alarms[name], f"alarm {name} notifies {alarms[name] or 'nobody'}, expected {topic}"
