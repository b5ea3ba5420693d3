"""Self-tests of ``emulator/faithful/snapshots.py``: sharing and copying a DB cluster snapshot.

Real emulator process, real boto3: an encrypted Aurora cluster created through the API, a
manual snapshot shared with another account, public sharing refused for it, the share
removed, a copy under another key, and the errors AWS answers.
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

OTHER = "111122223333"


@pytest.fixture
def snapshot(aws):
    rds, kms = aws("rds"), aws("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    cluster = f"snap-{uuid.uuid4().hex[:8]}"
    rds.create_db_cluster(
        DBClusterIdentifier=cluster, Engine="aurora-mysql", MasterUsername="dbadmin",
        MasterUserPassword="not-a-real-password-1", StorageEncrypted=True, KmsKeyId=key,
    )  # fmt: skip
    sid = f"{cluster}-manual"
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=sid, DBClusterIdentifier=cluster)
    return {"cluster": cluster, "snapshot": sid, "key": key}


def _restore(rds, sid: str) -> list[str]:
    result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=sid)
    attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    return [v for a in attributes if a["AttributeName"] == "restore" for v in a["AttributeValues"]]


def test_a_share_is_reported_and_removed(aws, snapshot):
    rds, sid = aws("rds"), snapshot["snapshot"]
    assert _restore(rds, sid) == []
    answer = rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=sid, AttributeName="restore", ValuesToAdd=[OTHER]
    )["DBClusterSnapshotAttributesResult"]
    assert answer["DBClusterSnapshotIdentifier"] == sid
    assert answer["DBClusterSnapshotAttributes"] == [{"AttributeName": "restore", "AttributeValues": [OTHER]}]
    assert _restore(rds, sid) == [OTHER]
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier=sid, AttributeName="restore", ValuesToRemove=[OTHER]
    )
    assert _restore(rds, sid) == []


def test_what_aws_refuses(aws, snapshot):
    rds, sid = aws("rds"), snapshot["snapshot"]

    def code(**kwargs) -> str:
        with pytest.raises(ClientError) as error:
            rds.modify_db_cluster_snapshot_attribute(**kwargs)
        return str(error.value.response["Error"]["Code"])

    # an encrypted snapshot is shared with named accounts only, never with all
    assert (
        code(DBClusterSnapshotIdentifier=sid, AttributeName="restore", ValuesToAdd=["all"]) == "InvalidParameterValue"
    )
    assert code(DBClusterSnapshotIdentifier=sid, AttributeName="copy", ValuesToAdd=[OTHER]) == "InvalidParameterValue"
    assert code(DBClusterSnapshotIdentifier="nope", AttributeName="restore", ValuesToAdd=[OTHER]) == (
        "DBClusterSnapshotNotFoundFault"
    )
    many = [f"{n:012d}" for n in range(1, 22)]
    assert code(DBClusterSnapshotIdentifier=sid, AttributeName="restore", ValuesToAdd=many) == (
        "SharedSnapshotQuotaExceeded"
    )
    assert _restore(rds, sid) == []


def test_a_copy_under_another_key(aws, snapshot):
    rds, kms, sid = aws("rds"), aws("kms"), snapshot["snapshot"]
    rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=sid, AttributeName="restore",
                                             ValuesToAdd=[OTHER])  # fmt: skip
    other_key = kms.create_key()["KeyMetadata"]["KeyId"]
    copy = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=sid, TargetDBClusterSnapshotIdentifier=f"{sid}-copy", KmsKeyId=other_key
    )["DBClusterSnapshot"]
    assert copy["SnapshotType"] == "manual" and copy["StorageEncrypted"] is True
    assert copy["KmsKeyId"].endswith(f":key/{other_key}") and copy["KmsKeyId"] != snapshot["key"]
    listed = rds.describe_db_cluster_snapshots(DBClusterIdentifier=snapshot["cluster"])["DBClusterSnapshots"]
    assert sorted(x["DBClusterSnapshotIdentifier"] for x in listed) == [sid, f"{sid}-copy"]
    assert _restore(rds, f"{sid}-copy") == []  # a copy is never shared
    with pytest.raises(ClientError) as error:
        rds.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=sid, TargetDBClusterSnapshotIdentifier=f"{sid}-copy"
        )
    assert error.value.response["Error"]["Code"] == "DBClusterSnapshotAlreadyExistsFault"
