"""Compute suite: the task definition the service runs (logging, secrets, size)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory

if TYPE_CHECKING:
    from types_boto3_ecs.type_defs import LogConfigurationOutputTypeDef


def _td_arn(inv: Inventory) -> str:
    return inv.compute.task_definition.get("taskDefinitionArn") or inv.compute.service.get("taskDefinition", "")


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1",
            "Every container's log stream goes to the stack's app log group: the application's audit records are "
            "captured.",
        ),
        supporting("PCI-DSS-4.0:10.3.3", "The logs leave the task for a central store it cannot modify."),
    ],
    rationale="Every container logs through awslogs to the stack's own, retained and encrypted app log group.",
)
def test_task_definition_logs_to_stack_app_log_group(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    want = f"payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}-app-logs"
    observed: dict[str | None, LogConfigurationOutputTypeDef | dict[str, Any]] = {
        c.get("name"): c.get("logConfiguration") or {} for c in inv.compute.containers
    }
    evidence.attach("logConfiguration by container", observed)
    assert observed, f"task definition {_td_arn(inv)} has no containers, expected containers logging to {want}"
    wrong = {
        name: f"{cfg.get('logDriver') or 'no driver'} to {cfg.get('options', {}).get('awslogs-group') or 'no group'}"
        f" in {cfg.get('options', {}).get('awslogs-region') or 'no region'}"
        for name, cfg in observed.items()
        if cfg.get("logDriver") != "awslogs"
        or cfg.get("options", {}).get("awslogs-group") != want
        or cfg.get("options", {}).get("awslogs-region") != inv.region
    }
    assert not wrong, (
        f"task definition {_td_arn(inv)} logs {wrong} (container: driver to group), "
        f"expected awslogs to {want} in {inv.region}"
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:8.6.2",
            "No password, token or key is hard-coded in the task definition, where any describe call shows it.",
        ),
        supporting(
            "PCI-DSS-4.0:8.3.2",
            "Authentication factors are never stored readable in the task's configuration.",
        ),
    ],
    rationale="No password, token or key sits in a container's plain environment, where any describe call shows it.",
)
def test_task_definition_environment_holds_no_secrets(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    findings = inv.compute.plaintext_secret_findings
    names = {c.get("name"): [e.get("name") for e in c.get("environment") or []] for c in inv.compute.containers}
    evidence.attach("plain environment variable names and findings", {"names": names, "findings": findings})
    shown = [f"{f['container']}/{f['name']} ({f['reason']})" for f in findings]
    assert not findings, (
        f"task definition {_td_arn(inv)} passes secret-looking plain environment variables {shown}, "
        "expected secrets only through the container's secrets from Secrets Manager"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:8.6.2",
            "The application's database password is injected from the encrypted secret at start, never written into "
            "its configuration.",
        ),
    ],
    rationale="The container gets the DB password only from the stack's KMS-encrypted Secrets Manager secret.",
)
def test_task_definition_db_password_from_stack_secret(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    secret = inv.outputs.DBSecretArn
    secrets = [(c.get("name"), s) for c in inv.compute.containers for s in c.get("secrets") or []]
    evidence.attach("container secrets", [{"container": n, **s} for n, s in secrets])
    passwords = [(n, s) for n, s in secrets if "PASSWORD" in str(s.get("name", "")).upper()]
    assert passwords, (
        f"task definition {_td_arn(inv)} has no password among its container secrets "
        f"{[s.get('name') for _, s in secrets] or '(none)'}, expected DB_PASSWORD from {secret}"
    )
    wrong = {
        f"{n}/{s.get('name')}": s.get("valueFrom")
        for n, s in passwords
        if not (s.get("valueFrom") == secret or str(s.get("valueFrom", "")).startswith(f"{secret}:"))
    }
    assert not wrong, (
        f"task definition {_td_arn(inv)} takes passwords from {wrong} (container/variable: valueFrom), "
        f"expected the stack's secret {secret}"
    )


@check(
    severity="low",
    operational="sizing: task CPU and memory as declared",
    rationale="Tasks get the CPU and memory the environment's spec declares (TaskCpu, TaskMemory).",
)
def test_task_definition_cpu_memory_as_specified(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    td = inv.compute.task_definition
    observed = {"cpu": str(td.get("cpu")), "memory": str(td.get("memory"))}
    want = {"cpu": str(spec.parameters.TaskCpu), "memory": str(spec.parameters.TaskMemory)}
    evidence.attach("task size", {"observed": observed, "expected": want})
    assert observed == want, (
        f"task definition {_td_arn(inv)} has cpu {observed['cpu']} and memory {observed['memory']}, "
        f"expected cpu {want['cpu']} and memory {want['memory']}"
    )
