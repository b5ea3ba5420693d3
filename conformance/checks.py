"""Check metadata: declared beside each check, validated at import, one registry for all.

    @check(
        severity="critical",
        links=[primary("PCI-DSS-4.0:3.5.1", "Stored card data in the bucket is encrypted with the environment key.")],
        rationale="...",
    )
    def test_bucket_encrypts_with_environment_key(inv, spec, evidence): ...

    @check(severity="high", operational="availability: survives the loss of an AZ", rationale="...")
    def test_private_subnets_one_per_az(inv, spec, evidence): ...

A check either serves controls, each link ``primary`` (its evidence answers the requirement's
testing procedure directly) or ``supporting`` (it corroborates, or covers part of it), with a
one-line justification; or it is ``operational`` (availability, sizing, naming, tags...: no
PCI DSS requirement), with the reason, and then links to nothing. Every serving check has at
least one primary link. docs/controls.md says how the severity is chosen and how a control's
status follows from its primary links.

The check's stable id is its test function's name, unique across the suite (a self-test says
so). The same registry feeds the pytest markers, the Allure labels, ``docs/checks.md`` and
the control matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from conformance.requirements import TITLES

SEVERITIES = ("critical", "high", "medium", "low")
LINK_KINDS = ("primary", "supporting")
CONTROL_RE = re.compile(r"^(PCI-DSS-4\.0:\d+(\.\d+){1,3}|CIS-AWS-3\.0:\d+(\.\d+){1,2})$")
SUITES = ("network", "database", "compute", "storage", "consistency", "account", "template", "stack")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Link:
    """One control a check serves: how (primary or supporting) and why its evidence serves it."""

    control: str  # e.g. "PCI-DSS-4.0:3.5.1"
    kind: str  # "primary" or "supporting"
    why: str  # one line: why this check's evidence serves that requirement's testing procedure


def primary(control: str, why: str) -> Link:
    """The check's evidence answers the requirement's testing procedure directly."""
    return Link(control, "primary", why)


def supporting(control: str, why: str) -> Link:
    """The check's evidence corroborates the requirement, or covers a part of it."""
    return Link(control, "supporting", why)


@dataclass(frozen=True)
class CheckMeta:
    id: str
    suite: str
    severity: str
    links: tuple[Link, ...]
    operational: str | None  # why the check serves no PCI DSS requirement; None for a control check
    rationale: str
    module: str

    @property
    def controls(self) -> tuple[str, ...]:
        """Every control the check links to, primary first."""
        return tuple(link.control for link in sorted(self.links, key=lambda lk: LINK_KINDS.index(lk.kind)))

    @property
    def primary_controls(self) -> tuple[str, ...]:
        return tuple(link.control for link in self.links if link.kind == "primary")

    def link(self, control: str) -> Link | None:
        return next((lk for lk in self.links if lk.control == control), None)


REGISTRY: dict[str, CheckMeta] = {}


class CheckDefinitionError(ValueError):
    pass


def _suite_of(module: str) -> str:
    parts = module.split(".")
    for part in parts:
        if part in SUITES:
            return part
    return parts[-1].removeprefix("test_")


def _one_line(text: object) -> bool:
    return isinstance(text, str) and bool(text.strip()) and "\n" not in text.strip()


def _validate_links(where: str, links: tuple[Link, ...], operational: str | None) -> None:
    if operational is not None:
        if not _one_line(operational):
            raise CheckDefinitionError(f"check {where}: the operational reason must be one line")
        if links:
            raise CheckDefinitionError(
                f"check {where}: an operational check serves no control, yet it links "
                f"{', '.join(lk.control for lk in links)}; drop the links or the operational reason"
            )
        return
    if not links:
        raise CheckDefinitionError(
            f"check {where}: it must serve at least one control (links=[primary(...)]) or say why it is "
            "operational (operational='...')"
        )
    for lk in links:
        if not isinstance(lk, Link):
            raise CheckDefinitionError(f"check {where}: link {lk!r} is not primary(...) or supporting(...)")
        if not CONTROL_RE.match(lk.control):
            raise CheckDefinitionError(f"check {where}: malformed control id {lk.control}")
        if lk.control not in TITLES:
            raise CheckDefinitionError(
                f"check {where}: unknown requirement {lk.control} (no title in conformance/requirements.py)"
            )
        if lk.kind not in LINK_KINDS:
            raise CheckDefinitionError(f"check {where}: link kind {lk.kind!r} is not one of {', '.join(LINK_KINDS)}")
        if not _one_line(lk.why):
            raise CheckDefinitionError(f"check {where}: the justification of its link to {lk.control} must be one line")
    seen = [lk.control for lk in links]
    twice = sorted({c for c in seen if seen.count(c) > 1})
    if twice:
        raise CheckDefinitionError(f"check {where}: control(s) {', '.join(twice)} linked more than once")
    if not any(lk.kind == "primary" for lk in links):
        raise CheckDefinitionError(
            f"check {where}: no primary link (only supporting {', '.join(seen)}); a check that answers no "
            "requirement directly is operational or has no place in the matrix"
        )


def check(
    *,
    severity: str,
    rationale: str,
    links: Iterable[Link] = (),
    operational: str | None = None,
) -> Callable[[F], F]:
    """Declare a function as a conformance check with its metadata."""
    links = tuple(links)

    def decorate(fn: F) -> F:
        cid = fn.__name__
        where = f"{fn.__module__}.{cid}"
        if not cid.startswith("test_"):
            raise CheckDefinitionError(f"check {where}: its name must start with test_")
        if severity not in SEVERITIES:
            raise CheckDefinitionError(f"check {where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        _validate_links(where, links, operational)
        if not _one_line(rationale):
            raise CheckDefinitionError(f"check {where}: the rationale must be one line")
        previous = REGISTRY.get(cid)
        if previous is not None and previous.module != fn.__module__:
            raise CheckDefinitionError(f"check id {cid} is declared twice: in {previous.module} and {fn.__module__}")
        meta = CheckMeta(
            id=cid,
            suite=_suite_of(fn.__module__),
            severity=severity,
            links=tuple(Link(lk.control, lk.kind, lk.why.strip()) for lk in links),
            operational=operational.strip() if operational is not None else None,
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
