"""Storage suite: the grants on the environment's key, a way to use it that the key policy does not show."""

from __future__ import annotations

import re

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import KeyGrant

# an AWS service principal (rds.amazonaws.com, rds.eu-west-1.amazonaws.com, ...): the grants AWS services make
# for themselves when a resource is encrypted with the key (Aurora's, for one)
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")
# what a grant to one of the stack's own roles may allow: use of the key for data, nothing that hands it on
DATA_OPERATIONS = {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
                   "ReEncryptTo", "DescribeKey"}  # fmt: skip


def grant_problem(grant: KeyGrant, account: str, stack: str) -> str:
    """Why a grant is not one the platform's own services make, or '' when it is."""
    if not re.fullmatch(rf"(arn:aws[a-z-]*:iam::)?{account}(:root)?", str(grant.get("IssuingAccount", ""))):
        return f"issued by {grant.get('IssuingAccount') or 'an unknown account'}"
    for role in ("GranteePrincipal", "RetiringPrincipal"):
        principal = str(grant.get(role) or "")
        if not principal or SERVICE_PRINCIPAL.match(principal):
            continue
        arn = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):(.+)$", principal)
        if not arn:
            return f"{role} {principal} is neither an AWS service nor an IAM principal"
        if arn.group(1) != account:
            return f"{role} {principal} is outside account {account}"
        name = arn.group(2).removeprefix("role/") if arn.group(2).startswith("role/") else ""
        if not (name.startswith("aws-service-role/") or name.rsplit("/", 1)[-1].startswith(f"{stack}-")):
            return f"{role} {principal} is not a role of the stack or an AWS service-linked role"
        extra = sorted(set(grant.get("Operations", [])) - DATA_OPERATIONS)
        if role == "GranteePrincipal" and extra and not name.startswith("aws-service-role/"):
            return f"grants the stack's role {name} {extra}, beyond the use of the key for data"
    return ""


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:3.6.1",
            "A grant lets its grantee use the key protecting card data whatever the key policy says: only AWS "
            "services and the stack's own roles hold one.",
        ),
        supporting(
            "PCI-DSS-4.0:7.2.1",
            "No principal outside the platform, in the account or outside it, is given use of the key by a grant.",
        ),
    ],
    rationale=(
        "Every grant on the environment key is issued in the account to an AWS service principal, an AWS "
        "service-linked role, or one of the stack's roles for data operations only: no grant opens the key to "
        "another account or an unrelated principal behind the key policy's back."
    ),
)
def test_key_grants_only_to_the_platforms_services(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    grants = inv.storage.key_grants
    evidence.attach(
        "ListGrants",
        [{k: g.get(k) for k in ("GrantId", "Name", "GranteePrincipal", "RetiringPrincipal", "IssuingAccount",
                                "Operations")} for g in grants],
    )  # fmt: skip
    wrong = {
        f"{g.get('GrantId')} ({g.get('GranteePrincipal')}: {', '.join(g.get('Operations', []))})": problem
        for g in grants
        if (problem := grant_problem(g, inv.account, inv.stack_name))
    }
    assert not wrong, (
        f"KMS key {inv.outputs.KMSKeyArn} has grants beyond the platform's own: {wrong} (grant: why), expected "
        f"grants only to AWS services, service-linked roles and the roles of {inv.stack_name} (data operations)"
    )
