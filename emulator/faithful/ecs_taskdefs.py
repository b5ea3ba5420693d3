"""Task definitions from CloudFormation keep their container ``secrets`` (and other nested lists).

Gap in MiniStack 1.5.33: ``_normalize_container_defs`` turns CloudFormation's PascalCase into
the ECS API's camelCase only for a few nested lists; ``Secrets`` entries keep ``Name`` /
``ValueFrom`` and come back from ``describe_task_definition`` as ``[{}, {}]``, which hides
where a container's secrets come from. This camel-cases the nested members of ``secrets``,
``dependsOn``, ``ulimits``, ``extraHosts``, ``systemControls``, ``healthCheck`` and the
``secretOptions`` of ``logConfiguration``, as the ECS API reports them.
"""

from __future__ import annotations

import logging

log = logging.getLogger("faithful.ecs_taskdefs")

_LISTS = ("secrets", "dependsOn", "ulimits", "extraHosts", "systemControls")


def install() -> None:
    from ministack.services.cloudformation import provisioners as prov

    original = prov._normalize_container_defs
    camel = prov._cfn_to_camel

    def _camel_items(items: object) -> object:
        if not isinstance(items, list):
            return items
        return [{camel(k): v for k, v in item.items()} if isinstance(item, dict) else item for item in items]

    def normalize(cdefs):
        result = original(cdefs)
        for cdef in result:
            for key in _LISTS:
                if key in cdef:
                    cdef[key] = _camel_items(cdef[key])
            if isinstance(cdef.get("healthCheck"), dict):
                cdef["healthCheck"] = {camel(k): v for k, v in cdef["healthCheck"].items()}
            log_config = cdef.get("logConfiguration")
            if isinstance(log_config, dict) and "secretOptions" in log_config:
                log_config["secretOptions"] = _camel_items(log_config["secretOptions"])
        return result

    prov._normalize_container_defs = normalize
    log.info("task definition nested members installed")
