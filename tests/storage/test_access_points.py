"""Storage suite: S3 access points on the transaction bucket, each a door with a policy of its own."""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.policies import PolicyError, outside_grants

BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.1",
            "An access point is a second way into the card-data bucket with its own policy: none grants anyone "
            "outside the account.",
        ),
        supporting(
            "CIS-AWS-3.0:2.1.4",
            "Each access point on the bucket keeps all four public-access blocks on, as the bucket does.",
        ),
    ],
    rationale=(
        "The platform declares no access point; any on the transaction-logs bucket keeps all four public-access "
        "blocks on and has a policy granting nothing to everyone or another account (the bucket policy still "
        "has to allow, so this is a layer, not the last one)."
    ),
)
def test_transaction_bucket_access_points_conform(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    points, policies = st.access_points, st.access_point_policies
    evidence.attach("access points of the transaction bucket", {"GetAccessPoint": points, "policies": policies})
    bucket = inv.outputs.TransactionLogsBucket
    findings: list[str] = []
    for name, point in sorted(points.items()):
        blocks = point.get("PublicAccessBlockConfiguration", {})
        off = [b for b in BLOCKS if blocks.get(b) is not True]
        if off:
            findings.append(f"access point {name} ({point.get('NetworkOrigin')}): public-access blocks off {off}")
        try:
            grants = outside_grants(policies.get(name, ""), inv.account, inv.region)
        except PolicyError as exc:
            raise ProbeError(f"could not read the policy of access point {name}: {exc}") from None
        findings += [f"access point {name}: {grant}" for grant in grants]
    assert not findings, (
        f"bucket {bucket} has access points that open it: {'; '.join(findings)}; expected all four public-access "
        f"blocks on and no grant outside account {inv.account}"
    )
