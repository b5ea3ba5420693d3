"""Compute suite: no interactive shell into the containers that hold the database credentials (ECS Exec)."""

from __future__ import annotations

import fnmatch

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory

# What ECS Exec needs of the task role: the SSM agent in the container opens its channels with these
SSM_MESSAGES_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def exec_channel_actions(document: dict) -> list[str]:
    """The action patterns of Allow statements that grant an ssmmessages action ECS Exec needs."""
    found: list[str] = []
    for statement in _as_list(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            excluded = [str(a).lower() for a in _as_list(statement["NotAction"])]
            if any(not any(fnmatch.fnmatchcase(a.lower(), x) for x in excluded) for a in SSM_MESSAGES_ACTIONS):
                found.append(f"NotAction {statement['NotAction']}")
            continue
        for pattern in (str(a) for a in _as_list(statement.get("Action", []))):
            if any(fnmatch.fnmatchcase(a.lower(), pattern.lower()) for a in SSM_MESSAGES_ACTIONS):
                found.append(pattern)
    return found


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:2.2.4",
            "ECS Exec is a function the payment containers do not need: an interactive shell, for anyone allowed "
            "ecs:ExecuteCommand, inside the process that holds the database credentials and reads card data.",
        ),
        supporting(
            "PCI-DSS-4.0:7.2.5",
            "The task role, the application's system account, holds no ssmmessages grant that only a shell needs.",
        ),
    ],
    rationale=(
        "ECS Exec is off on the service and on every running task, and the task role grants no ssmmessages "
        "action, so no console user can open a shell in a container holding the database credentials."
    ),
)
def test_ecs_exec_is_disabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    svc = inv.compute.service
    name = svc.get("serviceName") or inv.outputs.ECSServiceName
    tasks = {t.get("taskArn", ""): t.get("enableExecuteCommand") for t in inv.compute.tasks}
    td = inv.compute.task_definition
    task_role = str(td.get("taskRoleArn") or "").rsplit("/", 1)[-1]
    policies = inv.compute.role_policies.get(task_role, []) if task_role else []
    grants = {
        f"{task_role}/{p.get('PolicyArn') or p.get('PolicyName')} ({p.get('Kind')})": found
        for p in policies
        if (found := exec_channel_actions(p.get("Document") or {}))
    }
    evidence.attach(
        "ECS Exec",
        {"service": {name: svc.get("enableExecuteCommand")}, "tasks": tasks, "task role ssmmessages grants": grants},
    )
    assert svc, f"ECS service {name} of {inv.stack_name} was not found, expected a service with ECS Exec off"
    assert svc.get("enableExecuteCommand") is not True, (
        f"ECS service {name} has enableExecuteCommand true (ECS Exec: an interactive shell in the containers "
        f"holding the database credentials), expected false"
    )
    on = sorted(arn for arn, enabled in tasks.items() if enabled is True)
    assert not on, f"tasks of ECS service {name} have enableExecuteCommand true: {on}, expected false on every task"
    assert not task_role or task_role in inv.compute.role_policies, (
        f"task role {task_role} of {td.get('taskDefinitionArn')} was not read, expected its policies"
    )
    assert not grants, (
        f"task role {task_role} of ECS service {name} grants the ssmmessages actions ECS Exec needs: {grants} "
        f"(role/policy: action patterns), expected none"
    )
