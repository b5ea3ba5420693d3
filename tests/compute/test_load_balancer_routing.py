"""Compute suite: the load balancer's placement, its listener and target group, and target health."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory

if TYPE_CHECKING:
    from types_boto3_elbv2.type_defs import ActionOutputTypeDef, ForwardActionConfigOutputTypeDef

# A health check that tolerates 4xx/5xx or waits minutes to notice a dead task is no health check.
MAX_DETECTION_SECONDS = 150


def _lb_name(inv: Inventory) -> str:
    return inv.compute.load_balancer.get("LoadBalancerName") or inv.outputs.LoadBalancerArn


def _tg_name(inv: Inventory) -> str:
    return inv.compute.target_group.get("TargetGroupName") or inv.outputs.TargetGroupArn


@check(
    severity="high",
    operational=(
        "availability: the public entry point exists, faces the internet and is active (its rules are judged by the "
        "security-group and listener checks)"
    ),
    rationale="The only internet entry point is an active, internet-facing application load balancer.",
)
def test_load_balancer_is_internet_facing_application(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    lb = inv.compute.load_balancer
    facts = {k: lb.get(k) for k in ("LoadBalancerArn", "LoadBalancerName", "Scheme", "Type", "State")}
    evidence.attach("DescribeLoadBalancers", facts)
    assert lb, f"load balancer {inv.outputs.LoadBalancerArn} was not found, expected an internet-facing ALB"
    observed = (lb.get("Scheme"), lb.get("Type"), (lb.get("State") or {}).get("Code"))
    assert observed == ("internet-facing", "application", "active"), (
        f"load balancer {_lb_name(inv)} is {observed[0]}, type {observed[1]}, state {observed[2]}; "
        "expected internet-facing, type application, state active"
    )


@check(
    severity="medium",
    operational="availability: the entry point spans every AZ",
    rationale="The load balancer sits in exactly the public subnets and spans every AZ of the environment.",
)
def test_load_balancer_spans_public_subnets_in_every_az(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    zones = {z.get("SubnetId"): z.get("ZoneName") for z in inv.compute.load_balancer.get("AvailabilityZones", [])}
    evidence.attach("AvailabilityZones", zones)
    public = set(inv.outputs.PublicSubnetIds)
    assert set(zones) == public, (
        f"load balancer {_lb_name(inv)} is in subnets {sorted(zones, key=str)}, expected exactly the public subnets "
        f"{sorted(public)}"
    )
    azs = sorted(set(zones.values()), key=str)
    assert len(azs) == spec.expectations.az_count, (
        f"load balancer {_lb_name(inv)} spans {len(azs)} AZ(s) {azs}, expected {spec.expectations.az_count}"
    )


def _forward_targets(action: ActionOutputTypeDef) -> set[str | None]:
    if action.get("Type") != "forward":
        return set()
    forward: ForwardActionConfigOutputTypeDef | dict[str, Any] = action.get("ForwardConfig") or {}
    groups: set[str | None] = {t.get("TargetGroupArn") for t in forward.get("TargetGroups", [])}
    return ({action["TargetGroupArn"]} if action.get("TargetGroupArn") else set()) | groups


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.2",
            "Every HTTPS listener forwards to the payment service's target group and no listener forwards anywhere "
            "else: internet traffic reaches the authorised service and nothing else.",
        ),
    ],
    rationale=(
        "Each HTTPS listener forwards to the service's target group, no listener forwards anywhere else, and the "
        "service registers in that group."
    ),
)
def test_load_balancer_listener_forwards_only_to_service_tg(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.compute
    c.require("elasticloadbalancing:DescribeListeners", "ecs:DescribeServices")
    tg = inv.outputs.TargetGroupArn
    actions = {lst.get("ListenerArn", "?"): lst.get("DefaultActions", []) for lst in c.listeners}
    evidence.attach("listener default actions", actions)
    https = [lst for lst in c.listeners if lst.get("Protocol") == "HTTPS"]
    assert https, f"load balancer {_lb_name(inv)} has no HTTPS listener, expected one forwarding to {tg}"
    # the HTTPS listeners forward to the service; any other listener's forward too (port 80 only redirects)
    wrong = {
        f"{lst.get('Protocol')}:{lst.get('Port')}": [
            f"{a.get('Type')} {sorted(_forward_targets(a), key=str) or ''}".strip()
            for a in lst.get("DefaultActions", [])
        ]
        for lst in c.listeners
        if (lst in https and not lst.get("DefaultActions"))
        or any(
            _forward_targets(a) != {tg}
            for a in lst.get("DefaultActions", [])
            if lst in https or a.get("Type") == "forward"
        )
    }
    assert not wrong, (
        f"load balancer {_lb_name(inv)} has listeners whose default actions are {wrong}, "
        f"expected forward to the service's target group {tg}"
    )
    registered = [b.get("targetGroupArn") for b in c.service.get("loadBalancers", [])]
    assert tg in registered, (
        f"ECS service {inv.outputs.ECSServiceName} registers its tasks in {registered or 'no target group'}, "
        f"expected {tg}"
    )


@check(
    severity="medium",
    operational="availability: a dead task is noticed and replaced quickly",
    rationale="The ip target group health-checks over HTTP, accepts only 2xx/3xx and notices a dead task quickly.",
)
def test_target_group_is_ip_type_with_health_check(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    tg = inv.compute.target_group
    keys = ("TargetType", "HealthCheckEnabled", "HealthCheckProtocol", "HealthCheckPath", "Matcher",
            "HealthCheckIntervalSeconds", "UnhealthyThresholdCount")  # fmt: skip
    facts = {k: tg.get(k) for k in keys}
    evidence.attach("DescribeTargetGroups", facts)
    name = _tg_name(inv)
    assert tg, f"target group {inv.outputs.TargetGroupArn} was not found, expected an ip target group"
    assert tg.get("TargetType") == "ip", f"target group {name} has target type {tg.get('TargetType')}, expected ip"
    assert tg.get("HealthCheckEnabled") is True and tg.get("HealthCheckProtocol") in ("HTTP", "HTTPS"), (
        f"target group {name} has health check enabled={tg.get('HealthCheckEnabled')} protocol "
        f"{tg.get('HealthCheckProtocol')}, expected an enabled HTTP(S) health check"
    )
    assert str(tg.get("HealthCheckPath") or "").startswith("/"), (
        f"target group {name} has health check path {tg.get('HealthCheckPath')!r}, expected a path such as '/'"
    )
    codes = str((tg.get("Matcher") or {}).get("HttpCode", ""))
    accepted = [int(x) for part in codes.split(",") for x in part.split("-") if x.strip().isdigit()]
    assert accepted and all(200 <= x <= 399 for x in accepted), (
        f"target group {name} counts HTTP {codes or 'nothing'} as healthy, expected only codes within 200-399"
    )
    detection = int(tg.get("HealthCheckIntervalSeconds") or 0) * int(tg.get("UnhealthyThresholdCount") or 0)
    assert 0 < detection <= MAX_DETECTION_SECONDS, (
        f"target group {name} needs {detection} s (interval x unhealthy threshold) to mark a dead task unhealthy, "
        f"expected at most {MAX_DETECTION_SECONDS} s"
    )


@check(
    severity="high",
    operational="availability: every desired task is healthy behind the load balancer",
    rationale="The target group holds at least one healthy target per desired task, health-checked for real.",
)
def test_target_group_healthy_targets_cover_desired_count(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.compute
    evidence.attach("DescribeTargetHealth", c.target_health)
    desired = c.service.get("desiredCount", 0)
    healthy = c.healthy_targets
    others = {
        t.get("Target", {}).get("Id"): f"{t.get('TargetHealth', {}).get('State')} "
        f"({t.get('TargetHealth', {}).get('Reason', '')})"
        for t in c.target_health
        if t not in healthy
    }
    assert len(healthy) >= desired, (
        f"target group {_tg_name(inv)} has {len(healthy)} healthy target(s), expected at least the service's "
        f"desired count {desired}; not healthy: {others or 'none registered'}"
    )
