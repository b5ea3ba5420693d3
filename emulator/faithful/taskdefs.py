"""Task definitions: ``describe_task_definition`` reports what the template declared, as ECS does.

Gaps in MiniStack 1.5.33 that this closes (measured on ``AWS::ECS::TaskDefinition``):

1. The container definitions were camel-cased only at the top level and in five lists, so
   every other nested member kept CloudFormation's PascalCase and was invisible to boto3:
   ``secrets`` came back as ``[{}, {}]``, and so did ``linuxParameters``,
   ``repositoryCredentials``, ``resourceRequirements``, ``environmentFiles``,
   ``firelensConfiguration`` and the like. Here the container
   definitions are rebuilt from the template properties with every structure key
   camel-cased as the ECS API names it, keeping the user's keys of maps (``options`` of
   ``logConfiguration``, ``dockerLabels``, ...).
2. Task-level ``Volumes``, ``PlacementConstraints``, ``EphemeralStorage``, ``RuntimePlatform``,
   ``ProxyConfiguration`` and ``InferenceAccelerators`` were dropped or kept in PascalCase.
3. ECS's defaults were missing from a CloudFormation task definition (the API path had some):
   each container reports ``cpu: 0``, ``essential: true`` and empty ``portMappings``,
   ``environment``, ``mountPoints``, ``volumesFrom``; a port mapping reports ``protocol: tcp``
   and, in ``awsvpc`` (and ``host``) network mode, ``hostPort`` equal to ``containerPort`` —
   for ``RegisterTaskDefinition`` as well. Empty ``pidMode`` / ``ipcMode`` are omitted, as
   ECS omits unset members.

Task-level ``cpu`` / ``memory`` are strings in the schema and on the wire (``types.py``
coerces a literal ``Cpu: 256``); integers inside container definitions too (``types.py``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

log = logging.getLogger("faithful.taskdefs")

_installed = False

RTYPE = "AWS::ECS::TaskDefinition"

# Members whose value is a string map: their keys are the user's, never camel-cased.
_MAPS = {"Options", "DockerLabels", "DriverOpts", "Labels"}
# Names the ECS API does not spell as first-letter-lowercased PascalCase.
_SPECIAL = {
    "EFSVolumeConfiguration": "efsVolumeConfiguration",
    "IAM": "iam",
    "FSxWindowsFileServerVolumeConfiguration": "fsxWindowsFileServerVolumeConfiguration",
    "ProxyConfigurationProperties": "properties",
}
_TASK_LEVEL = {
    "Volumes": "volumes",
    "PlacementConstraints": "placementConstraints",
    "EphemeralStorage": "ephemeralStorage",
    "RuntimePlatform": "runtimePlatform",
    "ProxyConfiguration": "proxyConfiguration",
    "InferenceAccelerators": "inferenceAccelerators",
}
_CONTAINER_LISTS = ("portMappings", "environment", "mountPoints", "volumesFrom")


def _camel_key(key: str) -> str:
    return _SPECIAL.get(key) or (key[:1].lower() + key[1:])


def camel(value: Any) -> Any:
    """CloudFormation PascalCase structure → ECS API camelCase, leaving map keys alone."""
    if isinstance(value, list):
        return [camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, member in value.items():
        name = _camel_key(key)
        out[name] = dict(member) if key in _MAPS and isinstance(member, dict) else camel(member)
    return out


def with_ecs_defaults(containers: list[dict], network_mode: str) -> list[dict]:
    """Gap 3: the members ECS fills in on registration."""
    for container in containers:
        if not isinstance(container, dict):
            continue
        container.setdefault("cpu", 0)
        container.setdefault("essential", True)
        for member in _CONTAINER_LISTS:
            container.setdefault(member, [])
        for mapping in container.get("portMappings") or []:
            if not isinstance(mapping, dict):
                continue
            mapping.setdefault("protocol", "tcp")
            if network_mode in ("awsvpc", "host") and "containerPort" in mapping:
                mapping.setdefault("hostPort", mapping["containerPort"])
    return containers


def _td_key(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _rewrite(arn: Any, props: dict) -> None:
    """Gaps 1-3 on the record MiniStack stored for a CloudFormation task definition."""
    from ministack.services import ecs

    td = ecs._task_defs.get(_td_key(str(arn))) if arn else None
    if td is None or not isinstance(props, dict):
        return
    network_mode = td.get("networkMode") or "bridge"
    containers = camel(copy.deepcopy(props.get("ContainerDefinitions") or []))
    td["containerDefinitions"] = with_ecs_defaults(containers, network_mode)
    for prop, member in _TASK_LEVEL.items():
        if prop in props:
            td[member] = camel(copy.deepcopy(props[prop]))
    for member in ("pidMode", "ipcMode"):
        if td.get(member) in ("", None):
            td.pop(member, None)


def _provision(original):
    def _provision_resource(resource_type, logical_id, props, stack_name, *args, **kwargs):
        physical_id, attrs = original(resource_type, logical_id, props, stack_name, *args, **kwargs)
        if resource_type == RTYPE:
            _rewrite(physical_id, props)
        return physical_id, attrs

    return _provision_resource


def _update(original):
    def _update_resource(resource_type, physical_id, old_props, new_props, *args, **kwargs):
        new_id, attrs = original(resource_type, physical_id, old_props, new_props, *args, **kwargs)
        if resource_type == RTYPE:
            _rewrite(new_id, new_props)
        return new_id, attrs

    return _update_resource


def _wrap_register() -> None:
    """Gap 3 for ``RegisterTaskDefinition``: ECS's defaults in the stored and echoed record."""
    from ministack.services import ecs

    original = ecs._register_task_definition

    def _register_task_definition(data):
        if isinstance(data, dict) and isinstance(data.get("containerDefinitions"), list):
            compat = data.get("requiresCompatibilities") or ["EC2"]
            mode = data.get("networkMode") or ("awsvpc" if "FARGATE" in compat else "bridge")
            data = {**data, "containerDefinitions": copy.deepcopy(data["containerDefinitions"])}
            with_ecs_defaults(data["containerDefinitions"], mode)
        return original(data)

    ecs._register_task_definition = _register_task_definition
    ecs._ACTION_MAP["RegisterTaskDefinition"] = _register_task_definition


def install() -> None:
    global _installed
    if _installed:
        return
    from faithful.types import wrap_dispatch

    wrap_dispatch("_provision_resource", _provision)
    wrap_dispatch("_update_resource", _update)
    _wrap_register()
    _installed = True
    log.info("taskdefs extension installed")
