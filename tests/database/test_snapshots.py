"""Database suite: the cluster's snapshots, every one a full copy of the card data, stay in the account."""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.1",
            "A snapshot holds all the card data of the cluster: restoring it is access to that data, and no account "
            "outside ours (nor everyone) is granted it.",
        ),
        supporting(
            "PCI-DSS-4.0:1.4.4",
            "A public snapshot is a copy of the card-data store that anyone on the internet can restore.",
        ),
    ],
    rationale=(
        "No snapshot of the Aurora cluster is shared: no manual snapshot's restore attribute names another account "
        "or 'all' (public), so the card data cannot be restored outside the account."
    ),
)
def test_cluster_snapshots_not_shared_outside_the_account(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    db = inv.database
    name = inv.outputs.AuroraClusterIdentifier
    sharing = db.snapshot_attributes
    kinds = {str(x.get("DBClusterSnapshotIdentifier")): x.get("SnapshotType") for x in db.cluster_snapshots}
    evidence.attach("cluster snapshots and their restore attribute", {"snapshots": kinds, "attributes": sharing})
    unread = sorted(sid for sid, kind in kinds.items() if kind == "manual" and sid not in sharing)
    assert not unread, f"manual snapshots {unread} of Aurora cluster {name} were not read, expected their attributes"
    shared = {
        sid: ["all (public)" if v == "all" else f"account {v}" for v in values if v != inv.account]
        for sid, attributes in sharing.items()
        for values in [attributes.get("restore", [])]
        if any(v != inv.account for v in values)
    }
    assert not shared, (
        f"snapshots of Aurora cluster {name} are shared outside account {inv.account}: {shared} (snapshot: who may "
        "restore it), expected no restore attribute value"
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:3.5.1",
            "Every snapshot is a stored copy of the card data: it is encrypted with the key the environment controls.",
        ),
        primary("CIS-AWS-3.0:2.3.1", "CIS 2.3.1: RDS storage (here the cluster's snapshots) is encrypted at rest."),
    ],
    rationale=(
        "Every snapshot of the Aurora cluster (automated, manual, copies) is encrypted with the environment key, "
        "whose policy keeps it in the account."
    ),
)
def test_cluster_snapshots_encrypted_with_environment_key(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    db = inv.database
    name = inv.outputs.AuroraClusterIdentifier
    snapshots = {str(x.get("DBClusterSnapshotIdentifier")): x for x in db.cluster_snapshots}
    evidence.attach(
        "cluster snapshots",
        {
            sid: {"StorageEncrypted": x.get("StorageEncrypted"), "KmsKeyId": x.get("KmsKeyId")}
            for sid, x in snapshots.items()
        },
    )
    ours = inv.storage.is_environment_key
    wrong = {
        sid: f"encrypted with {x.get('KmsKeyId') or 'the AWS managed key'}"
        if x.get("StorageEncrypted")
        else "not encrypted"
        for sid, x in snapshots.items()
        if not x.get("StorageEncrypted") or not ours(x.get("KmsKeyId"))
    }
    assert not wrong, (
        f"snapshots of Aurora cluster {name}: {wrong}, expected each encrypted with the environment key "
        f"{inv.storage.key.get('Arn')}"
    )
