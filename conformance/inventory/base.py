"""Shared pieces of the inventory sections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import botocore.exceptions
from pydantic import BaseModel, ConfigDict, Field

from conformance.aws import error_code
from conformance.errors import ConformanceError, ExitCode

T = TypeVar("T")
Raw = dict[str, Any]


class ProbeError(ConformanceError):
    """The suite could not observe what a check needs (throttled, denied, timed out, failed)."""

    exit_code = ExitCode.CANNOT_OBSERVE


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    errors: dict[str, str] = Field(default_factory=dict)

    def require(self, *operations: str) -> None:
        """Raise ProbeError when one of these operations failed during collection."""
        for op in operations or tuple(self.errors):
            if op in self.errors:
                raise ProbeError(f"could not observe {op}: {self.errors[op]}")


def describe_error(exc: BaseException) -> str:
    code = error_code(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{code}: {message}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


def attempt(section: Section, operation: str, fn: Callable[[], Any], default: Any) -> Any:
    """Run one API read; on failure record it in the section and return the default.

    ``NotFound``-style answers are data, not errors: callers handle them by passing
    functions that catch the codes they expect.
    """
    try:
        return fn()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        section.errors[operation] = describe_error(exc)
        return default


def absent_on(codes: tuple[str, ...], fn: Callable[[], T], default: T) -> T:
    """Call fn; return default when AWS answers with one of ``codes`` (e.g. no configuration)."""
    try:
        return fn()
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in codes:
            return default
        raise


def paginate(client: Any, method: str, key: str, **kwargs: Any) -> list[Raw]:
    items: list[Raw] = []
    for page in client.get_paginator(method).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def tags_of(raw: Raw | None, key: str = "Tags") -> dict[str, str]:
    tags = (raw or {}).get(key) or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t.get("Key", t.get("key", "")): t.get("Value", t.get("value", "")) for t in tags}
