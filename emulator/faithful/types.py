"""CloudFormation property types: resource providers get the types their schema declares.

Gaps in MiniStack 1.5.33 that this closes (measured against deploy/template.yaml):

1. A ``Ref`` to a ``Type: Number`` parameter is a string (on AWS too: "when you use the
   parameter elsewhere in your template, the parameter value becomes a string"). On AWS
   each resource *provider* then reads the property with its schema's type, so
   ``DesiredCount: !Ref DesiredCount`` reaches ECS as the integer 1. MiniStack handed the
   raw string to its handlers: ``AWS::ECS::Service`` failed with "unsupported operand
   type(s) for -: 'str' and 'int'", and JSON-protocol services stored and echoed ``"3"``
   where AWS answers ``3``. Here every create, update and delete gets its properties
   coerced per :data:`SCHEMA` (integer, number or string properties, by resource type, from
   the CloudFormation resource schemas). Only what the schema types is touched; a value
   that is not a clean numeric string is left as is, so the handler fails as before rather
   than with a guess. The reverse case is covered too: a literal ``Cpu: 256`` of a task
   definition is a string in the schema, and ``describe_task_definition`` says ``"256"``.
2. A failed ``AWS::ECS::Service`` create left the half-made service ACTIVE behind, so the
   next attempt (a retry, or the stack created again after the rollback) failed with
   "Creation of service was not idempotent". On AWS the failed resource is rolled back.
   Here a service that did not exist before a failed create is deleted again (tasks
   stopped, status INACTIVE, as ``DeleteService`` leaves it).

The coercion is applied where the engine dispatches to handlers
(``provisioners._provision_resource`` / ``_update_resource`` / ``_delete_resource``, and
the names ``stacks.py`` imported), not by wrapping handler-table entries, so handlers that
other extensions register later are covered too.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from typing import Any

log = logging.getLogger("faithful.types")

_installed = False

INT, NUM, STR = "integer", "number", "string"

# Resource type -> {property path: schema type}. A path is dotted; ``[]`` maps over a list.
# From the CloudFormation resource schemas (``aws cloudformation describe-type``) of the
# types MiniStack provisions that this platform and its tests use.
SCHEMA: dict[str, dict[str, str]] = {
    "AWS::ECS::Service": {
        "DesiredCount": INT,
        "HealthCheckGracePeriodSeconds": INT,
        "LoadBalancers[].ContainerPort": INT,
        "DeploymentConfiguration.MaximumPercent": INT,
        "DeploymentConfiguration.MinimumHealthyPercent": INT,
        "CapacityProviderStrategy[].Base": INT,
        "CapacityProviderStrategy[].Weight": INT,
        "ServiceRegistries[].Port": INT,
        "ServiceRegistries[].ContainerPort": INT,
    },
    "AWS::ECS::TaskDefinition": {
        "Cpu": STR,
        "Memory": STR,
        "ContainerDefinitions[].Cpu": INT,
        "ContainerDefinitions[].Memory": INT,
        "ContainerDefinitions[].MemoryReservation": INT,
        "ContainerDefinitions[].StartTimeout": INT,
        "ContainerDefinitions[].StopTimeout": INT,
        "ContainerDefinitions[].PortMappings[].ContainerPort": INT,
        "ContainerDefinitions[].PortMappings[].HostPort": INT,
        "ContainerDefinitions[].HealthCheck.Interval": INT,
        "ContainerDefinitions[].HealthCheck.Retries": INT,
        "ContainerDefinitions[].HealthCheck.StartPeriod": INT,
        "ContainerDefinitions[].HealthCheck.Timeout": INT,
        "ContainerDefinitions[].Ulimits[].HardLimit": INT,
        "ContainerDefinitions[].Ulimits[].SoftLimit": INT,
        "EphemeralStorage.SizeInGiB": INT,
    },
    "AWS::ApplicationAutoScaling::ScalableTarget": {
        "MinCapacity": INT,
        "MaxCapacity": INT,
        "ScheduledActions[].ScalableTargetAction.MinCapacity": INT,
        "ScheduledActions[].ScalableTargetAction.MaxCapacity": INT,
    },
    "AWS::ApplicationAutoScaling::ScalingPolicy": {
        "TargetTrackingScalingPolicyConfiguration.TargetValue": NUM,
        "TargetTrackingScalingPolicyConfiguration.ScaleInCooldown": INT,
        "TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown": INT,
        "StepScalingPolicyConfiguration.Cooldown": INT,
        "StepScalingPolicyConfiguration.MinAdjustmentMagnitude": INT,
        "StepScalingPolicyConfiguration.StepAdjustments[].ScalingAdjustment": INT,
        "StepScalingPolicyConfiguration.StepAdjustments[].MetricIntervalLowerBound": NUM,
        "StepScalingPolicyConfiguration.StepAdjustments[].MetricIntervalUpperBound": NUM,
    },
    "AWS::ElasticLoadBalancingV2::TargetGroup": {
        "Port": INT,
        "HealthCheckIntervalSeconds": INT,
        "HealthCheckTimeoutSeconds": INT,
        "HealthyThresholdCount": INT,
        "UnhealthyThresholdCount": INT,
        "Targets[].Port": INT,
    },
    "AWS::ElasticLoadBalancingV2::Listener": {"Port": INT},
    "AWS::ElasticLoadBalancingV2::ListenerRule": {"Priority": INT},
    "AWS::EC2::SecurityGroup": {
        "SecurityGroupIngress[].FromPort": INT,
        "SecurityGroupIngress[].ToPort": INT,
        "SecurityGroupEgress[].FromPort": INT,
        "SecurityGroupEgress[].ToPort": INT,
    },
    "AWS::EC2::SecurityGroupIngress": {"FromPort": INT, "ToPort": INT},
    "AWS::EC2::SecurityGroupEgress": {"FromPort": INT, "ToPort": INT},
    "AWS::EC2::FlowLog": {"MaxAggregationInterval": INT},
    "AWS::RDS::DBCluster": {
        "BackupRetentionPeriod": INT,
        "Port": INT,
        "MonitoringInterval": INT,
        "PerformanceInsightsRetentionPeriod": INT,
        "ServerlessV2ScalingConfiguration.MinCapacity": NUM,
        "ServerlessV2ScalingConfiguration.MaxCapacity": NUM,
    },
    # AllocatedStorage and Port of a DB instance are strings in its schema.
    "AWS::RDS::DBInstance": {
        "BackupRetentionPeriod": INT,
        "PromotionTier": INT,
        "MonitoringInterval": INT,
        "Iops": INT,
        "PerformanceInsightsRetentionPeriod": INT,
        "AllocatedStorage": STR,
        "Port": STR,
    },
    "AWS::Logs::LogGroup": {"RetentionInDays": INT},
    "AWS::CloudWatch::Alarm": {
        "EvaluationPeriods": INT,
        "DatapointsToAlarm": INT,
        "Period": INT,
        "Threshold": NUM,
        "Metrics[].MetricStat.Period": INT,
        "Metrics[].Period": INT,
    },
    "AWS::SecretsManager::Secret": {"GenerateSecretString.PasswordLength": INT},
    "AWS::KMS::Key": {"PendingWindowInDays": INT},
    "AWS::Lambda::Function": {"MemorySize": INT, "Timeout": INT, "ReservedConcurrentExecutions": INT},
}

_INT_RE = re.compile(r"^\s*[-+]?\d+\s*$")
_NUM_RE = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _convert(value: Any, kind: str) -> Any:
    if isinstance(value, bool):
        return value
    if kind == INT and isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    if kind == INT and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == NUM and isinstance(value, str) and _NUM_RE.match(value):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if kind == STR and isinstance(value, int | float):
        return str(value)
    return value


def _apply(node: Any, parts: list[str], kind: str) -> None:
    if not parts or node is None:
        return
    head, rest = parts[0], parts[1:]
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    if not isinstance(node, dict) or key not in node:
        return
    if is_list:
        items = node[key]
        if not isinstance(items, list):
            return
        if not rest:
            node[key] = [_convert(v, kind) for v in items]
        else:
            for item in items:
                _apply(item, rest, kind)
    elif rest:
        _apply(node[key], rest, kind)
    else:
        node[key] = _convert(node[key], kind)


def coerce(resource_type: str, props: Any) -> Any:
    """A copy of ``props`` with each property typed as the resource schema declares."""
    paths = SCHEMA.get(resource_type)
    if not paths or not isinstance(props, dict):
        return props
    props = copy.deepcopy(props)
    for path, kind in paths.items():
        _apply(props, path.split("."), kind)
    return props


# ---------------------------------------------------------------- failed-create rollback
def _ecs_service_key(props: dict, logical_id: str, stack_name: str) -> tuple[str, str]:
    from ministack.services import ecs

    cluster_ref = str(props.get("Cluster") or "default")
    cluster = ecs._resolve_cluster_name(cluster_ref) or cluster_ref.rsplit("/", 1)[-1]
    name = str(props.get("ServiceName") or f"{stack_name}-{logical_id}")
    return cluster, name


def _ecs_service_rollback(logical_id: str, props: dict, stack_name: str) -> Callable[[], None]:
    """Gap 2: remember whether the service existed; the returned undo deletes a new one."""
    from ministack.services import ecs

    cluster, name = _ecs_service_key(props, logical_id, stack_name)
    key = f"{cluster}/{name}"
    before = (ecs._services.get(key) or {}).get("status")

    def undo() -> None:
        svc = ecs._services.get(key)
        if svc is None or before == "ACTIVE" or svc.get("status") != "ACTIVE":
            return
        ecs._delete_service({"cluster": cluster, "service": name, "force": True})
        svc["status"] = "INACTIVE"
        log.info("rolled back the half-created ECS service %s", key)

    return undo


_ROLLBACKS: dict[str, Callable[[str, dict, str], Callable[[], None]]] = {
    "AWS::ECS::Service": _ecs_service_rollback,
}


# ---------------------------------------------------------------- dispatch
def wrap_dispatch(name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``provisioners.<name>`` with ``make(original)`` everywhere the engine calls it.

    ``stacks.py`` imported the dispatch functions by name, so both module globals change.
    Other faithful extensions may use this too (each wrap chains onto the previous one).
    """
    from ministack.services.cloudformation import provisioners, stacks

    original = getattr(provisioners, name)
    wrapped = make(original)
    setattr(provisioners, name, wrapped)
    if getattr(stacks, name, None) is original:
        setattr(stacks, name, wrapped)


