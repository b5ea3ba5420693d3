"""Drifts for the compute suite (tests/compute/): each breaks the deployed stack one way."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import requests

from selftests.drifts.registry import DriftContext, drift, noop


def _service(ctx: DriftContext) -> dict[str, Any]:
    ecs = ctx.client("ecs")
    return ecs.describe_services(cluster=ctx.outputs.ECSClusterName, services=[ctx.outputs.ECSServiceName])["services"][
        0
    ]


def _update_service(ctx: DriftContext, **kwargs: Any) -> None:
    ctx.client("ecs").update_service(cluster=ctx.outputs.ECSClusterName, service=ctx.outputs.ECSServiceName, **kwargs)


def _network(ctx: DriftContext, *, subnets: list[str], public_ip: str) -> dict[str, Any]:
    groups = _service(ctx)["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"]
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups, "assignPublicIp": public_ip}}


def _new_task_revision(ctx: DriftContext, change: Callable[[dict[str, Any]], None]) -> None:
    """Register a changed revision of the service's task definition and deploy it."""
    ecs = ctx.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=_service(ctx)["taskDefinition"])["taskDefinition"]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "cpu", "memory",
            "requiresCompatibilities")  # fmt: skip
    spec = json.loads(json.dumps({k: td[k] for k in keep if td.get(k)}))
    change(spec)
    arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    _update_service(ctx, taskDefinition=arn)


def _family(ctx: DriftContext) -> str:
    return f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}-task"


def _prefix(ctx: DriftContext) -> str:
    return f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}-"


def _lb_name(ctx: DriftContext) -> str:
    return ctx.outputs.LoadBalancerArn.split("/")[-2]


def _tg_name(ctx: DriftContext) -> str:
    return ctx.outputs.TargetGroupArn.split("/")[-2]


def _alarm(ctx: DriftContext, suffix: str) -> dict[str, Any]:
    return ctx.client("cloudwatch").describe_alarms(AlarmNames=[_prefix(ctx) + suffix])["MetricAlarms"][0]


def _put_alarm(ctx: DriftContext, alarm: dict[str, Any]) -> None:
    keys = ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period",
            "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
            "ActionsEnabled", "AlarmActions", "OKActions")  # fmt: skip
    ctx.client("cloudwatch").put_metric_alarm(**{k: alarm[k] for k in keys if k in alarm})


def _scalable_target(ctx: DriftContext, **kwargs: Any) -> None:
    ctx.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{ctx.outputs.ECSClusterName}/{ctx.outputs.ECSServiceName}",
        ScalableDimension="ecs:service:DesiredCount",
        **kwargs,
    )


# ---------------------------------------------------------------- cluster and service


@drift(
    "test_ecs_cluster_is_active_with_container_insights",
    "Container Insights is switched off on the cluster",
    id="compute-container-insights-disabled",
    names=lambda ctx: ctx.outputs.ECSClusterName,
)
def drift_container_insights_disabled(ctx: DriftContext) -> None:
    ctx.client("ecs").update_cluster_settings(
        cluster=ctx.outputs.ECSClusterName, settings=[{"name": "containerInsights", "value": "disabled"}]
    )


@drift(
    "test_ecs_service_is_active_on_fargate",
    "the service is moved from the FARGATE launch type to a FARGATE_SPOT capacity provider strategy",
    id="compute-service-on-fargate-spot",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_on_fargate_spot(ctx: DriftContext) -> None:
    ctx.client("ecs").put_cluster_capacity_providers(
        cluster=ctx.outputs.ECSClusterName, capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[],
    )  # fmt: skip
    _update_service(
        ctx, capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}], forceNewDeployment=True
    )


