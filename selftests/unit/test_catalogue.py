"""The check registry: unique ids, valid metadata and control links, and docs/checks.md generated
from it and current."""

from __future__ import annotations

import pytest

from conformance.checks import CheckDefinitionError, Link, check, primary, supporting
from conformance.report.controls import control
from conformance.requirements import TITLES
from selftests.catalogue import OUTPUT, load_checks, render

WHY = "The evidence answers the testing procedure."


def test_every_check_has_valid_metadata_and_a_unique_id():
    checks = load_checks()
    assert len(checks) >= 60
    for meta in checks.values():
        assert meta.id.startswith("test_")
        assert meta.rationale


def test_every_check_is_operational_or_has_a_primary_link():
    checks = load_checks()
    neither = [m.id for m in checks.values() if not m.operational and not m.primary_controls]
    both = [m.id for m in checks.values() if m.operational and m.links]
    assert not neither, f"checks with no primary link that are not operational: {neither}"
    assert not both, f"operational checks that link controls: {both}"
    assert any(m.operational for m in checks.values()) and any(m.links for m in checks.values())


def test_every_linked_requirement_has_a_title_and_every_link_a_justification():
    for meta in load_checks().values():
        for link in meta.links:
            assert link.kind in ("primary", "supporting")
            assert link.why.strip() and "\n" not in link.why, f"{meta.id} -> {link.control}"
            assert control(link.control).title == TITLES[link.control]


def test_a_check_id_declared_twice_is_refused():
    load_checks()
    with pytest.raises(CheckDefinitionError, match="declared twice"):

        @check(severity="high", operational="naming", rationale="duplicate")
        def test_vpc_cidr_matches_environment():  # same name as the real check, another module
            pass


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"severity": "urgent", "links": [primary("PCI-DSS-4.0:1.3.1", WHY)]}, "severity"),
        ({"severity": "high", "links": []}, "at least one control"),
        ({"severity": "high", "links": [primary("PCI 1.3.1", WHY)]}, "malformed control id PCI 1.3.1"),
        ({"severity": "high", "links": [primary("PCI-DSS-4.0:9.9.9", WHY)]}, "unknown requirement PCI-DSS-4.0:9.9.9"),
        ({"severity": "high", "links": [primary("CIS-AWS-3.0:4.99", WHY)]}, "unknown requirement CIS-AWS-3.0:4.99"),
        ({"severity": "high", "links": [primary("PCI-DSS-4.0:1.3.1", "")]}, "justification of its link"),
        ({"severity": "high", "links": [primary("PCI-DSS-4.0:1.3.1", "two\nlines")]}, "justification of its link"),
        ({"severity": "high", "links": [Link("PCI-DSS-4.0:1.3.1", "main", WHY)]}, "link kind 'main'"),
        ({"severity": "high", "links": [("PCI-DSS-4.0:1.3.1", "primary", WHY)]}, "is not primary"),
        ({"severity": "high", "links": [supporting("PCI-DSS-4.0:1.3.1", WHY)]}, "no primary link"),
        (
            {"severity": "high", "links": [primary("PCI-DSS-4.0:1.3.1", WHY), supporting("PCI-DSS-4.0:1.3.1", WHY)]},
            "linked more than once",
        ),
        (
            {"severity": "high", "operational": "availability", "links": [primary("PCI-DSS-4.0:1.3.1", WHY)]},
            "operational check serves no control",
        ),
        ({"severity": "high", "operational": " "}, "operational reason must be one line"),
        ({"severity": "high", "links": [primary("CIS-AWS-3.0:5.2", WHY)], "rationale": "two\nlines"}, "one line"),
    ],
)
def test_malformed_metadata_is_refused_at_import(kwargs, message):
    kwargs = {"rationale": "x"} | kwargs
    with pytest.raises(CheckDefinitionError, match=message):

        @check(**kwargs)
        def test_something_new():
            pass


def test_the_old_controls_list_is_refused():
    """A check written in the old form (controls=[...]) fails at import instead of passing unmapped."""
    with pytest.raises(TypeError, match="controls"):
        check(severity="high", controls=["PCI-DSS-4.0:1.3.1"], rationale="x")  # type: ignore[call-arg]


def test_docs_checks_md_is_current():
    assert OUTPUT.exists() and OUTPUT.read_text() == render(), "docs/checks.md is stale: run `make docs`"
