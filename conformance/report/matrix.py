"""The control matrix for auditors: for each PCI DSS / CIS control, the checks that serve it and
their outcome per environment, each linked to its result. Generated, do not edit.

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

from conformance.checks import REGISTRY, CheckMeta
from conformance.report.controls import Control, control
from conformance.report.model import OUTCOME_CSS, Model, Result, worst
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

    @property
    def css(self) -> str:
        return OUTCOME_CSS.get(self.outcome, "notrun")

    @property
    def title(self) -> str:
        return self.result.summary if self.result is not None else ""


@dataclass
class CheckRow:
    meta: CheckMeta
    cells: list[Cell]


@dataclass
class ControlRow:
    control: Control
    status: list[Cell]  # the control's own outcome per environment (worst of its checks')
    checks: list[CheckRow]


@dataclass
class Matrix:
    environments: list[str]
    controls: list[ControlRow]

    def totals(self) -> dict[str, Counter[str]]:
        """environment → outcome → number of controls."""
        return {env: Counter(row.status[i].outcome for row in self.controls) for i, env in enumerate(self.environments)}


def build_matrix(model: Model) -> Matrix:
    envs = model.environments
    by_control: dict[str, list[CheckMeta]] = defaultdict(list)
    for meta in model.registry.values():
        for cid in meta.controls:
            by_control[cid].append(meta)
    rows = []
    for cid in sorted(by_control, key=lambda c: control(c).sort_key):
        checks = []
        for meta in sorted(by_control[cid], key=lambda m: m.id):
            cells = []
            for env in envs:
                r = model.cell(meta, env)
                cells.append(Cell(r.outcome if r else "not run", r))
            checks.append(CheckRow(meta, cells))
        status = [Cell(worst([c.cells[i].outcome for c in checks]), None) for i in range(len(envs))]
        rows.append(ControlRow(control(cid), status, checks))
    return Matrix(envs, rows)


def write_csv(matrix: Matrix, path: Path, report_link: str = "html/index.html#testresult/") -> None:
    """One row per (control, check): the outcome per environment and the link to each result."""
    envs = matrix.environments
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["control", "framework", "requirement", "heading", "check", "suite", "severity", "rationale",
                    *[f"status {e}" for e in envs], *[f"result id {e}" for e in envs],
                    *[f"report {e}" for e in envs]])  # fmt: skip
        for row in matrix.controls:
            c = row.control
            for check in row.checks:
                m = check.meta
                w.writerow([c.id, c.framework, c.number, c.heading, m.id, m.suite, m.severity, m.rationale,
                            *[cell.outcome for cell in check.cells],
                            *[cell.result.uid if cell.result else "" for cell in check.cells],
                            *[f"{report_link}{c.result.uid}" if c.result else "" for c in check.cells]])  # fmt: skip
