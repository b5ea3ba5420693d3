"""The check registry: unique ids, valid metadata, and docs/checks.md generated from it and current."""

from __future__ import annotations

import pytest

from conformance.checks import CheckDefinitionError, check
from selftests.catalogue import OUTPUT, load_checks, render


def test_every_check_has_valid_metadata_and_a_unique_id():
    checks = load_checks()
    assert len(checks) >= 60
    for meta in checks.values():
        assert meta.id.startswith("test_")
        assert meta.controls and meta.rationale


def test_a_check_id_declared_twice_is_refused():
    load_checks()
    with pytest.raises(CheckDefinitionError, match="declared twice"):

        @check(severity="high", controls=["PCI-DSS-4.0:1.2.1"], rationale="duplicate")
        def test_vpc_cidr_matches_environment():  # same name as the real check, another module
            pass


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"severity": "urgent", "controls": ["PCI-DSS-4.0:1.2.1"], "rationale": "x"}, "severity"),
        ({"severity": "high", "controls": [], "rationale": "x"}, "at least one control"),
        ({"severity": "high", "controls": ["PCI 1.2.1"], "rationale": "x"}, "malformed control"),
        ({"severity": "high", "controls": ["CIS-AWS-3.0:5.2"], "rationale": "two\nlines"}, "one line"),
    ],
)
def test_malformed_metadata_is_refused_at_import(kwargs, message):
    with pytest.raises(CheckDefinitionError, match=message):

        @check(**kwargs)
        def test_something_new():
            pass


def test_docs_checks_md_is_current():
    assert OUTPUT.exists() and OUTPUT.read_text() == render(), "docs/checks.md is stale: run `make docs`"
