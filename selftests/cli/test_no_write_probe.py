"""``--no-write-probe``: the run makes no write at all. The S3 write probe (the suite's one write)
is neither run nor started early, no PutObject/DeleteObject is made, and its check is reported
"not run" with that reason, in pytest's summary and in the control matrix, never as passed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from selftests.report.conftest import REPO, clean_env

CHECK = "test_transaction_bucket_stores_new_objects_with_environment_key"


def test_no_write_probe_reports_the_probe_not_run_and_writes_nothing(tmp_path: Path) -> None:
    results, run_dir, report = tmp_path / "allure", tmp_path / "run", tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "-n", "0", "--emulator", "--env=dev",
         "--no-write-probe", f"--alluredir={results}", f"--run-dir={run_dir}", "tests/storage"],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "not run: --no-write-probe" in output and "1 skipped" in output, output[-2000:]
    calls: dict[str, int] = {}  # the checks' own calls (the offline preparation deploys the stack first)
    for path in run_dir.rglob("api-calls-*.json"):
        calls.update(json.loads(path.read_text()))
    writes = {op: n for op, n in calls.items() if any(w in op for w in ("Put", "Delete", "Create", "Update"))}
    assert not writes, f"--no-write-probe made writes: {writes}"
    built = subprocess.run([sys.executable, "-m", "conformance.report", f"--results={results}", f"--out={report}"],
                           cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    rows = [r for r in csv.DictReader((report / "control-matrix.csv").open()) if r["check"] == CHECK]
    assert rows and {r["status dev"] for r in rows} == {"not run"}, rows
