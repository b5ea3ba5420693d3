"""Storage suite: the bucket ACLs, a way into the buckets that their policies do not show."""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import BucketAcl


def foreign_grants(acl: BucketAcl) -> list[str]:
    """Every grant of a bucket ACL whose grantee is not the bucket's owner: who and what."""
    owner = acl.get("Owner", {}).get("ID")
    found = []
    for grant in acl.get("Grants", []):
        grantee = grant.get("Grantee", {})
        if grantee.get("Type") == "CanonicalUser" and owner and grantee.get("ID") == owner:
            continue
        who = grantee.get("URI") or grantee.get("ID") or grantee.get("EmailAddress") or "an unnamed grantee"
        found.append(f"{grant.get('Permission')} to {grantee.get('Type')} {who}")
    return found


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.1",
            "No bucket ACL grants anyone but the owning account: the card-data bucket and the log bucket are reached "
            "only as their policies and IAM allow.",
        ),
        supporting(
            "PCI-DSS-4.0:10.3.1",
            "The access-logs bucket's ACL gives no one outside the account read access to the audit logs.",
        ),
    ],
    rationale=(
        "The bucket ACLs of the transaction-logs and access-logs buckets grant only their owner (with ACLs disabled "
        "by BucketOwnerEnforced no other grant can be set), so no ACL grant opens them to another account or to "
        "everyone."
    ),
)
def test_bucket_acls_grant_only_the_owner(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    acls = {inv.outputs.TransactionLogsBucket: st.acl, inv.outputs.AccessLogsBucket: st.log_bucket_acl}
    evidence.attach("GetBucketAcl", acls)
    wrong = {bucket: found for bucket, acl in acls.items() if (found := foreign_grants(acl))}
    assert not wrong, f"bucket ACLs grant beyond their owner: {wrong} (bucket: grants), expected the owner only"
