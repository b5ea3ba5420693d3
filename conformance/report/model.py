"""What the report shows, read once from the generated Allure report and the runs' facts.

The Allure HTML report (``html/data/test-cases/<uid>.json``, ``html/data/attachments/``) is the
one source of results: the control matrix, the single-file report and the Allure pages all name a
result by the same id (Allure's test-case uid), so a link from any of them lands on the same result.
The runs' facts (``conformance-run-<run id>.json``, written by the controller) say what ran where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.checks import CheckMeta

ENV_ORDER = ("dev", "staging", "prod")
RUN_WIDE = "all"  # the environment label of checks that are not run per environment (template, consistency)
# the label of the account suite's results: "account <key>" (core.account), one column per account and region
ACCOUNT_COLUMN = "account "
ACCOUNT_SUITE = "account"


def is_account_column(column: str) -> bool:
    return column.startswith(ACCOUNT_COLUMN)


def in_scope(meta: CheckMeta, column: str) -> bool:
    """An account check is judged in the account columns only; every other check in the environments' columns."""
    return (meta.suite == ACCOUNT_SUITE) == is_account_column(column)


# Outcomes, worst first: a control's outcome in an environment is the worst of its checks'.
OUTCOME_ORDER = (
    "non-conformant", "probe error", "suite defect", "not observed", "not run", "conforms", "not applicable",
)  # fmt: skip
OUTCOME_CSS = {
    "non-conformant": "failed",
    "probe error": "broken",
    "suite defect": "broken",
    "not observed": "skipped",
    "not run": "notrun",
    "conforms": "passed",
    "not applicable": "na",
}
# A skipped check's reason says which of these it is (its first words)
NOT_APPLICABLE = "not applicable:"
NOT_RUN = "not run:"


@dataclass
class Attachment:
    uid: str
    name: str
    type: str
    content: str


@dataclass
class Result:
    uid: str  # Allure's test-case uid: the one id of this result in every page
    name: str
    check: str
    environment: str
    status: str  # Allure's: passed, failed, broken, skipped, unknown
    outcome: str  # ours, one of OUTCOME_ORDER
    message: str
    trace: str
    description: str
    severity: str  # the check's own word (critical, high, medium, low)
    suite: str
    controls: list[str]
    attachments: list[Attachment]
    start_ms: int | None
    stop_ms: int | None

    @property
    def summary(self) -> str:
        lines = self.message.strip().splitlines()
        return lines[0] if lines else ""


def _labels(case: dict[str, Any], name: str) -> list[str]:
    return [lab["value"] for lab in case.get("labels", []) if lab.get("name") == name]


def outcome_of(status: str, message: str, probe_error: bool) -> str:
    reason = message.strip().removeprefix("Skipped: ").strip()
    if status == "passed":
        return "conforms"
    if status == "failed":
        return "probe error" if probe_error else "non-conformant"
    if status == "broken":
        return "probe error" if probe_error or "ProbeError" in message else "suite defect"
    if status == "skipped":
        if reason.startswith(NOT_APPLICABLE):
            return "not applicable"
        if reason.startswith(NOT_RUN):
            return "not run"
        return "not observed"
    return "suite defect"  # unknown: the suite could not say


def load_results(report_html: Path) -> list[Result]:
    results: list[Result] = []
    attachments_dir = report_html / "data" / "attachments"
    for path in sorted((report_html / "data" / "test-cases").glob("*.json")):
        case = json.loads(path.read_text())
        checks = _labels(case, "check")
        if not checks:
            continue
        env = (_labels(case, "environment") or [RUN_WIDE])[0]
        message = case.get("statusMessage") or ""
        probe = "probe-error" in _labels(case, "conformance_outcome")
        atts = []
        stage = case.get("testStage") or {}
        for att in _stage_attachments(stage):
            source = attachments_dir / att["source"]
            content = source.read_text(errors="replace") if source.is_file() else ""
            atts.append(Attachment(att["uid"], att.get("name", ""), att.get("type", "text/plain"), content))
        time = case.get("time") or {}
        results.append(
            Result(
                uid=case["uid"], name=case["name"], check=checks[0], environment=env, status=case["status"],
                outcome=outcome_of(case["status"], message, probe), message=message,
                trace=case.get("statusTrace") or "", description=case.get("description") or "",
                severity=(_labels(case, "check_severity") or [""])[0],
                suite=(_labels(case, "feature") or [""])[0], controls=_labels(case, "control"),
                attachments=atts, start_ms=time.get("start"), stop_ms=time.get("stop"),
            )
        )  # fmt: skip
    return results


def _stage_attachments(stage: dict[str, Any]) -> list[dict[str, Any]]:
    out = list(stage.get("attachments") or [])
    for step in stage.get("steps") or []:
        out += _stage_attachments(step)
    return out


def load_runs(results_dir: Path | None) -> list[dict[str, Any]]:
    if results_dir is None or not results_dir.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(results_dir.glob("conformance-run-*.json"))]


@dataclass
class Model:
    results: list[Result]
    runs: list[dict[str, Any]]
    registry: dict[str, CheckMeta]
    by_key: dict[tuple[str, str], Result] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_key = {(r.check, r.environment): r for r in self.results}

    @property
    def environments(self) -> list[str]:
        """The environments that ran, in dev, staging, prod order (run-wide only when none did)."""
        names = {n for run in self.runs for n in run.get("environments", {})}
        names |= {r.environment for r in self.results if r.environment != RUN_WIDE}
        accounts = sorted(n for n in names if is_account_column(n))
        others = sorted(names - set(ENV_ORDER) - set(accounts))
        ordered = [e for e in ENV_ORDER if e in names] + others + accounts
        return ordered or [RUN_WIDE]

    def cell(self, meta: CheckMeta, env: str) -> Result | None:
        """The result that judges ``meta`` for ``env``: its own, or the run-wide one (template and
        consistency checks judge every environment of the run at once)."""
        return self.by_key.get((meta.id, env)) or self.by_key.get((meta.id, RUN_WIDE))

    @property
    def emulated(self) -> bool:
        return any(run.get("emulated") for run in self.runs)


def load_model(report_html: Path, results_dir: Path | None, registry: dict[str, CheckMeta]) -> Model:
    return Model(load_results(report_html), load_runs(results_dir), registry)


def worst(outcomes: list[str]) -> str:
    return min(outcomes, key=OUTCOME_ORDER.index) if outcomes else "not run"
