"""Read a bucket policy the way IAM evaluates it: does it deny every request made without TLS?

A statement counts when it is an explicit ``Deny`` for everyone (``"*"`` or ``{"AWS": "*"}``),
its actions cover every S3 action (``s3:*``, ``*`` or any equivalent wildcard; IAM action
names are case-insensitive), and its only condition is ``aws:SecureTransport`` false under
``Bool`` or ``BoolIfExists`` (string or boolean, scalar or list; condition keys are
case-insensitive). Bucket and objects may be covered by one statement or by two; a resource
pattern covers the objects only if it matches every object key.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

# Representative S3 actions on the bucket and on objects: a statement's actions cover "every
# S3 action" when each of these (and a name no real action has) matches one of its patterns.
S3_ACTIONS = (
    "s3:getobject", "s3:putobject", "s3:deleteobject", "s3:deleteobjectversion", "s3:getobjectversion",
    "s3:putobjectacl", "s3:restoreobject", "s3:abortmultipartupload", "s3:listmultipartuploadparts",
    "s3:listbucket", "s3:listbucketversions", "s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucket",
    "s3:putlifecycleconfiguration", "s3:putencryptionconfiguration", "s3:putbucketversioning",
    "s3:putreplicationconfiguration", "s3:zz-any-future-action",
)  # fmt: skip
# Object keys a pattern must match to cover "all objects" (``?`` and partial prefixes do not).
_SAMPLE_KEYS = ("*", "conformance-probe/run/0f1e2d3c", "a", "logs/2026/11/28/x y.json.gz")


@dataclass(frozen=True)
class TlsDenyCoverage:
    bucket: bool  # a qualifying statement denies requests on the bucket itself
    objects: bool  # ... and on every object in it
    statements: tuple[str, ...]  # Sids (or indexes) of the qualifying statements

    @property
    def complete(self) -> bool:
        return self.bucket and self.objects


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def _all_s3_actions(actions: Any) -> bool:
    patterns = [str(a).lower() for a in _as_list(actions)]
    return bool(patterns) and all(any(fnmatchcase(action, p) for p in patterns) for action in S3_ACTIONS)


def _insecure_transport_only(condition: Any) -> bool:
    """The condition is exactly ``aws:SecureTransport`` false under Bool/BoolIfExists (nothing narrows it)."""
    if not isinstance(condition, dict) or not condition:
        return False
    tests = [
        (str(op), str(key), value)
        for op, block in condition.items()
        for key, value in (block.items() if isinstance(block, dict) else [("", None)])
    ]
    return all(
        op in ("Bool", "BoolIfExists")
        and key.lower() == "aws:securetransport"
        and "false" in {str(v).lower() for v in _as_list(value)}
        for op, key, value in tests
    )


def _covers(resources: Any, bucket_arn: str) -> tuple[bool, bool]:
    patterns = [str(r) for r in _as_list(resources)]
    on_bucket = any(fnmatchcase(bucket_arn, p) for p in patterns)
    on_objects = any(all(fnmatchcase(f"{bucket_arn}/{k}", p) for k in _SAMPLE_KEYS) for p in patterns)
    return on_bucket, on_objects


def tls_deny_coverage(policy: dict[str, Any], bucket_arn: str) -> TlsDenyCoverage:
    """Which parts of the bucket the policy's TLS-only deny covers."""
    bucket = objects = False
    found: list[str] = []
    for i, st in enumerate(_as_list((policy or {}).get("Statement"))):
        if not isinstance(st, dict) or st.get("Effect") != "Deny" or "NotPrincipal" in st:
            continue
        if not (_everyone(st.get("Principal")) and _all_s3_actions(st.get("Action"))):
            continue
        if not _insecure_transport_only(st.get("Condition")):
            continue
        on_bucket, on_objects = _covers(st.get("Resource"), bucket_arn)
        if on_bucket or on_objects:
            found.append(str(st.get("Sid") or f"statement {i}"))
        bucket, objects = bucket or on_bucket, objects or on_objects
    return TlsDenyCoverage(bucket=bucket, objects=objects, statements=tuple(found))