@drift(
    "test_ecs_service_tasks_in_private_subnets_only",
    "the service is moved to the public subnets (public IP still disabled)",
    id="compute-service-in-public-subnets",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_in_public_subnets(ctx: DriftContext) -> None:
    _update_service(ctx, networkConfiguration=_network(ctx, subnets=ctx.outputs.PublicSubnetIds, public_ip="DISABLED"))


@drift(
    "test_ecs_service_tasks_have_no_public_ip",
    "the service's tasks get public IPs (still in the private subnets)",
    id="compute-service-assigns-public-ip",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_assigns_public_ip(ctx: DriftContext) -> None:
    _update_service(ctx, networkConfiguration=_network(ctx, subnets=ctx.outputs.PrivateSubnetIds, public_ip="ENABLED"))


@drift(
    "test_ecs_service_runs_desired_count_within_capacity",
    "the service is scaled to zero, below the environment's MinCapacity",
    id="compute-service-below-min-capacity",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_below_min_capacity(ctx: DriftContext) -> None:
    _update_service(ctx, desiredCount=0)


@drift(
    "test_ecs_service_runs_desired_count_within_capacity",
    "the service is scaled by hand above the environment's MaxCapacity",
    id="compute-service-above-max-capacity",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_above_max_capacity(ctx: DriftContext) -> None:
    _update_service(ctx, desiredCount=ctx.spec.parameters.MaxCapacity + 1)


@drift(
    "test_ecs_service_desired_count_as_specified_or_autoscaled",
    "the service is scaled by hand within its range, with no auto scaling activity behind it",
    id="compute-service-scaled-by-hand",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_scaled_by_hand(ctx: DriftContext) -> None:
    p = ctx.spec.parameters
    _update_service(ctx, desiredCount=p.DesiredCount + 1 if p.DesiredCount < p.MaxCapacity else p.DesiredCount - 1)


@drift(
    "test_ecs_service_circuit_breaker_enabled_with_rollback",
    "the deployment circuit breaker is switched off",
    id="compute-circuit-breaker-off",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_circuit_breaker_off(ctx: DriftContext) -> None:
    _update_service(ctx, deploymentConfiguration={
        "maximumPercent": 200, "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    })  # fmt: skip


@drift(
    "test_ecs_service_circuit_breaker_enabled_with_rollback",
    "the circuit breaker stays on but no longer rolls back",
    id="compute-circuit-breaker-no-rollback",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_circuit_breaker_no_rollback(ctx: DriftContext) -> None:
    _update_service(ctx, deploymentConfiguration={
        "maximumPercent": 200, "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": True, "rollback": False},
    })  # fmt: skip


@drift(
    "test_ecs_service_health_check_grace_covers_target_group_warm_up",
    "the service's health-check grace period is set to 0 s (the target group needs 60 s)",
    id="compute-grace-period-zero",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_grace_period_zero(ctx: DriftContext) -> None:
    _update_service(ctx, healthCheckGracePeriodSeconds=0)


@drift(
    "test_ecs_service_tasks_carry_the_platform_tags",
    "the service stops propagating its tags and redeploys: its new tasks carry none",
    id="compute-tags-not-propagated",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_tags_not_propagated(ctx: DriftContext) -> None:
    _update_service(ctx, propagateTags="NONE", forceNewDeployment=True)


# ---------------------------------------------------------------- task definition


def _first_container(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["containerDefinitions"][0]


@drift(
    "test_task_definition_logs_to_stack_app_log_group",
    "a new task definition revision logs to another log group",
    id="compute-task-logs-elsewhere",
    names=_family,
)
def drift_task_logs_elsewhere(ctx: DriftContext) -> None:
    def change(spec: dict[str, Any]) -> None:
        _first_container(spec)["logConfiguration"]["options"]["awslogs-group"] = "/ecs/unmanaged-app-logs"

    _new_task_revision(ctx, change)


@drift(
    "test_task_definition_environment_holds_no_secrets",
    "a new task definition revision passes the DB password as a plain environment variable",
    id="compute-task-plain-password",
    names=_family,
)
def drift_task_plain_password(ctx: DriftContext) -> None:
    def change(spec: dict[str, Any]) -> None:
        _first_container(spec)["environment"].append({"name": "DB_MASTER_PASSWORD", "value": "Zq8!vR2#pL5@wX9$"})

    _new_task_revision(ctx, change)


@drift(
    "test_task_definition_environment_holds_no_secrets",
    "a new task definition revision passes a connection URL with credentials under an innocent name",
    id="compute-task-credential-url",
    names=_family,
)
def drift_task_credential_url(ctx: DriftContext) -> None:
    def change(spec: dict[str, Any]) -> None:
        _first_container(spec)["environment"].append(
            {"name": "DATABASE_URL", "value": "mysql://payments:Zq8vR2pL5wX9@db.internal:3306/payments"}
        )

    _new_task_revision(ctx, change)


@drift(
    "test_task_definition_db_password_from_stack_secret",
    "a new task definition revision takes the DB password from an SSM parameter instead of the stack's secret",
    id="compute-task-password-from-elsewhere",
    names=_family,
)
def drift_task_password_from_elsewhere(ctx: DriftContext) -> None:
    def change(spec: dict[str, Any]) -> None:
        for secret in _first_container(spec)["secrets"]:
            if secret["name"] == "DB_PASSWORD":
                secret["valueFrom"] = f"arn:aws:ssm:{ctx.spec.region}:000000000000:parameter/payments/db-password"

    _new_task_revision(ctx, change)


@drift(
    "test_task_definition_cpu_memory_as_specified",
    "a new task definition revision doubles the task's CPU and memory",
    id="compute-task-resized",
    names=_family,
)
def drift_task_resized(ctx: DriftContext) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["cpu"], spec["memory"] = str(ctx.spec.parameters.TaskCpu * 2), str(ctx.spec.parameters.TaskMemory * 2)

    _new_task_revision(ctx, change)


# ---------------------------------------------------------------- load balancer and targets


def _internal_load_balancer(doc: dict[str, Any]) -> dict[str, Any]:
    doc["Resources"]["ApplicationLoadBalancer"]["Properties"]["Scheme"] = "internal"
    return doc


drift(
    "test_load_balancer_is_internet_facing_application",
    "the load balancer is created internal (the scheme cannot be changed through the API)",
    id="compute-load-balancer-internal",
    template=_internal_load_balancer,
    names=_lb_name,
)(noop)


@drift(
    "test_load_balancer_spans_public_subnets_in_every_az",
    "the load balancer is narrowed to two of the three public subnets",
    id="compute-load-balancer-two-azs",
    names=_lb_name,
)
def drift_load_balancer_two_azs(ctx: DriftContext) -> None:
    ctx.client("elbv2").set_subnets(
        LoadBalancerArn=ctx.outputs.LoadBalancerArn, Subnets=ctx.outputs.PublicSubnetIds[:2]
    )


@drift(
    "test_load_balancer_spans_public_subnets_in_every_az",
    "the load balancer is moved into the private subnets",
    id="compute-load-balancer-private-subnets",
    names=_lb_name,
)
def drift_load_balancer_private_subnets(ctx: DriftContext) -> None:
    ctx.client("elbv2").set_subnets(LoadBalancerArn=ctx.outputs.LoadBalancerArn, Subnets=ctx.outputs.PrivateSubnetIds)


def _lb_attribute(ctx: DriftContext, key: str, value: str) -> None:
    ctx.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=ctx.outputs.LoadBalancerArn, Attributes=[{"Key": key, "Value": value}]
    )


@drift(
    "test_load_balancer_drops_invalid_headers_and_mitigates_desync",
    "the load balancer stops dropping invalid header fields (passes them to the service)",
    id="compute-load-balancer-invalid-headers-passed",
    names=_lb_name,
)
def drift_load_balancer_invalid_headers_passed(ctx: DriftContext) -> None:
    _lb_attribute(ctx, "routing.http.drop_invalid_header_fields.enabled", "false")


@drift(
    "test_load_balancer_drops_invalid_headers_and_mitigates_desync",
    "the load balancer's desync mitigation is set to monitor (it lets every request through)",
    id="compute-load-balancer-desync-monitor",
    names=_lb_name,
)
def drift_load_balancer_desync_monitor(ctx: DriftContext) -> None:
    _lb_attribute(ctx, "routing.http.desync_mitigation_mode", "monitor")


@drift(
    "test_load_balancer_deletion_protection_as_specified",
    "staging's load balancer has its deletion protection turned off",
    id="compute-load-balancer-deletion-protection-off",
    env="staging",
    names=_lb_name,
)
def drift_load_balancer_deletion_protection_off(ctx: DriftContext) -> None:
    _lb_attribute(ctx, "deletion_protection.enabled", "false")


@drift(
    "test_load_balancer_deletion_protection_as_specified",
    "dev's load balancer has deletion protection turned on, which its environment does not specify",
    id="compute-load-balancer-deletion-protection-on-in-dev",
    names=_lb_name,
)
def drift_load_balancer_deletion_protection_on(ctx: DriftContext) -> None:
    _lb_attribute(ctx, "deletion_protection.enabled", "true")


def _listener_arn(ctx: DriftContext, port: int = 443) -> str:
    """The ARN of the listener on ``port`` (the HTTPS listener by default, the one that forwards)."""
    listeners = ctx.client("elbv2").describe_listeners(LoadBalancerArn=ctx.outputs.LoadBalancerArn)["Listeners"]
    return str(next(lst["ListenerArn"] for lst in listeners if lst["Port"] == port))


@drift(
    "test_load_balancer_listener_forwards_only_to_service_tg",
    "the listener answers with a fixed response instead of forwarding to the service",
    id="compute-listener-fixed-response",
    names=_lb_name,
)
def drift_listener_fixed_response(ctx: DriftContext) -> None:
    ctx.client("elbv2").modify_listener(ListenerArn=_listener_arn(ctx), DefaultActions=[{
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "maintenance"},
    }])  # fmt: skip


@drift(
    "test_load_balancer_listener_forwards_only_to_service_tg",
    "the listener forwards to another target group",
    id="compute-listener-other-target-group",
    names=_lb_name,
)
def drift_listener_other_target_group(ctx: DriftContext) -> None:
    elb = ctx.client("elbv2")
    other = elb.create_target_group(
        Name=f"{_prefix(ctx)}other", Protocol="HTTP", Port=80, VpcId=ctx.outputs.VPCId, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_listener(ListenerArn=_listener_arn(ctx), DefaultActions=[{"Type": "forward", "TargetGroupArn": other}])


@drift(
    "test_target_group_is_ip_type_with_health_check",
    "the target group counts 4xx answers as healthy",
    id="compute-target-group-lenient-matcher",
    names=_tg_name,
)
def drift_target_group_lenient_matcher(ctx: DriftContext) -> None:
    ctx.client("elbv2").modify_target_group(TargetGroupArn=ctx.outputs.TargetGroupArn, Matcher={"HttpCode": "200-499"})


@drift(
    "test_target_group_is_ip_type_with_health_check",
    "the target group needs 50 minutes to notice a dead task",
    id="compute-target-group-slow-health-check",
    names=_tg_name,
)
def drift_target_group_slow_health_check(ctx: DriftContext) -> None:
    ctx.client("elbv2").modify_target_group(
        TargetGroupArn=ctx.outputs.TargetGroupArn, HealthCheckIntervalSeconds=300, UnhealthyThresholdCount=10
    )


def _stop_responders(ctx: DriftContext) -> None:
    """The emulator's test-only control route: the tasks stay RUNNING but stop answering (hung)."""
    ecs = ctx.client("ecs")
    arns = ecs.list_tasks(cluster=ctx.outputs.ECSClusterName, serviceName=ctx.outputs.ECSServiceName)["taskArns"]
    assert arns, "the service has no task to hang"
    for arn in arns:
        url = f"{ctx.aws.endpoint_url}/_faithful/dataplane/responders/{arn.rsplit('/', 1)[-1]}/stop"
        requests.post(url, timeout=10).raise_for_status()


drift(
    "test_target_group_healthy_targets_cover_desired_count",
    "every task hangs (its container stops answering while the task stays RUNNING)",
    id="compute-tasks-hung-unhealthy",
    names=_tg_name,
)(_stop_responders)

drift(
    "test_load_balancer_answers_https_200",
    "every task hangs, so the load balancer answers 502",
    id="compute-tasks-hung-502",
    names=lambda ctx: ctx.outputs.LoadBalancerDNS,
)(_stop_responders)


@drift(
    "test_target_group_targets_are_private_addresses",
    "a stray address in a public subnet is registered in the service's target group",
    id="compute-stray-public-target",
    names=lambda ctx: _stray_address(ctx),
)
def drift_stray_public_target(ctx: DriftContext) -> None:
    ctx.client("elbv2").register_targets(
        TargetGroupArn=ctx.outputs.TargetGroupArn, Targets=[{"Id": _stray_address(ctx), "Port": 80}]
    )


def _stray_address(ctx: DriftContext) -> str:
    subnet = ctx.client("ec2").describe_subnets(SubnetIds=[ctx.outputs.PublicSubnetIds[0]])["Subnets"][0]
    return str(ipaddress.ip_network(subnet["CidrBlock"]).network_address + 10)


# ---------------------------------------------------------------- scaling and alarms


@drift(
    "test_service_scalable_target_matches_capacity",
    "the scalable target is re-registered with min 0 and max 1",
    id="compute-scalable-target-narrowed",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_scalable_target_narrowed(ctx: DriftContext) -> None:
    _scalable_target(ctx, MinCapacity=0, MaxCapacity=1)


@drift(
    "test_service_scalable_target_matches_capacity",
    "dynamic scale-out is suspended on the scalable target",
    id="compute-scaling-suspended",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_scaling_suspended(ctx: DriftContext) -> None:
    _scalable_target(ctx, SuspendedState={"DynamicScalingOutSuspended": True})


@drift(
    "test_service_scales_on_cpu_target_tracking",
    "the CPU target-tracking policy is deleted",
    id="compute-scaling-policy-deleted",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_scaling_policy_deleted(ctx: DriftContext) -> None:
    ctx.client("application-autoscaling").delete_scaling_policy(
        PolicyName=f"{_prefix(ctx)}cpu-target-tracking", ServiceNamespace="ecs",
        ResourceId=f"service/{ctx.outputs.ECSClusterName}/{ctx.outputs.ECSServiceName}",
        ScalableDimension="ecs:service:DesiredCount",
    )  # fmt: skip


@drift(
    "test_platform_alarms_watch_their_metrics",
    "the database connections alarm is deleted",
    id="compute-alarm-deleted",
    names=lambda ctx: f"{_prefix(ctx)}db-connections",
)
def drift_alarm_deleted(ctx: DriftContext) -> None:
    ctx.client("cloudwatch").delete_alarms(AlarmNames=[f"{_prefix(ctx)}db-connections"])


@drift(
    "test_platform_alarms_watch_their_metrics",
    "the service CPU alarm is pointed at another service",
    id="compute-alarm-wrong-dimension",
    names=lambda ctx: f"{_prefix(ctx)}service-cpu",
)
def drift_alarm_wrong_dimension(ctx: DriftContext) -> None:
    alarm = _alarm(ctx, "service-cpu")
    alarm["Dimensions"] = [
        {"Name": d["Name"], "Value": "retired-service" if d["Name"] == "ServiceName" else d["Value"]}
        for d in alarm["Dimensions"]
    ]
    _put_alarm(ctx, alarm)


@drift(
    "test_platform_alarms_notify_alarm_topic",
    "the database CPU alarm is re-created without alarm actions",
    id="compute-alarm-without-actions",
    names=lambda ctx: f"{_prefix(ctx)}db-cpu",
)
def drift_alarm_without_actions(ctx: DriftContext) -> None:
    alarm = _alarm(ctx, "db-cpu")
    alarm["AlarmActions"], alarm["OKActions"] = [], []
    _put_alarm(ctx, alarm)


@drift(
    "test_platform_alarms_notify_alarm_topic",
    "the unhealthy-hosts alarm's actions are disabled",
    id="compute-alarm-actions-disabled",
    names=lambda ctx: f"{_prefix(ctx)}unhealthy-hosts",
)
def drift_alarm_actions_disabled(ctx: DriftContext) -> None:
    alarm = _alarm(ctx, "unhealthy-hosts")
    alarm["ActionsEnabled"] = False
    _put_alarm(ctx, alarm)


# ---------------------------------------------------------------- IAM


@drift(
    "test_task_roles_grant_no_wildcard_action_on_wildcard_resource",
    "an inline policy on the task role allows every action on every resource",
    id="compute-task-role-inline-admin",
    names=lambda ctx: f"{_prefix(ctx)}task-role",
)
def drift_task_role_inline_admin(ctx: DriftContext) -> None:
    ctx.client("iam").put_role_policy(
        RoleName=f"{_prefix(ctx)}task-role", PolicyName="debug-everything",
        PolicyDocument=json.dumps({"Version": "2012-10-17",
                                   "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )  # fmt: skip


@drift(
    "test_task_roles_grant_no_wildcard_action_on_wildcard_resource",
    "AdministratorAccess is attached to the task execution role",
    id="compute-exec-role-administrator",
    names=lambda ctx: f"{_prefix(ctx)}task-exec-role",
)
def drift_exec_role_administrator(ctx: DriftContext) -> None:
    ctx.client("iam").attach_role_policy(
        RoleName=f"{_prefix(ctx)}task-exec-role", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )


# ---------------------------------------------------------------- ECS Exec (tests/compute/test_ecs_exec.py)


@drift(
    "test_ecs_exec_is_disabled",
    "ECS Exec is switched on for the service (UpdateService enableExecuteCommand, new deployment)",
    id="compute-service-exec-enabled",
    names=lambda ctx: ctx.outputs.ECSServiceName,
)
def drift_service_exec_enabled(ctx: DriftContext) -> None:
    _update_service(ctx, enableExecuteCommand=True, forceNewDeployment=True)


@drift(
    "test_ecs_exec_is_disabled",
    "an inline policy on the task role allows the ssmmessages channels ECS Exec opens",
    id="compute-task-role-exec-channels",
    names=lambda ctx: f"{_prefix(ctx)}task-role",
)
def drift_task_role_exec_channels(ctx: DriftContext) -> None:
    ctx.client("iam").put_role_policy(
        RoleName=f"{_prefix(ctx)}task-role", PolicyName="ecs-exec",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ssmmessages:Create*", "ssmmessages:Open*"], "Resource": "*"}]}),
    )  # fmt: skip
