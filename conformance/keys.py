"""Compare KMS key references the way AWS reports them: key id, key ARN or alias."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def names_key(reported: str | None, key: Mapping[str, Any], aliases: list[str] | tuple[str, ...] = ()) -> bool:
    """True when ``reported`` (an id, ARN or alias, as services echo it) names ``key`` (DescribeKey's metadata)."""
    if not reported or not key:
        return False
    if reported in {key.get("Arn"), key.get("KeyId"), *aliases}:
        return True
    if ":alias/" in reported:  # an alias ARN: arn:aws:kms:<region>:<account>:alias/<name>
        return "alias/" + reported.split(":alias/", 1)[1] in aliases
    return reported.rsplit("/", 1)[-1] == key.get("KeyId")
