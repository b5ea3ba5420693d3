"""ECS and Application Auto Scaling details the compute checks rely on.

Gaps in MiniStack 1.5.33 that this closes (measured against the platform template):

1. ``UpdateService`` with a changed ``networkConfiguration`` (or ``loadBalancers``) only
   rewrote the service record; its tasks stayed in the old subnets with the old public-IP
   setting. On AWS, for a rolling-update (ECS) service, such a change starts a new deployment
   whose tasks use the new configuration. Here it does too.
2. ``application-autoscaling:DescribeScalingActivities`` was an unknown operation. The
   emulator never scales anything (no metrics, no policy execution), so the faithful answer
   is an empty list, with AWS's validation of ``ServiceNamespace`` and ``MaxResults``.
3. ``Fn::GetAtt <TargetGroup>.TargetGroupFullName`` gave ``<name>/<id>``; AWS gives
   ``targetgroup/<name>/<id>``, the value CloudWatch's ``TargetGroup`` dimension takes. Alarms
   on a target group's metrics were therefore created on a dimension AWS would never report.

(The task definition's ``secrets`` from CloudFormation are ``taskdefs.py``'s.)
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("faithful.compute")

_installed = False

NAMESPACES = (
    "ecs", "elasticmapreduce", "ec2", "appstream", "dynamodb", "rds", "sagemaker", "custom-resource",
    "comprehend", "lambda", "cassandra", "kafka", "elasticache", "neptune", "workspaces",
)  # fmt: skip


def _canonical(value: Any) -> str:
    return json.dumps(value or {}, sort_keys=True, default=str)


def _wrap_update_service() -> None:
    """Gap 1."""
    from ministack.services import ecs

    original = ecs._update_service

    def _update_service(data):
        try:
            cluster = ecs._resolve_cluster_name(data.get("cluster", "default"))
            ref = ecs._resolve_service_ref(data.get("service", ""))
            svc = ecs._services.get(f"{cluster}/{ref[0]}") if cluster and ref else None
        except Exception:  # every error answer stays MiniStack's own validation
            svc = None
        if svc is not None and (svc.get("deploymentController") or {}).get("type", "ECS") == "ECS":
            changed = any(
                member in data and _canonical(data[member]) != _canonical(svc.get(member))
                for member in ("networkConfiguration", "loadBalancers")
            )
            if changed and not data.get("forceNewDeployment"):
                data = {**data, "forceNewDeployment": True}
        return original(data)

    ecs._update_service = _update_service
    ecs._ACTION_MAP["UpdateService"] = _update_service


def describe_scaling_activities(req: dict[str, Any]) -> dict[str, Any]:
    """Gap 2: nothing ever scales here, so there is no activity to report."""
    from faithful import appautoscaling

    namespace = req.get("ServiceNamespace")
    if namespace not in NAMESPACES:
        raise appautoscaling.ValidationException(
            f"1 validation error detected: Value '{namespace}' at 'serviceNamespace' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(NAMESPACES)}]"
        )
    max_results = req.get("MaxResults", 50)
    if not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise appautoscaling.ValidationException("MaxResults must be between 1 and 50")
    return {"ScalingActivities": []}


def _wrap_target_group_full_name() -> None:
    """Gap 3."""
    from ministack.services import alb

    original = alb._target_group_full_name_from_arn

    def _target_group_full_name_from_arn(arn: str) -> str:
        tail = original(arn)
        return tail if not tail or tail.startswith("targetgroup/") else f"targetgroup/{tail}"

    alb._target_group_full_name_from_arn = _target_group_full_name_from_arn


def install() -> None:
    global _installed
    if _installed:
        return
    from faithful import appautoscaling

    _wrap_update_service()
    _wrap_target_group_full_name()
    appautoscaling.OPERATIONS.setdefault("DescribeScalingActivities", describe_scaling_activities)
    _installed = True
    log.info("compute extension installed")
