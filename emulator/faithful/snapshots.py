"""RDS: who may restore a manual DB cluster snapshot, and copies of one under another key.

Gaps closed (MiniStack 1.5.33, measured with boto3 on a cluster created through the API):

1. ``ModifyDBClusterSnapshotAttribute`` answers ``InvalidAction`` (not implemented), and
   ``DescribeDBClusterSnapshotAttributes`` always answers an empty ``restore`` attribute, so a
   snapshot shared with another account (or made public) looked private. -> :func:`_modify`
   keeps the ``restore`` values on the snapshot record (added and removed as AWS does: manual
   snapshots only, ``all`` refused for an encrypted snapshot, at most 20 accounts) and
   :func:`_describe` reports them.
2. ``CopyDBClusterSnapshot`` answers ``InvalidAction``. -> :func:`_copy` makes the manual copy
   AWS makes: same cluster identifier and engine, encrypted with ``KmsKeyId`` when given (the
   source's key otherwise), never shared, tags only with ``CopyTags`` or ``Tags``.

The values live on MiniStack's snapshot record (a private key no response renders), so a
reset or a DeleteDBClusterSnapshot forgets them with the snapshot.
"""

from __future__ import annotations

import copy
from typing import Any

from faithful.kms import key_arn
from ministack.core.responses import get_account_id, get_region
from ministack.services import rds as _rds

RESTORE = "_RestoreAccounts"  # the private record key: account ids (or "all") that may restore the snapshot
MAX_SHARED_ACCOUNTS = 20  # AWS's quota of accounts one manual snapshot is shared with


def _snapshot(ref: str) -> dict[str, Any] | None:
    """The snapshot an identifier or ARN names."""
    return _rds._db_cluster_snapshots.get(ref.rsplit(":", 1)[-1] if ref.startswith("arn:") else ref)


def _not_found(ref: str) -> Any:
    return _rds._error("DBClusterSnapshotNotFoundFault", f"DBClusterSnapshot {ref} not found.", 404)


def _attributes_xml(snap: dict[str, Any]) -> str:
    values = "".join(f"<AttributeValue>{_rds._esc(v)}</AttributeValue>" for v in snap.get(RESTORE, []))
    return (
        f"<DBClusterSnapshotIdentifier>{_rds._esc(snap['DBClusterSnapshotIdentifier'])}</DBClusterSnapshotIdentifier>"
        "<DBClusterSnapshotAttributes><DBClusterSnapshotAttribute><AttributeName>restore</AttributeName>"
        f"<AttributeValues>{values}</AttributeValues></DBClusterSnapshotAttribute></DBClusterSnapshotAttributes>"
    )


def _values(p: dict[str, Any], prefix: str) -> list[str]:
    # botocore sends ValuesToAdd.AttributeValue.N
    return [str(v) for v in _rds._parse_member_list(p, prefix) if v]


def _modify(p: dict[str, Any]) -> Any:
    ref = _rds._p(p, "DBClusterSnapshotIdentifier")
    snap = _snapshot(ref)
    if snap is None:
        return _not_found(ref)
    name = _rds._p(p, "AttributeName")
    if name != "restore":
        return _rds._error("InvalidParameterValue", f"Invalid snapshot attribute name: {name}", 400)
    if snap.get("SnapshotType") != "manual":
        return _rds._error(
            "InvalidDBClusterSnapshotStateFault",
            f"Only manual DB cluster snapshots can be shared; {snap['DBClusterSnapshotIdentifier']} is "
            f"{snap.get('SnapshotType')}.",
            400,
        )
    add, remove = _values(p, "ValuesToAdd"), set(_values(p, "ValuesToRemove"))
    if "all" in add and snap.get("StorageEncrypted"):
        return _rds._error(
            "InvalidParameterValue", "An encrypted DB cluster snapshot cannot be shared with all accounts.", 400
        )
    after = [v for v in snap.get(RESTORE, []) if v not in remove]
    after += [v for v in add if v not in after]
    if len([v for v in after if v != "all"]) > MAX_SHARED_ACCOUNTS:
        return _rds._error(
            "SharedSnapshotQuotaExceeded",
            f"A DB cluster snapshot can be shared with at most {MAX_SHARED_ACCOUNTS} accounts.",
            400,
        )
    snap[RESTORE] = after
    return _rds._xml(
        200,
        "ModifyDBClusterSnapshotAttributeResponse",
        "<ModifyDBClusterSnapshotAttributeResult><DBClusterSnapshotAttributesResult>"
        f"{_attributes_xml(snap)}</DBClusterSnapshotAttributesResult></ModifyDBClusterSnapshotAttributeResult>",
    )


def _describe(p: dict[str, Any]) -> Any:
    ref = _rds._p(p, "DBClusterSnapshotIdentifier")
    snap = _snapshot(ref) if ref else None
    if snap is None:
        return _not_found(ref)
    return _rds._xml(
        200,
        "DescribeDBClusterSnapshotAttributesResponse",
        "<DescribeDBClusterSnapshotAttributesResult><DBClusterSnapshotAttributesResult>"
        f"{_attributes_xml(snap)}</DBClusterSnapshotAttributesResult></DescribeDBClusterSnapshotAttributesResult>",
    )


def _copy(p: dict[str, Any]) -> Any:
    source_ref = _rds._p(p, "SourceDBClusterSnapshotIdentifier")
    target = _rds._p(p, "TargetDBClusterSnapshotIdentifier")
    source = _snapshot(source_ref)
    if source is None:
        return _not_found(source_ref)
    if not target:
        return _rds._error("MissingParameter", "TargetDBClusterSnapshotIdentifier is required", 400)
    if target in _rds._db_cluster_snapshots:
        return _rds._error("DBClusterSnapshotAlreadyExistsFault", f"DB cluster snapshot {target} already exists.", 400)
    key = _rds._p(p, "KmsKeyId")
    if key and not source.get("StorageEncrypted"):
        return _rds._error(
            "InvalidParameterValue", "An unencrypted DB cluster snapshot cannot be encrypted when it is copied.", 400
        )
    snap = {k: copy.deepcopy(v) for k, v in source.items() if k != RESTORE}
    arn = f"arn:aws:rds:{get_region()}:{get_account_id()}:cluster-snapshot:{target}"
    snap.update(
        DBClusterSnapshotIdentifier=target,
        DBClusterSnapshotArn=arn,
        SnapshotType="manual",
        SnapshotCreateTime=_rds._format_time(_rds.time.time()),
        SourceDBClusterSnapshotArn=source.get("DBClusterSnapshotArn", ""),
    )
    if key:
        snap["KmsKeyId"] = key_arn(key)
    tags = _rds._parse_tags(p)
    copy_tags = str(_rds._p(p, "CopyTags")).lower() == "true"
    snap["TagList"] = tags or (list(source.get("TagList", [])) if copy_tags else [])
    _rds._tags[arn] = list(snap["TagList"])
    _rds._db_cluster_snapshots[target] = snap
    return _rds._xml(
        200,
        "CopyDBClusterSnapshotResponse",
        f"<CopyDBClusterSnapshotResult><DBClusterSnapshot>{_rds._cluster_snapshot_xml(snap)}</DBClusterSnapshot>"
        "</CopyDBClusterSnapshotResult>",
    )


def install() -> None:
    _rds._ACTION_MAP.update(
        ModifyDBClusterSnapshotAttribute=_modify,
        DescribeDBClusterSnapshotAttributes=_describe,
        CopyDBClusterSnapshot=_copy,
    )
