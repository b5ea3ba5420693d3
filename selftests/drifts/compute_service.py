"""Drifts for tests/compute/test_service.py."""

from __future__ import annotations

import requests

from selftests.drifts.registry import DriftContext, drift


def _ecs(ctx: DriftContext):
    return ctx.client("ecs")


def _service(ctx: DriftContext) -> dict:
    return _ecs(ctx).describe_services(cluster=ctx.outputs.ECSClusterName, services=[ctx.outputs.ECSServiceName])[
        "services"
    ][0]


def _update(ctx: DriftContext, **kwargs: object) -> None:
    _ecs(ctx).update_service(cluster=ctx.outputs.ECSClusterName, service=ctx.outputs.ECSServiceName, **kwargs)


def _new_revision(ctx: DriftContext, change) -> None:
    ecs = _ecs(ctx)
    td = ecs.describe_task_definition(taskDefinition=_service(ctx)["taskDefinition"])["taskDefinition"]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "cpu", "memory",
            "requiresCompatibilities")  # fmt: skip
    spec = {k: td[k] for k in keep if td.get(k)}
    change(spec)
    arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    _update(ctx, taskDefinition=arn)


@drift(
    "test_ecs_cluster_active_with_container_insights",
    "Container Insights is switched off on the cluster",
    id="cmp-insights-off",
    names=lambda ctx: ctx.outputs.ECSClusterName,
)
def drift_insights_off(ctx: DriftContext) -> None:
    _ecs(ctx).update_cluster_settings(
        cluster=ctx.outputs.ECSClusterName, settings=[{"name": "containerInsights", "value": "disabled"}]
    )


@drift(
    "test_service_runs_desired_count_within_range",
    "the service is scaled above the environment's maximum",
    id="cmp-desired-above-max",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_desired_above_max(ctx: DriftContext) -> None:
    _update(ctx, desiredCount=ctx.spec.parameters.MaxCapacity + 2)


@drift(
    "test_service_tasks_private_without_public_ip",
    "the service is moved to the public subnets with public IPs",
    id="cmp-tasks-public",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_tasks_public(ctx: DriftContext) -> None:
    cfg = _service(ctx)["networkConfiguration"]["awsvpcConfiguration"]
    moved = dict(cfg, subnets=ctx.outputs.PublicSubnetIds, assignPublicIp="ENABLED")
    _update(ctx, networkConfiguration={"awsvpcConfiguration": moved})


@drift(
    "test_service_circuit_breaker_rolls_back",
    "the deployment circuit breaker is switched off",
    id="cmp-breaker-off",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_breaker_off(ctx: DriftContext) -> None:
    _update(ctx, deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}})


@drift(
    "test_task_logs_to_stack_log_group",
    "a new task definition revision logs to another log group",
    id="cmp-logs-elsewhere",
    names=lambda ctx: "task-definition/",
)
def drift_logs_elsewhere(ctx: DriftContext) -> None:
    def change(spec: dict) -> None:
        spec["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"] = "somewhere-else"

    _new_revision(ctx, change)


@drift(
    "test_task_secrets_come_from_secrets_manager",
    "a new task definition revision passes DB_PASSWORD as a plain environment variable",
    id="cmp-plain-password",
    names=lambda ctx: "task-definition/",
)
def drift_plain_password(ctx: DriftContext) -> None:
    def change(spec: dict) -> None:
        container = spec["containerDefinitions"][0]
        container.pop("secrets", None)
        container.setdefault("environment", []).append({"name": "DB_PASSWORD", "value": "hunter2-plain"})

    _new_revision(ctx, change)


@drift(
    "test_task_size_as_specified",
    "a new task definition revision doubles the CPU",
    id="cmp-task-cpu-doubled",
    names=lambda ctx: "task-definition/",
)
def drift_task_cpu(ctx: DriftContext) -> None:
    def change(spec: dict) -> None:
        spec["cpu"] = str(int(spec["cpu"]) * 2)
        spec["memory"] = str(int(spec["memory"]) * 2)

    _new_revision(ctx, change)


@drift(
    "test_load_balancer_internet_facing_across_public_subnets",
    "the load balancer is moved onto two private subnets",
    id="cmp-lb-private-subnets",
    names=lambda ctx: "payments-dev-drift-lb",
)
def drift_lb_subnets(ctx: DriftContext) -> None:
    ctx.client("elbv2").set_subnets(
        LoadBalancerArn=ctx.outputs.LoadBalancerArn, Subnets=ctx.outputs.PrivateSubnetIds[:2]
    )


@drift(
    "test_listener_forwards_to_service_target_group",
    "the listener is changed to answer a fixed response instead of forwarding",
    id="cmp-listener-fixed-response",
    names=lambda ctx: ctx.outputs.TargetGroupArn,
)
def drift_listener_fixed(ctx: DriftContext) -> None:
    elb = ctx.client("elbv2")
    listener = elb.describe_listeners(LoadBalancerArn=ctx.outputs.LoadBalancerArn)["Listeners"][0]
    elb.modify_listener(
        ListenerArn=listener["ListenerArn"],
        DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"}}
        ],
    )


@drift(
    "test_healthy_targets_cover_desired_count",
    "the task's container stops answering (its target turns unhealthy)",
    id="cmp-target-unhealthy",
    names=lambda ctx: ctx.outputs.TargetGroupArn,
)
def drift_target_unhealthy(ctx: DriftContext) -> None:
    ecs = _ecs(ctx)
    arns = ecs.list_tasks(cluster=ctx.outputs.ECSClusterName, serviceName=ctx.outputs.ECSServiceName)["taskArns"]
    endpoint = ctx.aws.endpoint_url
    for arn in arns:
        requests.post(
            f"{endpoint}/_faithful/dataplane/responders/{arn.rsplit('/', 1)[-1]}/stop", timeout=10
        ).raise_for_status()


@drift(
    "test_service_autoscaling_on_cpu_within_range",
    "the scalable target is re-registered with a maximum of 50 tasks",
    id="cmp-scaling-max-50",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_scaling_max(ctx: DriftContext) -> None:
    ctx.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{ctx.outputs.ECSClusterName}/{ctx.outputs.ECSServiceName}",
        ScalableDimension="ecs:service:DesiredCount",
        MaxCapacity=50,
    )


@drift(
    "test_service_autoscaling_on_cpu_within_range",
    "the CPU target-tracking policy is deleted",
    id="cmp-scaling-policy-deleted",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_scaling_policy_deleted(ctx: DriftContext) -> None:
    aas = ctx.client("application-autoscaling")
    rid = f"service/{ctx.outputs.ECSClusterName}/{ctx.outputs.ECSServiceName}"
    for policy in aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]:
        aas.delete_scaling_policy(
            PolicyName=policy["PolicyName"], ServiceNamespace="ecs", ResourceId=rid,
            ScalableDimension=policy["ScalableDimension"],
        )  # fmt: skip


@drift(
    "test_alarms_notify_the_alarm_topic",
    "the database CPU alarm is re-created without actions",
    id="cmp-alarm-without-actions",
    names=lambda ctx: "db-cpu",
)
def drift_alarm_without_actions(ctx: DriftContext) -> None:
    cw = ctx.client("cloudwatch")
    name = "payments-dev-drift-db-cpu"
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    keep = ("AlarmName", "MetricName", "Namespace", "Statistic", "Period", "EvaluationPeriods", "Threshold",
            "ComparisonOperator", "Dimensions")  # fmt: skip
    cw.put_metric_alarm(**{k: alarm[k] for k in keep if k in alarm}, AlarmActions=[], OKActions=[])
