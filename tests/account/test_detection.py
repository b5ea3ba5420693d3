"""Account suite, detection: GuardDuty with ECS Fargate runtime monitoring, Security Hub with PCI DSS."""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory.account import AccountInventory
from conformance.inventory.shapes import Detector

RUNTIME_MONITORING = "RUNTIME_MONITORING"
FARGATE_AGENT = "ECS_FARGATE_AGENT_MANAGEMENT"
PCI_DSS_STANDARD = ":standards/pci-dss/v/4.0.1"  # the StandardsArn: arn:<partition>:securityhub:<region>::standards/...


def _where(inv: AccountInventory) -> str:
    return f"account {inv.account} ({inv.region})"


def _fargate_monitoring(detector: Detector) -> tuple[str, str]:
    """(RUNTIME_MONITORING's status, ECS_FARGATE_AGENT_MANAGEMENT's status) of a detector, 'absent' when missing."""
    feature = next((f for f in detector.get("Features") or [] if f.get("Name") == RUNTIME_MONITORING), None)
    if feature is None:
        return "absent", "absent"
    agent = next(
        (c for c in feature.get("AdditionalConfiguration") or [] if c.get("Name") == FARGATE_AGENT),
        None,
    )
    return str(feature.get("Status", "absent")), str(agent.get("Status", "absent")) if agent else "absent"


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:11.5.1",
            "GuardDuty watches the account's network, DNS and API activity and, with runtime monitoring, the "
            "Fargate tasks that process card data, and raises findings on intrusion.",
        ),
        supporting(
            "PCI-DSS-4.0:10.4.1.1",
            "GuardDuty reviews the CloudTrail, flow and DNS logs automatically for suspicious activity.",
        ),
    ],
    rationale="GuardDuty is enabled with runtime monitoring of the ECS Fargate tasks, its agent managed by GuardDuty.",
)
def test_guardduty_monitors_ecs_fargate_runtime(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    detectors = account_inv.account_controls.detectors
    evidence.attach("GetDetector", detectors)
    assert detectors, f"{_where(account_inv)} has no GuardDuty detector, expected one enabled"
    seen = []
    for detector_id, detector in detectors.items():
        runtime, agent = _fargate_monitoring(detector)
        if detector.get("Status") == "ENABLED" and runtime == "ENABLED" and agent == "ENABLED":
            return
        seen.append(
            f"detector {detector_id} (Status {detector.get('Status', 'absent')}, {RUNTIME_MONITORING} {runtime}, "
            f"{FARGATE_AGENT} {agent})"
        )
    raise AssertionError(
        f"{_where(account_inv)} has {', '.join(seen)}; expected a detector ENABLED with {RUNTIME_MONITORING} "
        f"ENABLED and its {FARGATE_AGENT} ENABLED"
    )


@check(
    severity="medium",
    links=[
        primary("CIS-AWS-3.0:4.16", "CIS 4.16: AWS Security Hub is enabled."),
        supporting(
            "PCI-DSS-4.0:10.7.2",
            "The PCI DSS standard's controls raise findings when a critical control (CloudTrail, GuardDuty, "
            "encryption, logging) fails.",
        ),
        supporting(
            "PCI-DSS-4.0:2.2.1",
            "The standard checks the account's configuration against PCI DSS continuously, between the suite's runs.",
        ),
    ],
    rationale="Security Hub is enabled with the PCI DSS v4.0.1 standard, and the standard is READY.",
)
def test_security_hub_pci_dss_standard_ready(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    acct = account_inv.account_controls
    evidence.attach("DescribeHub", acct.hub)
    evidence.attach("GetEnabledStandards", acct.standards)
    assert acct.hub, f"{_where(account_inv)} has Security Hub not enabled, expected it enabled with PCI DSS v4.0.1"
    pci = [s for s in acct.standards if PCI_DSS_STANDARD in str(s.get("StandardsArn", ""))]
    enabled = ", ".join(f"{s.get('StandardsArn')} ({s.get('StandardsStatus')})" for s in acct.standards) or "none"
    assert pci, (
        f"Security Hub {acct.hub.get('HubArn', '')} of {_where(account_inv)} has standards {enabled}; expected the "
        "PCI DSS v4.0.1 standard enabled"
    )
    assert any(s.get("StandardsStatus") == "READY" for s in pci), (
        f"Security Hub {acct.hub.get('HubArn', '')} of {_where(account_inv)} has the PCI DSS standard "
        f"{', '.join(str(s.get('StandardsStatus')) for s in pci)}, expected READY"
    )
