"""Check metadata: declared beside each check, validated at import, one registry for all.

    @check(severity="critical", controls=["PCI-DSS-4.0:3.5.1"], rationale="...")
    def test_bucket_encrypts_with_environment_key(inv, spec, evidence): ...

The check's stable id is its test function's name, unique across the suite (a self-test says
so). The same registry feeds the pytest markers, the Allure labels, ``docs/checks.md`` and
the control matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

SEVERITIES = ("critical", "high", "medium", "low")
CONTROL_RE = re.compile(r"^(PCI-DSS-4\.0:\d+(\.\d+){1,3}|CIS-AWS-3\.0:\d+(\.\d+){1,2})$")
SUITES = ("network", "database", "compute", "storage", "consistency", "template", "stack")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CheckMeta:
    id: str
    suite: str
    severity: str
    controls: tuple[str, ...]
    rationale: str
    module: str


REGISTRY: dict[str, CheckMeta] = {}


class CheckDefinitionError(ValueError):
    pass


def _suite_of(module: str) -> str:
    parts = module.split(".")
    for part in parts:
        if part in SUITES:
            return part
    return parts[-1].removeprefix("test_")


def check(*, severity: str, controls: list[str] | tuple[str, ...], rationale: str) -> Callable[[F], F]:
    """Declare a function as a conformance check with its metadata."""

    def decorate(fn: F) -> F:
        cid = fn.__name__
        where = f"{fn.__module__}.{cid}"
        if not cid.startswith("test_"):
            raise CheckDefinitionError(f"check {where}: its name must start with test_")
        if severity not in SEVERITIES:
            raise CheckDefinitionError(f"check {where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        if not controls:
            raise CheckDefinitionError(f"check {where}: it must serve at least one control")
        bad = [c for c in controls if not CONTROL_RE.match(c)]
        if bad:
            raise CheckDefinitionError(f"check {where}: malformed control id(s) {', '.join(bad)}")
        if not rationale.strip() or "\n" in rationale.strip():
            raise CheckDefinitionError(f"check {where}: the rationale must be one line")
        previous = REGISTRY.get(cid)
        if previous is not None and previous.module != fn.__module__:
            raise CheckDefinitionError(f"check id {cid} is declared twice: in {previous.module} and {fn.__module__}")
        meta = CheckMeta(
            id=cid,
            suite=_suite_of(fn.__module__),
            severity=severity,
            controls=tuple(controls),
            rationale=rationale.strip(),
            module=fn.__module__,
        )
        REGISTRY[cid] = meta
        fn.__conformance_check__ = meta  # type: ignore[attr-defined]
        return pytest.mark.conformance_check(meta)(fn)

    return decorate


def meta_of(item: pytest.Item) -> CheckMeta | None:
    marker = item.get_closest_marker("conformance_check")
    return marker.args[0] if marker else None
