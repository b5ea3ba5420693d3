"""The template suite's fixtures: the template the run uses, as data, and cfn-lint's findings on it."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from core.template import load_template


@pytest.fixture(scope="session")
def template(template_path: Path) -> dict[str, Any]:
    return load_template(template_path)


@pytest.fixture(scope="session")
def cfn_lint_findings(template_path: Path, pytestconfig: pytest.Config) -> list[dict[str, Any]]:
    """cfn-lint's findings (errors, warnings and informational), cached by template hash and cfn-lint version.

    Linting costs seconds of CPU; an unchanged template linted by the same cfn-lint version gives the
    same answer, so the answer is kept under build/ (a changed template, or another version, lints again).
    """
    key = hashlib.sha256(template_path.read_bytes() + version("cfn-lint").encode()).hexdigest()[:32]
    cache = Path(str(pytestconfig.rootpath)) / "build" / "cfn-lint-cache" / f"{key}.json"
    if cache.exists():
        return list(json.loads(cache.read_text()))
    from cfnlint.api import ManualArgs, lint_file  # half a second to import: only when linting

    matches = lint_file(template_path, config=ManualArgs(regions=["us-east-1"]))
    findings = [
        {
            "rule": m.rule.id,
            "severity": m.rule.severity,
            "message": m.message,
            "path": "/".join(str(p) for p in (m.path or [])),
            "line": m.linenumber,
        }
        for m in matches
    ]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(findings))
    return findings
