"""The control matrix for auditors: for each PCI DSS / CIS requirement, the checks that serve it and
their outcome per environment, each linked to its result; then the operational checks, which serve
no requirement, in a section of their own. Generated, do not edit.

A requirement's status in an environment is the worst outcome of its *primary* checks (docs/controls.md):
a supporting check is shown under it with its own outcome, but does not set the status, and an
operational check never does. A requirement with supporting checks only says so ("no primary check").

Sources: the check registry (``conformance.checks.REGISTRY``, filled by importing the suites; a
check that did not run still appears, as "not run") and the report's results (``model``). A
run-wide check (the template suite, the consistency suite) judges every environment of the run at
once: its one result stands in each environment's column. A consistency check of a run with fewer
than two environments is "not applicable" (it skips with that reason), never "conforms".
"""

from __future__ import annotations

import csv
import importlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from conformance.checks import REGISTRY, CheckMeta, Link
from conformance.report.controls import Control, control
from conformance.report.model import OUTCOME_CSS, Model, Result, in_scope, is_account_column, worst
from core.spec import REPO_ROOT


def load_registry(tests_dir: Path = REPO_ROOT / "tests") -> dict[str, CheckMeta]:
    """Import every check module so the registry holds every check, run or not."""
    for path in sorted(tests_dir.rglob("test_*.py")):
        module = ".".join(path.relative_to(tests_dir.parent).with_suffix("").parts)
        importlib.import_module(module)
    return dict(REGISTRY)


@dataclass
class Cell:
    outcome: str
    result: Result | None  # None: the check did not run for this environment
    note: str = ""  # why a cell holds no result (a check of another scope)

    @property
    def css(self) -> str:
        return OUTCOME_CSS.get(self.outcome, "notrun")

    @property
    def title(self) -> str:
        return self.result.summary if self.result is not None else self.note


NO_PRIMARY = "no primary check"
# a check of another scope (an account check in an environment's column, or the reverse): it does not
# apply there, and a requirement whose primary checks are all of another scope is "not applicable" there
OTHER_SCOPE = "not applicable"  # a requirement only supporting checks link to: they set no status


@dataclass
class CheckRow:
    meta: CheckMeta
    cells: list[Cell]
    link: Link | None = None  # how the check serves the row's requirement; None in the operational section

    @property
    def kind(self) -> str:
        return self.link.kind if self.link else "operational"

    @property
    def why(self) -> str:
        return self.link.why if self.link else (self.meta.operational or "")


@dataclass
class ControlRow:
    control: Control
    status: list[Cell]  # the requirement's own outcome per environment: the worst of its primary checks'
    checks: list[CheckRow]  # primary checks first, then supporting ones


@dataclass
class Matrix:
    environments: list[str]
    controls: list[ControlRow]
    operational: list[CheckRow]  # checks that serve no requirement: never part of a requirement's status

    def totals(self) -> dict[str, Counter[str]]:
        """environment → outcome → number of requirements."""
        return {env: Counter(row.status[i].outcome for row in self.controls) for i, env in enumerate(self.environments)}

    def operational_totals(self) -> dict[str, Counter[str]]:
        """environment → outcome → number of operational checks."""
        rows = self.operational
        return {env: Counter(row.cells[i].outcome for row in rows) for i, env in enumerate(self.environments)}


def _cells(model: Model, meta: CheckMeta, envs: list[str]) -> list[Cell]:
    cells = []
    for env in envs:
        if not in_scope(meta, env):  # the account suite in an environment's column, or the reverse
            account = is_account_column(env)
            note = "judged per environment: see their columns" if account else "judged per account: see its column"
            cells.append(Cell(OTHER_SCOPE, None, note))
            continue
        r = model.cell(meta, env)
        cells.append(Cell(r.outcome if r else "not run", r))
    return cells


def status_of(checks: list[CheckRow], n_envs: int) -> list[Cell]:
    """A requirement's outcome per column: the worst of its primary checks' that apply there (supporting ones
    set nothing; "not applicable" where every check of the requirement is of another scope)."""
    cells = []
    for i in range(n_envs):
        applicable = [c for c in checks if not c.cells[i].note]  # a check of another scope has a note instead
        primaries = [c for c in applicable if c.kind == "primary"]
        if not applicable:
            cells.append(Cell(OTHER_SCOPE, None))
        elif not primaries:
            cells.append(Cell(NO_PRIMARY, None))
        else:
            cells.append(Cell(worst([c.cells[i].outcome for c in primaries]), None))
    return cells


def build_matrix(model: Model) -> Matrix:
    envs = model.environments
    by_control: dict[str, list[tuple[CheckMeta, Link]]] = defaultdict(list)
    operational = []
    for meta in sorted(model.registry.values(), key=lambda m: m.id):
        if meta.operational:
            operational.append(CheckRow(meta, _cells(model, meta, envs)))
            continue
        for link in meta.links:
            by_control[link.control].append((meta, link))
    rows = []
    for cid in sorted(by_control, key=lambda c: control(c).sort_key):
        ordered = sorted(by_control[cid], key=lambda ml: (ml[1].kind != "primary", ml[0].id))
        checks = [CheckRow(meta, _cells(model, meta, envs), link) for meta, link in ordered]
        rows.append(ControlRow(control(cid), status_of(checks, len(envs)), checks))
    operational.sort(key=lambda row: (row.meta.suite, row.meta.id))
    return Matrix(envs, rows, operational)


def write_csv(matrix: Matrix, path: Path, report_link: str = "html/index.html#testresult/") -> None:
    """One row per (requirement, check), then one per operational check (control "operational"): the link's
    kind and justification (or the operational reason), the outcome per environment and each result's link."""
    envs = matrix.environments
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["control", "framework", "requirement", "title", "heading", "check", "link", "why", "suite",
                    "severity", "rationale", *[f"requirement status {e}" for e in envs],
                    *[f"status {e}" for e in envs], *[f"result id {e}" for e in envs],
                    *[f"report {e}" for e in envs]])  # fmt: skip
        rows: list[tuple[list[str], list[str], CheckRow]] = [
            ([row.control.id, row.control.framework, row.control.number, row.control.title, row.control.heading],
             [cell.outcome for cell in row.status], check)
            for row in matrix.controls for check in row.checks
        ]  # fmt: skip
        rows += [(["operational", "", "", "", ""], ["" for _ in envs], check) for check in matrix.operational]
        for ident, statuses, check in rows:
            m = check.meta
            w.writerow([*ident, m.id, check.kind, check.why, m.suite, m.severity, m.rationale, *statuses,
                        *[cell.outcome for cell in check.cells],
                        *[cell.result.uid if cell.result else "" for cell in check.cells],
                        *[f"{report_link}{x.result.uid}" if x.result else "" for x in check.cells]])  # fmt: skip
