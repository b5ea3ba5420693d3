"""The control matrix for auditors: for each PCI DSS / CIS control, the checks that serve it and
their status per environment, with links into the report. Generated, do not edit.

Sources: the check registry (``conformance.checks.REGISTRY``, filled by importing the suites;
a check that did not run still appears, as "not run") and the generated Allure report's test
cases (status and the report's own id of each result, for the links).
"""

from __future__ import annotations

import csv
import html
import importlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from conformance.checks import REGISTRY, CheckMeta
from conformance.report.controls import control
from core.spec import REPO_ROOT

ENV_ORDER = ("dev", "staging", "prod", "all")
# worst first: a control's status per environment is the worst of its checks'
STATUS_ORDER = ("failed", "broken", "unknown", "skipped", "passed", "not run")
STATUS_TEXT = {
    "passed": "conforms",
    "failed": "NON-CONFORMANT",
    "broken": "probe error",
    "skipped": "not observed",
    "unknown": "unknown",
    "not run": "not run",
}


@dataclass
class Result:
    status: str
    uid: str
    message: str


def load_registry(tests_dir: Path = REPO_ROOT / "tests") -> dict[str, CheckMeta]:
    """Import every check module so the registry holds every check, run or not."""
    for path in sorted(tests_dir.rglob("test_*.py")):
        module = ".".join(path.relative_to(tests_dir.parent).with_suffix("").parts)
        importlib.import_module(module)
    return dict(REGISTRY)


def _label(case: dict, name: str) -> str | None:
    return next((lab["value"] for lab in case.get("labels", []) if lab["name"] == name), None)


def load_results(report_html: Path) -> dict[tuple[str, str], Result]:
    """(check id, environment) → result, from the generated report's test cases."""
    results: dict[tuple[str, str], Result] = {}
    for path in sorted((report_html / "data" / "test-cases").glob("*.json")):
        case = json.loads(path.read_text())
        check, env = _label(case, "check"), _label(case, "environment")
        if not check or not env:
            continue
        if _label(case, "conformance_outcome") == "probe-error" and case["status"] == "failed":
            case["status"] = "broken"
        message = (case.get("statusMessage") or "").strip().splitlines()
        results[(check, env)] = Result(case["status"], case["uid"], message[0] if message else "")
    return results


def _worst(statuses: list[str]) -> str:
    return min(statuses, key=STATUS_ORDER.index) if statuses else "not run"


def write_matrix(report_html: Path, out: Path) -> int:
    registry = load_registry()
    results = load_results(report_html)
    envs = [e for e in ENV_ORDER if any(env == e for _, env in results)]
    envs += sorted({env for _, env in results} - set(envs))
    by_control: dict[str, list[CheckMeta]] = defaultdict(list)
    for meta in registry.values():
        for cid in meta.controls:
            by_control[cid].append(meta)
    controls = sorted(by_control, key=lambda c: control(c).sort_key)

    def cell(meta: CheckMeta, env: str) -> Result | None:
        if meta.suite == "consistency":
            return results.get((meta.id, env)) if env == "all" else None
        return results.get((meta.id, env)) if env != "all" else None

    # CSV: one row per (control, check)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "control-matrix.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["control", "framework", "requirement", "heading", "check", "suite", "severity", "rationale",
                    *[f"status {e}" for e in envs], *[f"report {e}" for e in envs]])  # fmt: skip
        for cid in controls:
            c = control(cid)
            for meta in sorted(by_control[cid], key=lambda m: m.id):
                cells = [cell(meta, e) for e in envs]
                w.writerow([cid, c.framework, c.number, c.heading, meta.id, meta.suite, meta.severity, meta.rationale,
                            *[r.status if r else ("n/a" if _not_applicable(meta, e) else "not run")
                              for r, e in zip(cells, envs, strict=True)],
                            *[f"html/index.html#testresult/{r.uid}" if r else "" for r in cells]])  # fmt: skip

    for target, prefix in ((out / "control-matrix.html", "html/"), (report_html / "control-matrix.html", "")):
        target.write_text(_html(controls, by_control, envs, cell, prefix))
    return len(controls)


def _not_applicable(meta: CheckMeta, env: str) -> bool:
    return (meta.suite == "consistency") != (env == "all")


def _html(controls, by_control, envs, cell, prefix: str) -> str:
    e = html.escape
    rows: list[str] = []
    totals: dict[str, int] = defaultdict(int)
    for cid in controls:
        c = control(cid)
        metas = sorted(by_control[cid], key=lambda m: m.id)
        env_status = {
            env: _worst([r.status for m in metas if (r := cell(m, env)) is not None])
            if any(not _not_applicable(m, env) for m in metas) else "n/a"
            for env in envs
        }  # fmt: skip
        for st in env_status.values():
            totals[st] += 1
        head = (
            f'<tr class="control"><th rowspan="{len(metas) + 1}" id="{e(cid)}">'
            f'<a href="{e(c.url)}" rel="noreferrer">{e(c.label)}</a><br><small>{e(c.heading)}</small></th>'
            f"<td><b>control status</b></td>"
            + "".join(f'<td class="{_css(s)}"><b>{e(STATUS_TEXT.get(s, s))}</b></td>' for s in env_status.values())
            + "</tr>"
        )
        rows.append(head)
        for m in metas:
            tds = []
            for env in envs:
                r = cell(m, env)
                if r is None:
                    s = "n/a" if _not_applicable(m, env) else "not run"
                    tds.append(f'<td class="{_css(s)}">{e(s)}</td>')
                else:
                    tip = f' title="{e(r.message)}"' if r.message else ""
                    tds.append(
                        f'<td class="{_css(r.status)}"{tip}><a href="{prefix}index.html#testresult/{e(r.uid)}">'
                        f"{e(STATUS_TEXT.get(r.status, r.status))}</a></td>"
                    )
            rows.append(
                f"<tr><td><code>{e(m.id)}</code> <small>({e(m.suite)}, {e(m.severity)})</small>"
                f"<br><small>{e(m.rationale)}</small></td>{''.join(tds)}</tr>"
            )
    env_heads = "".join(f"<th>{e(env if env != 'all' else 'all (consistency)')}</th>" for env in envs)
    summary = ", ".join(f"{n} {e(STATUS_TEXT.get(s, s))}" for s, n in sorted(totals.items()))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Control matrix: payments platform conformance</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'unsafe-inline'">
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222 }}
table {{ border-collapse: collapse; width: 100% }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left }}
th {{ background: #f4f4f4 }} tr.control td {{ background: #fafafa }}
.passed {{ color: #1a7f37 }} .failed {{ color: #fff; background: #cf222e !important }}
.failed a {{ color: #fff }} .broken {{ background: #fff8c5 !important }}
.skipped, .not-run, .n-a {{ color: #777 }}
</style></head><body>
<h1>Control matrix</h1>
<p>For each PCI DSS v4.0 and CIS AWS Foundations Benchmark v3.0 control: the checks that serve it and
their status per environment, linked to the result and its evidence in the <a href="{prefix}index.html">report</a>.
A control's status is the worst of its checks' (non-conformant &gt; probe error &gt; not observed &gt; conforms).
Generated by <code>python -m conformance.report</code> from the check registry and the results; do not edit.
Also as CSV: <code>control-matrix.csv</code>.</p>
<p>{len(controls)} controls; per environment: {summary}.</p>
<table><thead><tr><th>control</th><th>check</th>{env_heads}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""


def _css(status: str) -> str:
    return status.replace(" ", "-").replace("/", "-")
