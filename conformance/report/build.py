"""Build the report from Allure results, offline.

1. Merge the results directories given (one per nightly environment job, or the local run's)
   into ``build/report/results/``; rewrite ``environment.properties`` from every run's
   ``conformance-run-*.json``; write ``categories.json``.
2. Carry trend history: copy ``history/`` of the previous report (``build/report/html`` by
   default, or ``--history-from``) into the merged results.
3. Generate the HTML report into ``build/report/html/`` and its single-file form into
   ``build/report/single/index.html`` with Allure 2 (the pinned npm ``allure-commandline``,
   Java 17) and ``ALLURE_NO_ANALYTICS=true``: opening the report makes no request outside it.
4. Write the control matrix (``build/report/control-matrix.html`` and ``.csv``, and a copy of
   the HTML inside the report) from the check registry and the generated report's results.
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

from conformance.report.matrix import write_matrix
from conformance.report.metadata import write_results_metadata
from core.spec import REPO_ROOT

ALLURE = REPO_ROOT / "node_modules" / ".bin" / "allure"
BUILD = REPO_ROOT / "build"


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


def generate(results: Path, out: Path, *, single_file: bool) -> None:
    if not ALLURE.exists():
        raise SystemExit(f"report: {ALLURE} is missing; run `make report-tools` (npm ci of package-lock.json)")
    args = [str(ALLURE), "generate", str(results), "--clean", "-o", str(out)]
    if single_file:
        args.append("--single-file")
    done = subprocess.run(args, env=allure_env(), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"report: allure generate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.report", description=__doc__.splitlines()[0])
    p.add_argument("--results", action="append", type=Path, help="Allure results (repeatable; build/allure-results)")
    p.add_argument("--out", type=Path, default=BUILD / "report", help="report folder (build/report)")
    p.add_argument("--history-from", type=Path, help="previous HTML report whose history/ to carry (default: OUT/html)")
    p.add_argument("--no-single-file", action="store_true", help="skip the single-file report")
    ns = p.parse_args(argv)
    started = time.monotonic()
    sources = ns.results or [BUILD / "allure-results"]
    missing = [s for s in sources if not s.is_dir() or not any(s.glob("*-result.json"))]
    if missing:
        print(f"report: no Allure results in {', '.join(map(str, missing))}; run the suite first", file=sys.stderr)
        return 4
    out: Path = ns.out
    html, single, merged = out / "html", out / "single", out / "results"
    count = merge_results(sources, merged)
    history_src = ns.history_from or html
    carried = carry_history(history_src, merged)
    generate(merged, html, single_file=False)
    if not ns.no_single_file:
        generate(merged, single, single_file=True)
    rows = write_matrix(html, out)
    seconds = time.monotonic() - started
    history = f"carried from {history_src}" if carried else "started (no previous report)"
    print(f"report: {count} results from {', '.join(map(str, sources))}; history {history}")
    print(f"report: HTML {html / 'index.html'}")
    if not ns.no_single_file:
        print(f"report: single file {single / 'index.html'}")
    print(f"report: control matrix {out / 'control-matrix.html'} and .csv ({rows} controls)")
    print(f"report: built in {seconds:.1f} s")
    return 0
