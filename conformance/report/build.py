"""Build the report from Allure results, offline.

1. Merge the results directories given (one per nightly environment job, or the local run's)
   into ``build/report/results/``; rewrite ``environment.properties`` from every run's
   ``conformance-run-*.json``; write ``categories.json``.
2. Carry trend history: copy ``history/`` of the previous report (``build/report/html`` by
   default, or ``--history-from``) into the merged results.
3. Generate the HTML report into ``build/report/html/`` with Allure 2 (the pinned npm
   ``allure-commandline``, Java 17) and ``ALLURE_NO_ANALYTICS=true`` (served over HTTP or
   published: it loads its data with requests, which a browser refuses to a page opened from disk).
   Fixture set-up and tear-down records are left out (they are the suite's plumbing, not evidence),
   and Allure's own severity scale is not shown: a check's severity is its own word (a tag).
4. Write the control matrix (``build/report/control-matrix.html`` and ``.csv``, and a copy of
   the HTML inside the report) and the one file an auditor keeps,
   ``build/report/conformance-report.html`` (overview, matrix, every check and its evidence,
   opened from disk), from the check registry and the generated report's results: every page
   names a result by the same id (Allure's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conformance.report.matrix import build_matrix, load_registry, write_csv
from conformance.report.metadata import write_results_metadata
from conformance.report.model import load_model
from conformance.report.render import (
    add_identity_to_allure,
    summary_markdown,
    write_matrix_html,
    write_single_file,
)
from core.spec import REPO_ROOT

ALLURE = REPO_ROOT / "node_modules" / ".bin" / "allure"
BUILD = REPO_ROOT / "build"
SINGLE_FILE = "conformance-report.html"


def allure_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ALLURE_NO_ANALYTICS"] = "true"  # "1" is not honoured by the HTML side
    return env


def merge_results(sources: list[Path], merged: Path) -> int:
    if merged.exists():
        shutil.rmtree(merged)
    merged.mkdir(parents=True)
    count = 0
    for src in sources:
        for path in src.rglob("*"):
            if path.is_file() and "history" not in path.relative_to(src).parts[:-1]:
                if path.name in ("environment.properties", "categories.json", "executor.json"):
                    continue
                if path.name.endswith("-container.json"):  # fixture set-up/tear-down records: no evidence
                    continue
                shutil.copy2(path, merged / path.name)
                count += path.name.endswith("-result.json")
    runs = [json.loads(p.read_text()) for p in sorted(merged.glob("conformance-run-*.json"))]
    write_results_metadata(merged, runs)
    for src in sources:  # the CI executor of the first source that has one
        if (src / "executor.json").exists():
            shutil.copy2(src / "executor.json", merged / "executor.json")
            break
    return count


def carry_history(previous_report: Path | None, merged: Path) -> bool:
    if previous_report is None or not (previous_report / "history").is_dir():
        return False
    shutil.copytree(previous_report / "history", merged / "history", dirs_exist_ok=True)
    return True


def generate(results: Path, out: Path) -> None:
    if not ALLURE.exists():
        raise SystemExit(f"report: {ALLURE} is missing; run `make report-tools` (npm ci of package-lock.json)")
    args = [str(ALLURE), "generate", str(results), "--clean", "-o", str(out)]
    done = subprocess.run(args, env=allure_env(), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"report: allure generate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def drop_allure_severity(report_html: Path) -> None:
    """Allure knows blocker/critical/normal/minor/trivial, not the checks' critical/high/medium/low:
    its mapped word (a high check shown as "critical") is removed, the check's own is its tag."""
    for path in (report_html / "data" / "test-cases").glob("*.json"):
        case = json.loads(path.read_text())
        extra = case.get("extra") or {}
        if "severity" in extra:
            del extra["severity"]
            path.write_text(json.dumps(case))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.report", description=__doc__.splitlines()[0])
    p.add_argument("--results", action="append", type=Path, help="Allure results (repeatable; build/allure-results)")
    p.add_argument("--out", type=Path, default=BUILD / "report", help="report folder (build/report)")
    p.add_argument("--history-from", type=Path, help="previous HTML report whose history/ to carry (default: OUT/html)")
    ns = p.parse_args(argv)
    started = time.monotonic()
    sources = ns.results or [BUILD / "allure-results"]
    missing = [s for s in sources if not s.is_dir() or not any(s.glob("*-result.json"))]
    if missing:
        print(f"report: no Allure results in {', '.join(map(str, missing))}; run the suite first", file=sys.stderr)
        return 4
    out: Path = ns.out
    html, merged = out / "html", out / "results"
    count = merge_results(sources, merged)
    history_src = ns.history_from or html
    carried = carry_history(history_src, merged)
    generate(merged, html)
    drop_allure_severity(html)
    model = load_model(html, merged, load_registry())
    matrix = build_matrix(model)
    write_csv(matrix, out / "control-matrix.csv")
    write_matrix_html(matrix, model, out / "control-matrix.html", "html/index.html")
    write_matrix_html(matrix, model, html / "control-matrix.html", "index.html")
    single = out / SINGLE_FILE
    write_single_file(matrix, model, single)
    add_identity_to_allure(model, html)
    (out / "summary.md").write_text(summary_markdown(model, matrix))
    seconds = time.monotonic() - started
    history = f"carried from {history_src}" if carried else "started (no previous report)"
    print(f"report: {count} results from {', '.join(map(str, sources))}; history {history}")
    run_ids = [run.get("run_id", "?") for run in model.runs]
    print(f"report: {len(run_ids)} run(s): {', '.join(run_ids) or 'none named (no conformance-run-*.json)'}")
    print(f"report: HTML {html / 'index.html'}")
    print(
        f"report: control matrix {out / 'control-matrix.html'} and .csv ({len(matrix.controls)} requirements, "
        f"{len(matrix.operational)} operational checks)"
    )
    print(f"report: verdict per environment (Markdown, for CI job summaries) {out / 'summary.md'}")
    print(f"report: the one file to keep (opens from disk, no request): {single}")
    print(f"report: built in {seconds:.1f} s")
    return 0
