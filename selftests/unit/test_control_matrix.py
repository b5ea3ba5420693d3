"""The control matrix's statuses: a requirement's status comes from its primary checks only, an
operational check never sets one, and a supporting check is shown without setting it.

Built from the real check registry and results in the report's own model (what the report reads
from Allure's test cases), one result per check and environment."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from conformance.checks import CheckMeta
from conformance.report.matrix import NO_PRIMARY, OTHER_SCOPE, Matrix, build_matrix, write_csv
from conformance.report.model import ACCOUNT_COLUMN, RUN_WIDE, Model, Result
from selftests.catalogue import load_checks

ENVS = ("dev", "staging", "prod")
ACCOUNT = f"{ACCOUNT_COLUMN}us-east-1"  # the account suite's column (one account and region)
COLUMNS = (*ENVS, ACCOUNT)


def _result(meta: CheckMeta, env: str, outcome: str) -> Result:
    status = {"conforms": "passed", "non-conformant": "failed"}[outcome]
    return Result(
        uid=f"{meta.id}-{env}", name=f"{meta.id}[{env}]", check=meta.id, environment=env, status=status,
        outcome=outcome, message="" if outcome == "conforms" else f"{meta.id} failed in {env}", trace="",
        description=meta.rationale, severity=meta.severity, suite=meta.suite, controls=list(meta.controls),
        attachments=[], start_ms=None, stop_ms=None,
    )  # fmt: skip


def _matrix(failing: dict[str, str] | None = None) -> Matrix:
    """Every check conforms everywhere, but ``failing`` (check id -> environment)."""
    registry = load_checks()
    failing = failing or {}
    results = []
    for meta in registry.values():
        envs = (RUN_WIDE,) if meta.suite in ("template", "consistency") else ENVS
        envs = (ACCOUNT,) if meta.suite == "account" else envs
        for env in envs:
            bad = failing.get(meta.id) == env or (env == RUN_WIDE and meta.id in failing)
            results.append(_result(meta, env, "non-conformant" if bad else "conforms"))
    runs: list[dict[str, Any]] = [{"environments": {e: {} for e in COLUMNS}}]
    return build_matrix(Model(results, runs, registry))


def _statuses(matrix: Matrix) -> dict[str, list[str]]:
    return {row.control.id: [cell.outcome for cell in row.status] for row in matrix.controls}


def test_only_an_operational_check_failing_leaves_every_requirement_as_it_was():
    registry = load_checks()
    operational = sorted(m.id for m in registry.values() if m.operational and m.suite not in ("consistency",))
    assert operational, "no operational check to fail"
    green = _matrix()
    red = _matrix({cid: "prod" for cid in operational})
    assert _statuses(red) == _statuses(green)
    assert all(o in ("conforms", NO_PRIMARY, OTHER_SCOPE) for outcomes in _statuses(red).values() for o in outcomes)
    failed = {row.meta.id for row in red.operational if row.cells[ENVS.index("prod")].outcome == "non-conformant"}
    assert failed == set(operational), "the operational section shows the failures"
    listed = {check.meta.id for row in red.controls for check in row.checks}
    assert not listed & set(operational), "an operational check sits under a requirement"


def test_a_requirement_takes_the_outcome_of_its_primary_checks_only():
    registry = load_checks()
    supporting_only = {
        lk.control: m.id
        for m in registry.values()
        for lk in m.links
        if lk.kind == "supporting" and m.suite not in ("template", "consistency", "account")
    }
    primaries = {lk.control for m in registry.values() for lk in m.links if lk.kind == "primary"}
    control, check = next((c, m) for c, m in sorted(supporting_only.items()) if c in primaries)
    # a supporting check fails in dev: its requirement still conforms there, the check's own cell says why to look
    matrix = _matrix({check: "dev"})
    row = next(r for r in matrix.controls if r.control.id == control)
    assert [c.outcome for c in row.status][:3] == ["conforms"] * 3
    own = next(c for c in row.checks if c.meta.id == check)
    assert own.kind == "supporting" and own.cells[0].outcome == "non-conformant"
    # a primary check fails in dev: its requirement is non-conformant in dev only
    primary_check = next(
        c.meta.id
        for c in row.checks
        if c.kind == "primary" and c.meta.suite not in ("template", "consistency", "account")
    )
    matrix = _matrix({primary_check: "dev"})
    row = next(r for r in matrix.controls if r.control.id == control)
    assert [c.outcome for c in row.status][:3] == ["non-conformant", "conforms", "conforms"]


def test_a_requirement_with_supporting_checks_only_says_so():
    """Per column: of the checks that apply there, none primary -> "no primary check"; none at all (only
    checks of the other scope: the account suite, or the environments') -> "not applicable"."""
    matrix = _matrix()
    for row in matrix.controls:
        for i, column in enumerate(COLUMNS):
            applicable = [c for c in row.checks if (c.meta.suite == "account") == (column == ACCOUNT)]
            expected = (
                OTHER_SCOPE if not applicable
                else NO_PRIMARY if not any(c.kind == "primary" for c in applicable)
                else "conforms"
            )  # fmt: skip
            assert row.status[i].outcome == expected, (row.control.id, column)


def test_an_account_check_sets_its_requirement_in_the_account_column_only():
    registry = load_checks()
    check = next(m for m in sorted(registry.values(), key=lambda m: m.id) if m.suite == "account" and m.links)
    control = next(lk.control for lk in check.links if lk.kind == "primary")
    matrix = _matrix({check.id: ACCOUNT})
    row = next(r for r in matrix.controls if r.control.id == control)
    assert row.status[COLUMNS.index(ACCOUNT)].outcome == "non-conformant"
    own = next(c for c in row.checks if c.meta.id == check.id)
    assert [c.outcome for c in own.cells] == [OTHER_SCOPE] * 3 + ["non-conformant"]
    assert all("see its column" in c.title for c in own.cells[:3])
    # an environment's check never stands in the account column
    env_check = next(c for r in matrix.controls for c in r.checks if c.meta.suite == "network")
    assert env_check.cells[COLUMNS.index(ACCOUNT)].outcome == OTHER_SCOPE


def test_the_csv_names_each_link_and_the_operational_checks(tmp_path: Path):
    matrix = _matrix()
    write_csv(matrix, tmp_path / "m.csv")
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert {r["link"] for r in rows} == {"primary", "supporting", "operational"}
    assert all(r["why"] for r in rows)
    ops = [r for r in rows if r["control"] == "operational"]
    assert len(ops) == len(matrix.operational) and all(r["link"] == "operational" for r in ops)
    assert all(r["title"] for r in rows if r["control"] != "operational")
