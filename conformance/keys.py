"""Compare KMS key references the way AWS reports them: key id, key ARN, alias name or alias ARN.

AWS documents that a service may echo the key it was given in any of these forms
(``KmsKeyId`` of an Aurora cluster or a log group, ``KmsMasterKeyId`` of a topic, a bucket's
``KMSMasterKeyID``): they name the same key when they resolve to it. Resolution uses what the
inventory already holds (DescribeKey's metadata and ListAliases for the key), no call per check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def names_key(reported: str | None, key: Mapping[str, Any], aliases: list[str] | tuple[str, ...] = ()) -> bool:
    """True when ``reported`` (an id, ARN or alias, as services echo it) names ``key`` (DescribeKey's metadata).

    An ARN must be of the key's partition, region and account; an alias (name or ARN) counts only
    when ``aliases`` (ListAliases for this key) lists it.
    """
    if not reported or not key:
        return False
    reported = str(reported).strip()
    if reported.startswith("arn:"):
        parts, own = reported.split(":", 5), str(key.get("Arn") or "").split(":", 5)
        if len(parts) < 6 or len(own) < 6 or parts[1:5] != own[1:5]:
            return False  # another partition, service, region or account
        resource = parts[5]
        if resource.startswith("alias/"):
            return resource in aliases
        return resource == f"key/{key.get('KeyId')}"
    if reported.startswith("alias/"):
        return reported in aliases
    return reported == key.get("KeyId")
