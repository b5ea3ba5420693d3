"""Compute: ECS cluster, service, tasks and task definition, the load balancer, auto scaling, alarms."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from pydantic import Field

from conformance.aws import AwsSession
from conformance.inventory.base import Raw, Section, attempt, paginate
from conformance.outputs import StackOutputs


class ComputeSection(Section):
    cluster: Raw = Field(default_factory=dict)
    service: Raw = Field(default_factory=dict)
    task_definition: Raw = Field(default_factory=dict)
    tasks: list[Raw] = Field(default_factory=list)
    load_balancer: Raw = Field(default_factory=dict)
    listeners: list[Raw] = Field(default_factory=list)
    target_group: Raw = Field(default_factory=dict)
    target_health: list[Raw] = Field(default_factory=list)
    scalable_targets: list[Raw] = Field(default_factory=list)
    scaling_policies: list[Raw] = Field(default_factory=list)
    alarms: list[Raw] = Field(default_factory=list)

    @property
    def healthy_targets(self) -> list[Raw]:
        return [t for t in self.target_health if t.get("TargetHealth", {}).get("State") == "healthy"]


def collect_compute(aws: AwsSession, outputs: StackOutputs) -> ComputeSection:
    ecs = aws.client("ecs")
    elb = aws.client("elbv2")
    aas = aws.client("application-autoscaling")
    cw = aws.client("cloudwatch")
    s = ComputeSection()
    cluster, service_name = outputs.ECSClusterName, outputs.ECSServiceName
    resource_id = f"service/{cluster}/{service_name.rsplit('/', 1)[-1]}"
    prefix = f"payments-{outputs.EnvironmentName}-{outputs.EnvironmentSuffix}-"

    def ecs_part() -> None:
        clusters = attempt(
            s, "ecs:DescribeClusters",
            lambda: ecs.describe_clusters(clusters=[cluster], include=["SETTINGS", "TAGS"])["clusters"], [],
        )  # fmt: skip
        s.cluster = clusters[0] if clusters else {}
        services = attempt(
            s, "ecs:DescribeServices",
            lambda: ecs.describe_services(cluster=cluster, services=[service_name], include=["TAGS"])["services"],
            [],
        )  # fmt: skip
        s.service = services[0] if services else {}
        if s.service.get("taskDefinition"):
            td = attempt(
                s, "ecs:DescribeTaskDefinition",
                lambda: ecs.describe_task_definition(taskDefinition=s.service["taskDefinition"], include=["TAGS"]),
                {},
            )  # fmt: skip
            s.task_definition = td.get("taskDefinition", {})
        arns = attempt(
            s, "ecs:ListTasks",
            lambda: paginate(ecs, "list_tasks", "taskArns", cluster=cluster, serviceName=service_name), [],
        )  # fmt: skip
        if arns:
            s.tasks = attempt(
                s,
                "ecs:DescribeTasks",
                lambda: ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"],
                [],
            )

    def elb_part() -> None:
        lbs = attempt(
            s, "elasticloadbalancing:DescribeLoadBalancers",
            lambda: elb.describe_load_balancers(LoadBalancerArns=[outputs.LoadBalancerArn])["LoadBalancers"], [],
        )  # fmt: skip
        s.load_balancer = lbs[0] if lbs else {}
        s.listeners = attempt(
            s, "elasticloadbalancing:DescribeListeners",
            lambda: paginate(elb, "describe_listeners", "Listeners", LoadBalancerArn=outputs.LoadBalancerArn), [],
        )  # fmt: skip
        tgs = attempt(
            s, "elasticloadbalancing:DescribeTargetGroups",
            lambda: elb.describe_target_groups(TargetGroupArns=[outputs.TargetGroupArn])["TargetGroups"], [],
        )  # fmt: skip
        s.target_group = tgs[0] if tgs else {}
        s.target_health = attempt(
            s, "elasticloadbalancing:DescribeTargetHealth",
            lambda: elb.describe_target_health(TargetGroupArn=outputs.TargetGroupArn)["TargetHealthDescriptions"],
            [],
        )  # fmt: skip

    def scaling_part() -> None:
        s.scalable_targets = attempt(
            s, "application-autoscaling:DescribeScalableTargets",
            lambda: paginate(
                aas, "describe_scalable_targets", "ScalableTargets", ServiceNamespace="ecs", ResourceIds=[resource_id]
            ),
            [],
        )  # fmt: skip
        s.scaling_policies = attempt(
            s, "application-autoscaling:DescribeScalingPolicies",
            lambda: paginate(
                aas, "describe_scaling_policies", "ScalingPolicies", ServiceNamespace="ecs", ResourceId=resource_id
            ),
            [],
        )  # fmt: skip

    def alarms_part() -> None:
        s.alarms = attempt(
            s, "cloudwatch:DescribeAlarms",
            lambda: paginate(cw, "describe_alarms", "MetricAlarms", AlarmNamePrefix=prefix), [],
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="inventory-compute") as pool:
        for fut in [pool.submit(p) for p in (ecs_part, elb_part, scaling_part, alarms_part)]:
            fut.result()
    return s
