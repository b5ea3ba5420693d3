"""Trend history is carried from one report build to the next (the previous report's history/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from selftests.report.conftest import REPO, AttachRun, clean_env


def test_second_build_carries_the_first_builds_history(attach_run: AttachRun, tmp_path: Path) -> None:
    out = tmp_path / "report"
    shutil.copytree(attach_run.report / "html", out / "html")
    first = json.loads((out / "html" / "history" / "history-trend.json").read_text())
    done = subprocess.run(
        [sys.executable, "-m", "conformance.report", f"--results={attach_run.results}", f"--out={out}"],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "history carried from" in done.stdout
    trend = json.loads((out / "html" / "history" / "history-trend.json").read_text())
    assert len(trend) == len(first) + 1, f"trend points: {len(first)} before, {len(trend)} after"
    assert "non-conformant" in (out / "control-matrix.csv").read_text()  # the CSV carries outcomes
