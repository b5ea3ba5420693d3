"""Compute suite: application auto scaling and the platform's alarms."""

from conformance.checks import check
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import ScalingPolicy

# alarm name suffix -> (namespace, metric, dimension names)
ALARMS = {
    "alb-5xx": ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", {"LoadBalancer"}),
    "target-5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", {"LoadBalancer", "TargetGroup"}),
    "unhealthy-hosts": ("AWS/ApplicationELB", "UnHealthyHostCount", {"LoadBalancer", "TargetGroup"}),
    "service-cpu": ("AWS/ECS", "CPUUtilization", {"ClusterName", "ServiceName"}),
    "db-cpu": ("AWS/RDS", "CPUUtilization", {"DBClusterIdentifier"}),
    "db-connections": ("AWS/RDS", "DatabaseConnections", {"DBClusterIdentifier"}),
}


def _prefix(inv: Inventory) -> str:
    return f"payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}-"


def _dimension_values(inv: Inventory) -> dict[str, str]:
    """What each dimension of the platform's alarms must point at (CloudWatch's own value forms)."""
    lb_arn, tg_arn = inv.outputs.LoadBalancerArn, inv.outputs.TargetGroupArn
    return {
        "LoadBalancer": lb_arn.split(":loadbalancer/", 1)[-1],  # app/<name>/<id>
        "TargetGroup": tg_arn.rsplit(":", 1)[-1],  # targetgroup/<name>/<id>
        "ClusterName": inv.outputs.ECSClusterName,
        "ServiceName": inv.outputs.ECSServiceName.rsplit("/", 1)[-1],
        "DBClusterIdentifier": inv.outputs.AuroraClusterIdentifier,
    }


def _service_resource_id(inv: Inventory) -> str:
    return f"service/{inv.outputs.ECSClusterName}/{inv.outputs.ECSServiceName.rsplit('/', 1)[-1]}"


@check(
    severity="medium",
    operational="capacity: auto scaling between the declared bounds",
    rationale="The service is registered with Application Auto Scaling between the spec's Min and Max capacity.",
)
def test_service_scalable_target_matches_capacity(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    rid = _service_resource_id(inv)
    targets = [
        t for t in inv.compute.scalable_targets
        if t.get("ResourceId") == rid and t.get("ScalableDimension") == "ecs:service:DesiredCount"
    ]  # fmt: skip
    evidence.attach("DescribeScalableTargets", targets)
    want = (spec.parameters.MinCapacity, spec.parameters.MaxCapacity)
    assert targets, f"ECS service {rid} has no scalable target, expected one with min/max {want}"
    got = (targets[0].get("MinCapacity"), targets[0].get("MaxCapacity"))
    assert got == want, f"scalable target of ECS service {rid} has min/max {got}, expected {want} from the spec"
    suspended = {k: v for k, v in (targets[0].get("SuspendedState") or {}).items() if v}
    assert not suspended, f"scalable target of ECS service {rid} has scaling suspended ({suspended}), expected none"


@check(
    severity="medium",
    operational="capacity: tasks are added under load",
    rationale="A target-tracking policy on the service's average CPU adds tasks under load and removes them after.",
)
def test_service_scales_on_cpu_target_tracking(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    rid = _service_resource_id(inv)
    policies = [p for p in inv.compute.scaling_policies if p.get("ResourceId") == rid]
    evidence.attach("DescribeScalingPolicies", policies)

    def on_cpu(p: ScalingPolicy) -> bool:
        cfg = p.get("TargetTrackingScalingPolicyConfiguration")
        predefined = cfg.get("PredefinedMetricSpecification") if cfg else None
        metric = predefined.get("PredefinedMetricType") if predefined else None
        return p.get("PolicyType") == "TargetTrackingScaling" and metric == "ECSServiceAverageCPUUtilization"

    cpu = [p for p in policies if on_cpu(p)]
    assert cpu, (
        f"ECS service {rid} has scaling policies {[(p.get('PolicyName'), p.get('PolicyType')) for p in policies]}, "
        "expected a TargetTrackingScaling policy on ECSServiceAverageCPUUtilization"
    )
    value = cpu[0]["TargetTrackingScalingPolicyConfiguration"].get("TargetValue")
    assert value is not None and 0 < float(value) < 100, (
        f"scaling policy {cpu[0].get('PolicyName')} of ECS service {rid} targets {value} % CPU, "
        "expected a target between 0 and 100"
    )


@check(
    severity="medium",
    operational=(
        "alerting: availability alarms (5xx, unhealthy targets, CPU, connections), not security-control failures"
    ),
    rationale="Alarms watch load balancer 5xx, unhealthy targets, service CPU and database CPU/connections.",
)
def test_platform_alarms_watch_their_metrics(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    by_name = {a.get("AlarmName"): a for a in inv.compute.alarms}
    dims = _dimension_values(inv)
    evidence.attach("DescribeAlarms (metric, dimensions)", {
        n: {k: a.get(k) for k in ("Namespace", "MetricName", "Dimensions")} for n, a in by_name.items()
    })  # fmt: skip
    missing = [_prefix(inv) + s for s in ALARMS if _prefix(inv) + s not in by_name]
    assert not missing, f"alarms {missing} do not exist, expected every platform alarm of {inv.stack_name}"
    wrong = {}
    for suffix, (namespace, metric, names) in ALARMS.items():
        alarm = by_name[_prefix(inv) + suffix]
        observed = {d.get("Name"): d.get("Value") for d in alarm.get("Dimensions", [])}
        expected = {n: dims[n] for n in names}
        if (alarm.get("Namespace"), alarm.get("MetricName"), observed) != (namespace, metric, expected):
            wrong[alarm["AlarmName"]] = (
                f"{alarm.get('Namespace')}/{alarm.get('MetricName')} {observed}, "
                f"expected {namespace}/{metric} {expected}"
            )
    assert not wrong, f"alarms watch the wrong metric or resource: {wrong}"


@check(
    severity="medium",
    operational="alerting: availability alarms notify on-call",
    rationale="Every platform alarm notifies the environment's on-call SNS topic, with its actions enabled.",
)
def test_platform_alarms_notify_alarm_topic(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    topic = inv.outputs.AlarmTopicArn
    wanted = [_prefix(inv) + s for s in ALARMS]
    alarms = [a for a in inv.compute.alarms if a.get("AlarmName") in wanted]
    evidence.attach("alarm actions", {
        a["AlarmName"]: {"ActionsEnabled": a.get("ActionsEnabled"), "AlarmActions": a.get("AlarmActions")}
        for a in alarms
    })  # fmt: skip
    assert alarms, f"none of the alarms {wanted} exists, expected each to notify {topic}"
    silent = {
        a["AlarmName"]: f"actions {'enabled' if a.get('ActionsEnabled') else 'disabled'}, "
        f"AlarmActions {a.get('AlarmActions') or []}"
        for a in alarms
        if not a.get("ActionsEnabled") or topic not in (a.get("AlarmActions") or [])
    }
    assert not silent, (
        f"alarms do not notify {topic}: {silent}; expected actions enabled with the topic in AlarmActions"
    )
