"""Stack suite: the environment's CloudFormation stack is settled, protected as specified, and in sync."""

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.shapes import ResourceDrift

COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
MEANING = {
    "UPDATE_ROLLBACK_COMPLETE": "its last update failed and was rolled back, so it runs the previous template",
    "IMPORT_COMPLETE": "resources were imported into it and no update has applied the template since",
}


@check(
    severity="high",
    operational=(
        "deployment health: the last change applied fully (a rolled-back update runs the previous reviewed template)"
    ),
    rationale="The stack's last operation succeeded: the environment runs the template it was last given.",
)
def test_stack_status_is_complete(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    stack = inv.stack
    evidence.attach("DescribeStacks", {"StackName": stack.name, "StackStatus": stack.status,
                                       "StackStatusReason": stack.status_reason})  # fmt: skip
    why = f" ({stack.status_reason})" if stack.status_reason else ""
    meaning = MEANING.get(stack.status, "it is not settled on a successful create or update")
    assert stack.status in COMPLETE, (
        f"stack {stack.name} is {stack.status}{why}, expected CREATE_COMPLETE or UPDATE_COMPLETE: {meaning}; read "
        f"its events (`python -m deploy status --env {env_name}`), fix the cause and deploy again"
    )


@check(
    severity="medium",
    operational="recoverability: the stack cannot be deleted by a stray command where the environment says so",
    rationale="Staging and prod stacks cannot be deleted by a stray command; dev's may be, as its file says.",
)
def test_stack_termination_protection_as_specified(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    expected = spec.expectations.termination_protection
    actual = inv.stack.termination_protection
    evidence.attach("termination protection", {"stack": inv.stack.name, "observed": actual, "expected": expected})
    assert actual == expected, (
        f"stack {inv.stack.name} has termination protection {'on' if actual else 'off'}, expected "
        f"{'on' if expected else 'off'} (deploy/environments/{env_name}.yaml expectations.termination_protection)"
    )


def _difference(d: ResourceDrift) -> str:
    changes = [
        f"{p.get('PropertyPath')} expected {p.get('ExpectedValue')} actual {p.get('ActualValue')}"
        for p in d.get("PropertyDifferences") or []
    ]
    what = "; ".join(changes) or (d.get("StackResourceDriftStatus") or "").lower()
    return f"{d.get('LogicalResourceId')} ({d.get('ResourceType')} {d.get('PhysicalResourceId')}): {what}"


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:6.5.1",
            "Drift detection finds no resource changed outside the reviewed template, so no change bypassed change "
            "control.",
        ),
        primary(
            "PCI-DSS-4.0:2.2.1",
            "The deployed configuration is the configuration standard the template implements.",
        ),
        supporting(
            "PCI-DSS-4.0:1.2.8",
            "The security groups and routes in the network are those of the reviewed configuration.",
        ),
    ],
    rationale=(
        "CloudFormation's drift detection finds no resource changed outside the template: the environment is "
        "what its reviewed template says, not what someone clicked."
    ),
)
def test_stack_in_sync_with_its_template(env_name: str, inv_with_drift: Inventory, evidence: Evidence) -> None:
    inv = inv_with_drift  # drift detection's answer, which this check waits for (published after the rest)
    detection = inv.stack.drift_detection
    drifted = inv.stack.drifted_resources
    evidence.attach("drift detection", {"status": detection, "drifted resources": drifted})
    assert not drifted and detection.get("StackDriftStatus") != "DRIFTED", (
        f"stack {inv.stack.name} has drifted from its template in {len(drifted) or '?'} resource(s): "
        f"{'; '.join(_difference(d) for d in drifted) or 'DescribeStackResourceDrifts listed none'}; "
        "expected every resource in sync (put the change in the template, or undo it)"
    )
    if detection.get("DetectionStatus") != "DETECTION_COMPLETE":
        raise ProbeError(
            f"drift detection of stack {inv.stack.name} ended {detection.get('DetectionStatus')}: "
            f"{detection.get('DetectionStatusReason', 'no reason given')}"
        )
    assert detection.get("StackDriftStatus") == "IN_SYNC", (
        f"stack {inv.stack.name} drift status is {detection.get('StackDriftStatus')}, expected IN_SYNC"
    )
