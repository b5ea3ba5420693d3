"""The S3 write probe: one object written, read back and removed with every version it made.

The probe writes a small object without encryption headers under a key unique to the run
(``conformance-probe/<run-id>/<uuid>``), reads back how S3 stored it (HeadObject), and, in
every case (the write or the read failed, the check is about to fail, the test was
interrupted), deletes each version and delete marker of exactly that key. Unless its one
PutObject request provably made the key's only version (not retried, deleted without an
error), it then lists the key again: anything still there is reported, never silently left
behind. Three calls when all goes well, four or more otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from conformance.inventory import ProbeError
from core.aws import error_code

PREFIX = "conformance-probe"
BODY = b"payments conformance write probe: no card data here\n"


@dataclass
class WriteProbeResult:
    bucket: str
    key: str
    stored: dict[str, Any] = field(default_factory=dict)  # ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled
    refused: str = ""  # the error S3 answered the write with, when it refused it for the key's sake
    removed: list[str] = field(default_factory=list)  # version ids deleted afterwards


def probe_key(run_id: str) -> str:
    return f"{PREFIX}/{run_id}/{uuid.uuid4()}"


def versions_of(s3: Any, bucket: str, key: str) -> list[dict[str, str]]:
    """Every version and delete marker of exactly ``key`` (not of keys that merely start with it)."""
    found: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if entry.get("Key") == key:
                found.append({"Key": key, "VersionId": entry.get("VersionId") or "null"})
    return found


def purge(
    s3: Any, bucket: str, key: str, known: list[str] | None = None, *, known_complete: bool = False
) -> tuple[list[str], list[str]]:
    """Delete every version and delete marker of ``key``; return (removed version ids, problems).

    ``known``: version ids the caller knows it made (from PutObject): deleted without a listing
    first. A listing afterwards finds anything else of the key, which is deleted too.
    ``known_complete``: ``known`` is provably every version of the key (one PutObject request, not
    retried, under a key unique to the run): once S3 has deleted them without an error, there is
    nothing a listing could find, and none is made.
    """
    removed: list[str] = []
    problems: list[str] = []

    def delete(doomed: list[dict[str, str]]) -> None:
        for start in range(0, len(doomed), 1000):
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
            for err in answer.get("Errors", []):
                problems.append(f"version {err.get('VersionId')}: {err.get('Code')} {err.get('Message', '')}".strip())
        removed.extend(d["VersionId"] for d in doomed)

    try:
        if known:
            delete([{"Key": key, "VersionId": v} for v in known])
            if known_complete and not problems:
                return removed, problems
        left = versions_of(s3, bucket, key)
        if left and not problems:
            delete(left)
            left = versions_of(s3, bucket, key)
        if left:
            problems.append(f"still listed after the delete: {', '.join(v['VersionId'] for v in left)}")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        problems.append(f"{error_code(exc) or type(exc).__name__}: {exc}")
    return removed, problems


# Errors that say the bucket's default key is unusable (disabled, pending deletion, gone): a
# finding about the bucket, not a failure to observe it.
_KEY_REFUSALS = ("KMS.",)


def write_probe(s3: Any, bucket: str, run_id: str) -> WriteProbeResult:
    """Write, read back and remove one probe object; the removal runs whatever happens before it."""
    result = WriteProbeResult(bucket=bucket, key=probe_key(run_id))
    written: list[str] = []  # the version PutObject made: deleted directly
    # one request, not retried: its version is the key's only one and no listing is needed after
    # deleting it; a retried PutObject may have made two versions, so the key is listed then
    single = False
    failure: BaseException | None = None
    try:
        try:
            put = s3.put_object(Bucket=bucket, Key=result.key, Body=BODY)
            written.append(put.get("VersionId") or "null")
            single = int((put.get("ResponseMetadata") or {}).get("RetryAttempts", 1)) == 0
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc) or ""
            if not code.startswith(_KEY_REFUSALS):
                raise ProbeError(f"the write probe could not put s3://{bucket}/{result.key}: {code}") from exc
            result.refused = code
            return result
        try:
            head = s3.head_object(Bucket=bucket, Key=result.key)
        except botocore.exceptions.ClientError as exc:
            raise ProbeError(
                f"the write probe could not read back s3://{bucket}/{result.key}: {error_code(exc)}"
            ) from exc
        result.stored = {k: head.get(k) for k in ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")}
        return result
    except BaseException as exc:  # re-raised below, after the clean-up
        failure = exc
        raise
    finally:
        result.removed, problems = purge(s3, bucket, result.key, written, known_complete=single)
        if problems:
            message = f"the write probe left s3://{bucket}/{result.key} behind: {'; '.join(problems)}"
            if failure is not None:
                failure.add_note(message)
            else:
                raise ProbeError(message)