def _provision(original):
    def _provision_resource(resource_type, logical_id, props, stack_name, *args, **kwargs):
        props = coerce(resource_type, props)
        make_undo = _ROLLBACKS.get(resource_type)
        undo = make_undo(logical_id, props, stack_name) if make_undo else None
        try:
            return original(resource_type, logical_id, props, stack_name, *args, **kwargs)
        except Exception:
            if undo is not None:
                try:
                    undo()
                except Exception:  # the original error is the one to report
                    log.exception("rollback of a failed %s create failed", resource_type)
            raise

    return _provision_resource


def _update(original):
    def _update_resource(resource_type, physical_id, old_props, new_props, *args, **kwargs):
        return original(
            resource_type,
            physical_id,
            coerce(resource_type, old_props),
            coerce(resource_type, new_props),
            *args,
            **kwargs,
        )

    return _update_resource


def _delete(original):
    def _delete_resource(resource_type, physical_id, props, *args, **kwargs):
        return original(resource_type, physical_id, coerce(resource_type, props), *args, **kwargs)

    return _delete_resource


def install() -> None:
    global _installed
    if _installed:
        return
    wrap_dispatch("_provision_resource", _provision)
    wrap_dispatch("_update_resource", _update)
    wrap_dispatch("_delete_resource", _delete)
    _installed = True
    log.info("types extension installed")
