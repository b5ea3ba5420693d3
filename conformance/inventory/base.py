"""Shared pieces of the inventory sections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import botocore.exceptions
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from core.aws import error_code
from core.errors import ConformanceError, ExitCode

T = TypeVar("T")


class ProbeError(ConformanceError):
    """The suite could not observe what a check needs (throttled, denied, timed out, failed)."""

    exit_code = ExitCode.CANNOT_OBSERVE


@dataclass(frozen=True)
class Reads:
    """The API reads that fill a section field (a read whose input comes from another read lists that one too)."""

    operations: tuple[str, ...]


def reads(*operations: str) -> Reads:
    """Declare, in a field's annotation, the reads that fill it.

    ``cluster: Annotated[DBCluster, reads("rds:DescribeDBClusters")]``.

    Once the section is sealed, reading a field one of whose reads failed raises ProbeError, so no
    check can mistake "could not observe" for an empty (non-conforming) value.
    """
    return Reads(operations)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    errors: dict[str, str] = Field(default_factory=dict)
    # Sealed once the inventory is complete (and whenever it is loaded): from then on, reading
    # a field whose read failed raises. Collectors, which run before, see the defaults.
    _sealed: bool = PrivateAttr(default=False)
    # field name -> the reads that fill it, from each field's ``reads(...)`` annotation
    field_reads: ClassVar[dict[str, tuple[str, ...]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.field_reads = {
            name: meta.operations
            for name, field in cls.model_fields.items()
            for meta in field.metadata
            if isinstance(meta, Reads)
        }

    def seal(self) -> None:
        self._sealed = True

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name != "errors":
            ops = type(self).field_reads.get(name)
            private = object.__getattribute__(self, "__pydantic_private__") or {}
            if ops and private.get("_sealed"):
                errors = object.__getattribute__(self, "__dict__").get("errors") or {}
                for op in ops:
                    if op in errors:
                        raise ProbeError(f"could not observe {op}: {errors[op]}")
        return super().__getattribute__(name)

    def require(self, *operations: str) -> None:
        """Raise ProbeError when one of these operations failed during collection."""
        for op in operations or tuple(self.errors):
            if op in self.errors:
                raise ProbeError(f"could not observe {op}: {self.errors[op]}")


def nothing() -> Any:
    """A field's empty default answer (``Field(default_factory=nothing)``): an empty dict, whatever its shape."""
    return {}


def describe_error(exc: BaseException) -> str:
    code = error_code(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{code}: {message}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


def attempt(section: Section, operation: str, fn: Callable[[], T], default: T) -> T:
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


def concurrently(*tasks: Callable[[], Any]) -> list[Any]:
    """Run independent reads (a call, or a chain of calls that need each other) at once; results in order.

    On AWS each call waits tens to hundreds of milliseconds on the network, so the depth of the
    longest chain, not the number of calls, sets how long a section takes (docs/performance.md).
    """
    if len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="inventory-read") as pool:
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]


def paginate(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    """Every item of every page under ``key`` (typed where it is stored: the field's shape)."""
    items: list[Any] = []
    for page in client.get_paginator(method).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def tags_of(raw: Mapping[str, Any] | None, key: str = "Tags") -> dict[str, str]:
    tags = (raw or {}).get(key) or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t.get("Key", t.get("key", "")): t.get("Value", t.get("value", "")) for t in tags}
