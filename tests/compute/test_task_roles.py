"""Compute suite: least privilege of the task role and the task execution role."""

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def wildcard_admin_statements(document: dict) -> list[dict]:
    """Allow statements granting every action ('*' or '*:*') on every resource ('*')."""
    found = []
    for statement in _as_list(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        if any(a in ("*", "*:*") for a in actions) and "*" in resources:
            found.append(statement)
    return found


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.5",
            "The application's system accounts (task and execution roles) hold no all-actions-on-all-resources grant.",
        ),
        primary(
            "CIS-AWS-3.0:1.16",
            "CIS 1.16: no policy granting full *:* administrative privileges is attached (to these roles).",
        ),
    ],
    rationale="Neither the task role nor the execution role may allow every action on every resource.",
)
def test_task_roles_grant_no_wildcard_action_on_wildcard_resource(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    roles = inv.compute.role_policies
    evidence.attach("role policies", roles)
    td = inv.compute.task_definition
    expected_roles = {str(td.get(k, "")).rsplit("/", 1)[-1] for k in ("taskRoleArn", "executionRoleArn") if td.get(k)}
    assert expected_roles and expected_roles <= set(roles), (
        f"task definition {td.get('taskDefinitionArn')} roles {sorted(expected_roles) or '(none)'} were not all "
        f"read (read: {sorted(roles)}), expected the task and execution roles"
    )
    offending = {
        f"{role}/{p.get('PolicyArn') or p.get('PolicyName')} ({p.get('Kind')})": wildcard_admin_statements(
            p.get("Document") or {}
        )
        for role, policies in roles.items()
        for p in policies
        if wildcard_admin_statements(p.get("Document") or {})
    }
    assert not offending, (
        f"roles grant Action '*' on Resource '*': {offending} (role/policy: statements), expected least privilege"
    )
