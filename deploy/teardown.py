"""What a teardown left behind, in one message (issue 5, scenario 9).

On AWS a stack whose ``DeletionPolicy: Delete`` bucket still holds objects fails to delete
(``BucketNotEmpty`` → the resource and the stack ``DELETE_FAILED``); a bucket with
``DeletionPolicy: Retain`` is kept (``DELETE_SKIPPED``) with whatever it holds. Either way the
teardown did not leave the account as it found it: it ends with one message listing each
resource left behind (logical id, type, physical id, reason) and exit 3, and deletes nothing
by force (no ``FORCE_DELETE_STACK``, no emptying of buckets unless ``--purge-retained`` asks).
A retained bucket that is empty is named on an informational line and is no failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from core.aws import AwsSession, error_code
from core.errors import InfrastructureError


class TeardownIncomplete(InfrastructureError):
    """A teardown left resources behind (DELETE_FAILED, or retained holding data): exit 3."""


@dataclass(frozen=True)
class Leftover:
    logical_id: str
    resource_type: str
    physical_id: str
    reason: str

    def line(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.physical_id or '?'}: {self.reason}"


def bucket_objects(aws: AwsSession, bucket: str) -> int | None:
    """How many object versions (and delete markers) a bucket holds, up to 1000; None when it is gone."""
    try:
        page = aws.client("s3").list_object_versions(Bucket=bucket, MaxKeys=1000)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("NoSuchBucket", "404"):
            return None
        raise
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def retained_leftovers(aws: AwsSession, retained: list[dict[str, str]]) -> list[Leftover]:
    """Retained buckets that still hold objects (a retained empty bucket is not a leftover problem).

    The retained KMS key is no leftover either: ``Deployer.release_retained`` schedules its deletion,
    or keeps it (saying why) while data encrypted with it is kept."""
    out = []
    for r in retained:
        if r["ResourceType"] == "AWS::KMS::Key":
            continue
        if r["ResourceType"] != "AWS::S3::Bucket":
            out.append(
                Leftover(
                    r["LogicalResourceId"],
                    r["ResourceType"],
                    r["PhysicalResourceId"],
                    "retained by DeletionPolicy Retain",
                )
            )
            continue
        n = bucket_objects(aws, r["PhysicalResourceId"])
        if n:
            more = "+" if n >= 1000 else ""
            out.append(
                Leftover(
                    r["LogicalResourceId"], r["ResourceType"], r["PhysicalResourceId"],
                    f"retained by DeletionPolicy Retain, holds {n}{more} object version(s)",
                )
            )  # fmt: skip
    return out


def failed_leftovers(events: list[dict[str, Any]], stack_name: str) -> list[Leftover]:
    """Resources whose latest event is DELETE_FAILED (events oldest first)."""
    latest: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["LogicalResourceId"] != stack_name:
            latest[e["LogicalResourceId"]] = e
    return [
        Leftover(
            lid,
            e.get("ResourceType", "?"),
            e.get("PhysicalResourceId", ""),
            e.get("ResourceStatusReason") or "no reason given",
        )
        for lid, e in latest.items()
        if e.get("ResourceStatus") == "DELETE_FAILED"
    ]


def message(stack_name: str, env: str, status: str, leftovers: list[Leftover], *, command: str = "") -> str:
    """``command``: the deployer command that deletes the stack (default ``python -m deploy down --env ENV``)."""
    items = "; ".join(f.line() for f in leftovers)
    return (
        f"teardown of {stack_name} ended {status} and left {len(leftovers)} resource(s) behind, none deleted "
        f"by force: {items}; empty or keep them yourself (e.g. `aws s3 rm s3://BUCKET --recursive`), then run "
        f"`{command or f'python -m deploy down --env {env}'}` again (or --purge-retained for retained buckets)."
    )
