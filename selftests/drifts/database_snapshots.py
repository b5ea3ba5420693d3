"""Drifts for tests/database/test_snapshots.py: the card data copied out through a cluster snapshot."""

from __future__ import annotations

from selftests.drifts.registry import DriftContext, drift

OTHER_ACCOUNT = "111122223333"
SHARED = "drift-shared-copy"
REKEYED = "drift-rekeyed-copy"


def _snapshot(ctx: DriftContext, name: str) -> str:
    """A manual snapshot of the environment's cluster (CreateDBClusterSnapshot), as an operator would take one."""
    ctx.client("rds").create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=name, DBClusterIdentifier=ctx.outputs.AuroraClusterIdentifier
    )
    return name


@drift(
    "test_cluster_snapshots_not_shared_outside_the_account",
    f"a manual snapshot of the cluster is taken and shared (restore attribute) with account {OTHER_ACCOUNT}",
    id="db-snapshot-shared-with-other-account",
    names=lambda ctx: SHARED,
)
def drift_snapshot_shared(ctx: DriftContext) -> None:
    ctx.client("rds").modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=_snapshot(ctx, SHARED), AttributeName="restore", ValuesToAdd=[OTHER_ACCOUNT]
    )


@drift(
    "test_cluster_snapshots_encrypted_with_environment_key",
    "a manual snapshot of the cluster is copied (CopyDBClusterSnapshot) under a new key outside the stack",
    id="db-snapshot-copied-under-other-key",
    names=lambda ctx: REKEYED,
)
def drift_snapshot_rekeyed(ctx: DriftContext) -> None:
    key = ctx.client("kms").create_key(Description="not the environment key")["KeyMetadata"]["Arn"]
    ctx.client("rds").copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=_snapshot(ctx, "drift-source"),
        TargetDBClusterSnapshotIdentifier=REKEYED,
        KmsKeyId=key,
    )
