"""Account suite, access: the root user's credentials and IAM Access Analyzer.

Root MFA and root access keys are no CloudFormation resource: IAM's account summary says
whether the root user has an MFA device (AccountMFAEnabled) and access keys
(AccountAccessKeysPresent).
"""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory.account import AccountInventory


def _where(inv: AccountInventory) -> str:
    return f"account {inv.account} ({inv.region})"


def _summary_value(inv: AccountInventory, key: str) -> str:
    summary = inv.account_controls.account_summary
    return str(summary[key]) if key in summary else "absent"


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:8.4.1",
            "The root user holds unrestricted administrative access to every component of the CDE; its remote "
            "sign-in needs a second factor.",
        ),
        primary("CIS-AWS-3.0:1.5", "CIS 1.5: MFA is enabled for the root user."),
    ],
    rationale="The root user signs in with MFA (IAM's account summary: AccountMFAEnabled 1).",
)
def test_root_user_has_mfa(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
    summary = account_inv.account_controls.account_summary
    evidence.attach("GetAccountSummary", summary)
    assert summary.get("AccountMFAEnabled") == 1, (
        f"the root user of {_where(account_inv)} has AccountMFAEnabled "
        f"{_summary_value(account_inv, 'AccountMFAEnabled')}, expected 1 (an MFA device on the root user)"
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:8.2.2",
            "Root is the account's shared, all-powerful identity; an access key lets whoever holds it act as root "
            "from anywhere, unattributed to a person.",
        ),
        supporting("PCI-DSS-4.0:7.2.2", "No standing credential grants every privilege on every resource."),
        primary("CIS-AWS-3.0:1.4", "CIS 1.4: no root user access key exists."),
    ],
    rationale="The root user has no access key (IAM's account summary: AccountAccessKeysPresent 0).",
)
def test_root_user_has_no_access_keys(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
    summary = account_inv.account_controls.account_summary
    evidence.attach("GetAccountSummary", summary)
    assert summary.get("AccountAccessKeysPresent") == 0, (
        f"the root user of {_where(account_inv)} has AccountAccessKeysPresent "
        f"{_summary_value(account_inv, 'AccountAccessKeysPresent')}, expected 0 (no root access key)"
    )


@check(
    severity="medium",
    links=[
        primary("CIS-AWS-3.0:1.20", "CIS 1.20: IAM Access Analyzer is enabled (here: in the region in scope)."),
        supporting(
            "PCI-DSS-4.0:7.2.1",
            "The analyzer reports every resource policy granting access outside the account: evidence that access "
            "stays within the access-control model.",
        ),
    ],
    rationale="An IAM Access Analyzer (zone of trust: the account or its organisation) is ACTIVE in the region.",
)
def test_access_analyzer_active(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
    analyzers = account_inv.account_controls.analyzers
    evidence.attach("ListAnalyzers", analyzers)
    active = [
        a for a in analyzers if a.get("status") == "ACTIVE" and str(a.get("type", "")) in ("ACCOUNT", "ORGANIZATION")
    ]
    seen = ", ".join(f"{a.get('name')} ({a.get('type')}, {a.get('status')})" for a in analyzers) or "no analyzer"
    assert active, (
        f"{_where(account_inv)} has {seen}; expected an IAM Access Analyzer of type ACCOUNT or ORGANIZATION, ACTIVE"
    )
