"""ECS service settings MiniStack dropped, and the tags a service gives the tasks it launches.

Gaps in MiniStack 1.5.33 that this closes (measured against the platform template):

1. ``AWS::ECS::Service``'s ``HealthCheckGracePeriodSeconds``, ``PropagateTags`` and
   ``EnableECSManagedTags`` never reached the service: the provisioner's CreateService request
   left them out, so ``describe_services`` said 0, ``NONE`` and false whatever the template
   declared; its update path ignored the last two.
2. ``UpdateService`` ignored ``propagateTags`` and ``enableECSManagedTags``. AWS accepts both
   (since 2022) and applies them to the tasks launched afterwards.
3. Tasks a service launched carried no tags. On AWS, with ``propagateTags`` ``SERVICE`` each
   task the service launches gets the service's tags (``TASK_DEFINITION``: the task
   definition's), and with ``enableECSManagedTags`` ECS adds ``aws:ecs:clusterName`` and
   ``aws:ecs:serviceName``. Tags in the reserved ``aws:`` namespace (CloudFormation's
   ``aws:cloudformation:*``) are not user tags and are not propagated.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from faithful._ministack import resource_handlers

log = logging.getLogger("faithful.ecs_service")

_installed = False

PROPAGATE = ("TASK_DEFINITION", "SERVICE", "NONE")
# CloudFormation property -> CreateService/UpdateService member, for the settings of gap 1
SETTINGS = {
    "HealthCheckGracePeriodSeconds": "healthCheckGracePeriodSeconds",
    "PropagateTags": "propagateTags",
    "EnableECSManagedTags": "enableECSManagedTags",
}
_pending: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("ecs_service_pending", default=None)


def _settings_of(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prop, member in SETTINGS.items():
        if prop in props and props[prop] is not None:
            value = props[prop]
            if member == "enableECSManagedTags" and isinstance(value, str):
                value = value.lower() == "true"
            out[member] = value
    return out


def _service_of(ecs: Any, cluster: str, name: str) -> dict[str, Any] | None:
    try:
        cluster_name = ecs._resolve_cluster_name(cluster or "default")
    except Exception:
        return None
    svc: dict[str, Any] | None = ecs._services.get(f"{cluster_name}/{name}")
    return svc


def task_tags(ecs: Any, svc: dict[str, Any], td_arn: str) -> list[dict[str, str]]:
    """The tags AWS puts on a task this service launches (gap 3)."""
    mode = svc.get("propagateTags") or "NONE"
    source: list[dict[str, str]] = []
    if mode == "SERVICE":
        source = ecs._tags.get(svc.get("serviceArn", ""), [])
    elif mode == "TASK_DEFINITION":
        td = ecs._task_defs.get(ecs._resolve_td_key(td_arn)) or {}
        source = ecs._tags.get(td.get("taskDefinitionArn", td_arn), [])
    tags = [{"key": t["key"], "value": t["value"]} for t in source if not str(t.get("key", "")).startswith("aws:")]
    if svc.get("enableECSManagedTags"):
        cluster = str(svc.get("clusterArn", "")).rsplit("/", 1)[-1]
        tags += [{"key": "aws:ecs:clusterName", "value": cluster},
                 {"key": "aws:ecs:serviceName", "value": svc.get("serviceName", "")}]  # fmt: skip
    return tags


def _wrap_create_service() -> None:
    """Gap 1 (create): the settings the provisioner left out join the CreateService request."""
    from ministack.services import ecs

    original = ecs._create_service

    def _create_service(data: dict[str, Any]) -> Any:
        pending = _pending.get()
        if pending:
            data = {**pending, **data}
        return original(data)

    ecs._create_service = _create_service
    ecs._ACTION_MAP["CreateService"] = _create_service


def _wrap_update_service() -> None:
    """Gap 2."""
    from ministack.services import ecs

    original = ecs._update_service

    def _update_service(data: dict[str, Any]) -> Any:
        mode = data.get("propagateTags")
        if mode is not None and mode not in PROPAGATE:
            return ecs.error_response_json(
                "InvalidParameterException",
                f"Invalid value for propagateTags: {mode}. Valid values: {', '.join(PROPAGATE)}",
                400,
            )
        members = [m for m in ("propagateTags", "enableECSManagedTags") if m in data]
        svc = _service_of(ecs, data.get("cluster", "default"), str(data.get("service", "")).rsplit("/", 1)[-1])
        before: dict[str, Any] = {m: svc.get(m) for m in members} if svc is not None else {}
        if svc is not None:  # set first: a forced deployment launches its tasks inside the call
            svc.update({m: data[m] for m in members})
        response = original(data)
        if response[0] >= 400 and svc is not None:  # AWS applies all of a request or none of it
            svc.update(before)
        return response

    ecs._update_service = _update_service
    ecs._ACTION_MAP["UpdateService"] = _update_service


def _wrap_run_task() -> None:
    """Gap 3: a task the service launches gets the service's (or its definition's) tags."""
    from ministack.services import ecs

    original = ecs._run_task

    def _run_task(data: dict[str, Any]) -> Any:
        group = str(data.get("group", ""))
        if group.startswith("service:") and not data.get("tags"):
            svc = _service_of(ecs, str(data.get("cluster", "default")), group.removeprefix("service:"))
            if svc is not None:
                tags = task_tags(ecs, svc, str(data.get("taskDefinition", "")))
                if tags:
                    data = {**data, "tags": tags}
        return original(data)

    ecs._run_task = _run_task
    ecs._ACTION_MAP["RunTask"] = _run_task


def _wrap_cloudformation() -> None:
    """Gap 1 (CloudFormation): the provisioner's create and update carry the three settings."""
    from ministack.services import ecs

    handler = resource_handlers()["AWS::ECS::Service"]
    create, update = handler["create"], handler["update"]

    def _create(logical_id: str, props: dict[str, Any], stack_name: str, *args: Any, **kwargs: Any) -> Any:
        token = _pending.set(_settings_of(props))
        try:
            return create(logical_id, props, stack_name, *args, **kwargs)
        finally:
            _pending.reset(token)

    def _update(physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], *args: Any, **kwargs: Any):
        result = update(physical_id, old_props, new_props, *args, **kwargs)
        old, new = _settings_of(old_props), _settings_of(new_props)
        changed = {m: new.get(m) for m in ("propagateTags", "enableECSManagedTags") if new.get(m) != old.get(m)}
        if changed:
            defaults = {"propagateTags": "NONE", "enableECSManagedTags": False}
            request = {
                "cluster": new_props.get("Cluster", old_props.get("Cluster", "default")),
                "service": new_props.get("ServiceName") or physical_id.rsplit("/", 1)[-1],
                **{m: defaults[m] if v is None else v for m, v in changed.items()},
            }
            response = ecs._update_service(request)
            if response[0] >= 400:
                raise ValueError(f"AWS::ECS::Service update failed: {response[2]!r}")
        return result

    handler["create"], handler["update"] = _create, _update


def install() -> None:
    global _installed
    if _installed:
        return
    _wrap_create_service()
    _wrap_update_service()
    _wrap_run_task()
    _wrap_cloudformation()
    _installed = True
    log.info("ecs_service extension installed")
